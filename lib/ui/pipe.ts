/**
 * Pipe mode: each input line is a message; each received message is printed on its own line.
 * Status goes to stderr, so stdout carries only what the peer said.
 */
import { finish, type LineOptions } from "./json.ts";
import { MAX_TEXT_BYTES } from "../peer.ts";
import { bytesText } from "../bytes.ts";
import { errorLabel, peerStatus, statusLine, visible } from "./format.ts";

export async function runPipe(o: LineOptions): Promise<number> {
  let refused = 0;
  let shown: string | undefined;
  const say = (text: string) => o.log.write(statusLine(text));
  o.peer.on((e) => {
    // On a terminal the peer's control characters are shown, never obeyed (as in the terminal
    // interface); into a file or a pipe the text goes as it came.
    if (e.type === "message") o.out.write((o.terminal ? visible(e.text) : e.text) + "\n");
    else if (e.type === "ready") {
      if (!o.peer.online) say(`waiting for ${e.peer}…`);
    } else if (e.type === "peer") {
      const line = peerStatus(e, shown);
      shown = e.state;
      if (line) say(line);
    } else if (e.type === "moved") say(`peer moved from ${e.from} to ${e.to}`);
    else if (e.type === "notice") say(e.message);
    else if (e.type === "error") {
      if (e.code === "too_long") refused++;
      const label = errorLabel(e.code);
      say(`${label === "warning: " ? label : ""}${e.message}`);
    } else if (e.type === "file_received") say(`received ${e.name} → ${e.path}`);
  });
  o.peer.start();
  for await (const line of o.input) {
    if (typeof line === "string") o.peer.send(line);
    else {
      refused++;
      o.log.write(
        `chatnet: Cannot send message: ${
          line.overlong.toLocaleString("en")
        } characters is over the ` +
          `limit of ${bytesText(MAX_TEXT_BYTES)}; skipped\n`,
      );
    }
  }
  const code = await finish(o);
  // A refused line was not sent: the run did not do what it was given.
  return refused ? 1 : code;
}
