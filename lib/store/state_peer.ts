/**
 * Which peer a state directory belongs to. Its journal holds what waits for that peer (messages
 * not yet delivered, files not yet sent), so a directory given to a chat with another peer must
 * not hand them over: `peer` in the directory names the address it was last used with
 * ("10.0.0.2:9000"), and a start with another address is refused while anything waits. With
 * nothing waiting the directory simply follows the new peer.
 */
import { join } from "node:path";
import { type Fs, fsError, PRIVATE_FILE } from "./fs.ts";
import { countsText, writeAllSync } from "../bytes.ts";

const FILE = "peer";

/** Why the directory cannot be used for `peer`, or undefined (then `peer` is noted in it). */
export function claimStateFor(
  o: { dir: string; peer: string; waiting: { messages: number; files: number }; fs: Fs },
): string | undefined {
  const path = join(o.dir, FILE);
  let kept: string | undefined;
  try {
    kept = new TextDecoder().decode(o.fs.readFileSync(path)).trim();
  } catch (e) {
    if (fsError(e) !== "not_found") throw e;
  }
  const { messages, files } = o.waiting;
  if (kept && kept !== o.peer && messages + files > 0) {
    const what = countsText([[messages, "message", "messages"], [files, "file", "files"]]);
    return `Cannot use state directory ${o.dir} for ${o.peer}: it holds ${what} waiting for ` +
      `${kept}; chat with ${kept} to deliver them, or give this chat another --state-dir`;
  }
  if (kept !== o.peer) {
    const f = o.fs.openSync(path, {
      write: true,
      create: true,
      truncate: true,
      mode: PRIVATE_FILE,
    });
    try {
      writeAllSync(f, o.peer + "\n");
    } finally {
      f.close();
    }
  }
  return undefined;
}
