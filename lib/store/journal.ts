/**
 * The journal: outgoing messages not yet acknowledged, the receive cursor and files being sent,
 * as an append-only file of checked records (lib/store/records.ts). `commit()` writes and
 * fdatasyncs what was appended; the peer commits before any datagram leaves, so an ACK or a
 * "sent" never gets ahead of the disk. Without a directory it keeps the same state in memory.
 *
 * Synchronous on purpose: a commit is one write and one fdatasync (about 0.2 ms here), and doing
 * it inline keeps "durable, then ACK" a matter of statement order.
 */
import { join } from "node:path";
import {
  applyRecord,
  emptyState,
  encodeRecord,
  type JournalRecord,
  type JournalState,
  type OutFile,
  type OutMessage,
  parseJournal,
  snapshot,
} from "./records.ts";
import { syncDir, writeAllSync } from "./files.ts";

/** Rewrite the journal once it holds this many more records than its state needs. */
const COMPACT_SLACK = 4096;

export class Journal {
  #state: JournalState;
  #path?: string;
  #file?: Deno.FsFile;
  #buffer = "";
  #records = 0;

  private constructor(state: JournalState, path?: string) {
    this.#state = state;
    this.#path = path;
  }

  /** A journal kept only in memory (demo, tests). */
  static memory(): Journal {
    const j = new Journal(emptyState());
    j.#state.origin = randomOrigin();
    return j;
  }

  /** Opens (or creates) `dir/journal`, recovering from damage; notices say what was repaired. */
  static open(dir: string): { journal: Journal; notices: string[] } {
    const path = join(dir, "journal");
    const notices: string[] = [];
    let bytes = new Uint8Array();
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const parsed = parseJournal(bytes);
    if (parsed.damage) {
      const { line, torn } = parsed.damage;
      const lost = bytes.length - parsed.goodBytes;
      if (torn) {
        notices.push(
          `Journal ${path}: dropped a torn last record (${lost} bytes, line ${line}), ` +
            "left by a crash; nothing else was lost",
        );
      } else {
        const aside = `${path}.corrupt-${new Date().toISOString().replaceAll(":", "-")}`;
        Deno.writeFileSync(aside, bytes);
        notices.push(
          `Journal ${path} is damaged at line ${line}: kept the ${parsed.records.length} records ` +
            `before it and set the whole file aside as ${aside}`,
        );
      }
    }
    const state = emptyState();
    for (const r of parsed.records) applyRecord(state, r);
    if (state.origin === 0) state.origin = randomOrigin();
    const journal = new Journal(state, path);
    journal.#compact();
    return { journal, notices };
  }

  /** Names this sender's message stream; random per state directory. */
  get origin(): number {
    return this.#state.origin;
  }

  /** Outgoing messages the peer has not acknowledged, oldest first. */
  pending(): OutMessage[] {
    return [...this.#state.pending.values()];
  }

  files(): OutFile[] {
    return [...this.#state.files.values()];
  }

  /** Records a new outgoing message durably and returns its id. */
  addOut(name: string, text: string): number {
    const id = this.#state.nextId;
    this.#append({ t: "out", id, name, text });
    this.commit();
    return id;
  }

  acked(id: number): void {
    if (this.#state.pending.has(id)) this.#append({ t: "acked", id });
  }

  /** Moves the receive cursor; false if the peer's message was already delivered before. */
  accept(origin: number, id: number): boolean {
    const c = this.#state.cursor;
    if (c && c.origin === origin && id <= c.id) return false;
    this.#append({ t: "in", origin, id });
    return true;
  }

  fileStarted(f: OutFile): void {
    this.#append({ t: "file", ...f });
  }

  fileEnded(id: string): void {
    if (this.#state.files.has(id)) this.#append({ t: "file_end", id });
  }

  get dirty(): boolean {
    return this.#buffer.length > 0;
  }

  /** Makes everything appended so far durable. */
  commit(): void {
    if (!this.#file || !this.#buffer) {
      this.#buffer = "";
      return;
    }
    writeAllSync(this.#file, this.#buffer);
    this.#buffer = "";
    this.#file.syncDataSync();
    const needed = this.#state.pending.size + this.#state.files.size + 3;
    if (this.#records > needed + COMPACT_SLACK) this.#compact();
  }

  close(): void {
    this.commit();
    this.#file?.close();
    this.#file = undefined;
  }

  #append(r: JournalRecord): void {
    applyRecord(this.#state, r);
    if (!this.#path) return;
    this.#buffer += encodeRecord(r);
    this.#records++;
  }

  /** Rewrites the journal as a snapshot of the state: temp file, fsync, rename, fsync folder. */
  #compact(): void {
    if (!this.#path) return;
    const records = snapshot(this.#state);
    const tmp = this.#path + ".tmp";
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    try {
      writeAllSync(f, records.map(encodeRecord).join(""));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, this.#path);
    syncDir(this.#path);
    this.#file?.close();
    this.#file = Deno.openSync(this.#path, { append: true });
    this.#records = records.length;
  }
}

function randomOrigin(): number {
  const [n] = crypto.getRandomValues(new Uint32Array(1));
  return n || 1;
}
