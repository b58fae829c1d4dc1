/**
 * One-shot `--send PATH…`: offer the files, wait until the peer has verified each one, print a
 * line per file, and exit 0 only if every file arrived intact.
 */
import { finish, type LineOptions, REFUSED_CODES, transfersDone } from "./json.ts";
import { formatBar, peerStatus, statusLine, visible } from "./format.ts";

export interface SendOptions extends LineOptions {
  paths: string[];
  /** stderr is a terminal this wide: a progress bar is drawn there, on one line. */
  barColumns?: () => number;
}

export async function runSend(o: SendOptions): Promise<number> {
  let failed = 0;
  let shown: string | undefined;
  let bar = false;
  /** Clears the bar's line before anything else is written. */
  const unbar = () => {
    if (bar) o.log.write("\r\x1b[2K");
    bar = false;
  };
  const say = (text: string) => (unbar(), o.log.write(statusLine(text)));
  o.peer.on((e) => {
    if (e.type === "progress" && o.barColumns && e.direction === "send") {
      o.log.write(`\r\x1b[2K${formatBar(e, o.barColumns() - 1)}`);
      bar = true;
    } else if (e.type === "file_sent") {
      unbar();
      const name = visible(e.name).replaceAll("\n", "^J");
      o.out.write(`sent ${name} (${e.size} bytes, sha256 ${e.sha256})\n`);
    } else if (e.type === "ready") {
      if (!o.peer.online) say(`waiting for ${e.peer}…`);
    } else if (e.type === "peer") {
      const line = peerStatus(e, shown);
      shown = e.state;
      if (line) say(line);
    } else if (e.type === "moved") say(`peer moved from ${e.from} to ${e.to}`);
    else if (e.type === "notice") say(e.message);
    else if (e.type === "error") {
      if (REFUSED_CODES.has(e.code) && e.direction !== "receive") failed++;
      say(e.message);
    }
  });
  o.peer.start();
  await o.peer.sendFiles(o.paths);
  const done = await transfersDone(o.peer, o.timeoutMs);
  unbar();
  if (!done) {
    const n = o.peer.transfers;
    o.log.write(
      `chatnet: gave up: the peer was unreachable for ${o.timeoutMs / 1000} s; ` +
        (o.peer.keeping
          ? `${n === 1 ? "the file is" : `${n} files are`} kept and sent the next time chatnet ` +
            "runs with this peer (sending the same path again does not send it twice)\n"
          : "the files are not kept: the state directory cannot be written\n"),
    );
    o.peer.close();
    return 1;
  }
  const code = await finish(o);
  return failed ? 1 : code;
}
