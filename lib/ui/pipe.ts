/**
 * Pipe mode: each input line is a message; each received message is printed on its own line.
 * Status goes to stderr, so stdout carries only what the peer said.
 */
import { finish, type LineOptions } from "./json.ts";
import { MAX_TEXT_BYTES } from "../peer.ts";
import { visible } from "./format.ts";

export async function runPipe(o: LineOptions): Promise<number> {
  let refused = 0;
  o.peer.on((e) => {
    // On a terminal the peer's control characters are shown, never obeyed (as in the terminal
    // interface); into a file or a pipe the text goes as it came.
    if (e.type === "message") o.out.write((o.terminal ? visible(e.text) : e.text) + "\n");
    else if (e.type === "ready") {
      if (!o.peer.online) o.log.write(`chatnet: waiting for ${e.peer}…\n`);
    } else if (e.type === "peer") o.log.write(`chatnet: peer ${e.state}\n`);
    else if (e.type === "moved") o.log.write(`chatnet: peer moved from ${e.from} to ${e.to}\n`);
    else if (e.type === "error") {
      if (e.code === "too_long") refused++;
      const warning = e.code === "state_write_failed" ? "warning: " : "";
      o.log.write(`chatnet: ${warning}${e.message}\n`);
    } else if (e.type === "file_received") o.log.write(`chatnet: received ${e.name} → ${e.path}\n`);
  });
  o.peer.start();
  for await (const line of o.input) {
    if (typeof line === "string") o.peer.send(line);
    else {
      refused++;
      o.log.write(
        `chatnet: Cannot send message: ${line.overlong} characters is over the ` +
          `${MAX_TEXT_BYTES}-byte limit; skipped\n`,
      );
    }
  }
  const code = await finish(o);
  // A refused line was not sent: the run did not do what it was given.
  return refused ? 1 : code;
}
