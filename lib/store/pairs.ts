/**
 * Paired peers: name → long-term secret, in `pairs.json` at the root of the state directory
 * (private to the user). Written whole to a temporary file, synced, then renamed over the old
 * one, so a crash leaves either the old list or the new one. The folder is the user's alone
 * (0700, made by start.ts or here), which keeps the secrets private.
 */
import { join } from "node:path";
import { writeAllSync } from "../bytes.ts";
import { denoFs, type Fs, fsError, PRIVATE_FILE } from "./fs.ts";

export interface Pair {
  /** The passphrase `--join NAME` uses (lib/crypto/pairing.ts pairSecret). */
  secret: string;
  /** When the pair was made (ISO 8601). */
  paired: string;
  /** Where the last session ran: our port, and the peer's address ("10.0.0.2:40123"). A side
   * that restarts while the other keeps running finds it there, since a running session does not
   * answer announcements; and it takes its old port again, where the other side still looks. */
  port?: number;
  peer?: string;
}

const FILE = "pairs.json";

/** The pairs stored under `root`, or a one-line reason the file cannot be used. */
export function loadPairs(root: string, fs: Fs = denoFs): Record<string, Pair> | string {
  let text: string;
  try {
    text = new TextDecoder().decode(fs.readFileSync(join(root, FILE)));
  } catch (e) {
    if (fsError(e) === "not_found") return {};
    return `Cannot read ${join(root, FILE)}: ${(e as Error).message}`;
  }
  try {
    const v = JSON.parse(text);
    const out: Record<string, Pair> = {};
    for (const [name, p] of Object.entries(v?.pairs ?? {})) {
      const pair = p as Partial<Pair>;
      if (typeof pair?.secret === "string" && pair.secret.length >= 32) {
        out[name] = { secret: pair.secret, paired: String(pair.paired ?? "") };
        const port = pair.port;
        if (Number.isInteger(port) && port! > 0 && port! < 65536) out[name].port = port;
        if (typeof pair.peer === "string" && pair.peer.length < 300) out[name].peer = pair.peer;
      }
    }
    return out;
  } catch {
    return `Cannot read ${join(root, FILE)}: it is not JSON (remove it to pair again)`;
  }
}

/** Adds or replaces one pair, durably. */
export function savePair(
  root: string,
  name: string,
  pair: Pair,
  fs: Fs = denoFs,
): string | undefined {
  const pairs = loadPairs(root, fs);
  if (typeof pairs === "string") return pairs;
  pairs[name] = pair;
  const path = join(root, FILE), tmp = `${path}.tmp`;
  try {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    const f = fs.openSync(tmp, { write: true, create: true, truncate: true, mode: PRIVATE_FILE });
    try {
      writeAllSync(f, JSON.stringify({ version: 1, pairs }, null, 2) + "\n");
      f.syncDataSync();
    } finally {
      f.close();
    }
    fs.renameSync(tmp, path);
    const dir = fs.openSync(root, { read: true });
    try {
      dir.syncSync();
    } catch { /* some file systems cannot sync a directory */ }
    dir.close();
  } catch (e) {
    return `Cannot write ${path}: ${(e as Error).message}`;
  }
  return undefined;
}
