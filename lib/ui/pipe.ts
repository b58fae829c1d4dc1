/**
 * Pipe mode: each input line is a message; each received message is printed on its own line.
 * Status goes to stderr, so stdout carries only what the peer said.
 */
import { finish, type LineOptions } from "./json.ts";

export async function runPipe(o: LineOptions): Promise<number> {
  o.peer.on((e) => {
    if (e.type === "message") o.out.write(e.text + "\n");
    else if (e.type === "peer") o.log.write(`chatnet: peer ${e.state}\n`);
    else if (e.type === "error") o.log.write(`chatnet: ${e.message}\n`);
    else if (e.type === "file_received") o.log.write(`chatnet: received ${e.name} → ${e.path}\n`);
  });
  o.peer.start();
  for await (const line of o.input) o.peer.send(line);
  return await finish(o);
}
