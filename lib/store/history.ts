/**
 * The conversation as JSON lines (`history.jsonl` in the state directory), newest last. Lines are
 * appended as messages are sent or shown, and made durable with the journal's commit. Reading
 * takes only the tail of the file; a torn or foreign line is skipped, never fatal.
 */
import { join } from "node:path";
import { AppendFile } from "./files.ts";
import { concat } from "../bytes.ts";
import { denoFs, type Fs, SEEK_START } from "./fs.ts";

/** A chat message, sent (out) or shown (in). */
export interface MessageEntry {
  dir: "in" | "out";
  id: number;
  name: string;
  text: string;
  /** ISO 8601 time it was sent or received. */
  at: string;
}

/** A file transfer that finished: sent and verified by the peer (out), or received (in). Older
 * readers skip these lines (no numeric id, no text). */
export interface FileEntry {
  dir: "in" | "out";
  /** The transfer's id. */
  file: string;
  name: string;
  /** The local source (out) or where it was saved (in). */
  path: string;
  size: number;
  sha256: string;
  at: string;
}

export type HistoryEntry = MessageEntry | FileEntry;

/** Read the tail in steps of this many bytes until enough lines are found. */
const TAIL_STEP = 64 * 1024;

export class History {
  /** Lines are buffered; the peer writes and syncs them along with the journal. */
  readonly file: AppendFile;
  #fs: Fs;

  constructor(dir: string, fs: Fs = denoFs) {
    this.#fs = fs;
    this.file = new AppendFile(join(dir, "history.jsonl"), fs);
    // A crash (or a full disk) mid-line left a torn last line: the next entry starts on a line of
    // its own, or it would be glued to the torn one and lost with it.
    if (!endsWithNewline(this.file.path, fs)) this.file.append("\n");
  }

  append(e: HistoryEntry): void {
    this.file.append(JSON.stringify(e) + "\n");
  }

  /** The last `n` entries, oldest first. */
  last(n: number): HistoryEntry[] {
    if (n <= 0) return [];
    try {
      this.file.write();
    } catch { /* a full disk: what did not fit is read from memory, after the file's part */ }
    const f = this.#fs.openSync(this.file.path, { read: true });
    try {
      let end = f.statSync().size;
      // Decoded as a whole, so a character cut between two reads (or the file and memory) stays one.
      const parts = [this.file.unwritten()];
      let text = new TextDecoder().decode(parts[0]);
      // A torn last line (no newline yet) is not an entry.
      while (end > 0) {
        const start = Math.max(0, end - TAIL_STEP);
        const chunk = new Uint8Array(end - start);
        f.seekSync(start, SEEK_START);
        for (let got = 0; got < chunk.length;) {
          const r = f.readSync(chunk.subarray(got));
          if (r === null) break;
          got += r;
        }
        parts.unshift(chunk);
        text = new TextDecoder().decode(concat(parts));
        end = start;
        if (text.split("\n").length > n + 2) break;
      }
      const entries = text.split("\n").map(parseEntry).filter((e) => e !== undefined);
      return entries.slice(-n);
    } finally {
      f.close();
    }
  }

  close(): void {
    this.file.close();
  }
}

function parseEntry(line: string): HistoryEntry | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line);
    if ((v.dir !== "in" && v.dir !== "out") || typeof v.at !== "string") return undefined;
    if (Number.isInteger(v.id) && typeof v.name === "string" && typeof v.text === "string") {
      return { dir: v.dir, id: v.id, name: v.name, text: v.text, at: v.at };
    }
    if (
      typeof v.file === "string" && typeof v.name === "string" && typeof v.path === "string" &&
      Number.isSafeInteger(v.size) && v.size >= 0 && typeof v.sha256 === "string"
    ) {
      const { dir, file, name, path, size, sha256, at } = v;
      return { dir, file, name, path, size, sha256, at };
    }
  } catch { /* a torn or damaged line */ }
  return undefined;
}

/** Whether the file is empty or its last byte is a newline. */
function endsWithNewline(path: string, fs: Fs): boolean {
  const f = fs.openSync(path, { read: true });
  try {
    const size = f.statSync().size;
    if (size === 0) return true;
    const last = new Uint8Array(1);
    f.seekSync(size - 1, SEEK_START);
    return f.readSync(last) === 1 && last[0] === 0x0a;
  } finally {
    f.close();
  }
}
