/**
 * One-shot `--send PATH…`: offer the files, wait until the peer has verified each one, print a
 * line per file, and exit 0 only if every file arrived intact.
 */
import { finish, type LineOptions, REFUSED_CODES, transfersDone } from "./json.ts";

export async function runSend(o: LineOptions & { paths: string[] }): Promise<number> {
  let failed = 0;
  o.peer.on((e) => {
    if (e.type === "file_sent") {
      o.out.write(`sent ${e.name} (${e.size} bytes, sha256 ${e.sha256})\n`);
    } else if (e.type === "peer") o.log.write(`chatnet: peer ${e.state}\n`);
    else if (e.type === "moved") o.log.write(`chatnet: peer moved from ${e.from} to ${e.to}\n`);
    else if (e.type === "error") {
      if (REFUSED_CODES.has(e.code) && e.direction !== "receive") failed++;
      o.log.write(`chatnet: ${e.message}\n`);
    }
  });
  o.peer.start();
  await o.peer.sendFiles(o.paths);
  if (!await transfersDone(o.peer, o.timeoutMs)) {
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
