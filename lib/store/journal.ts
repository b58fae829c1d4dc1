/**
 * The journal: outgoing messages not yet acknowledged, the receive cursor and files being sent,
 * as an append-only file of checked records (lib/store/records.ts). `write()` puts what was
 * appended into the file at once (so it survives SIGKILL); `sync()` makes it durable with an
 * fdatasync off the event loop, so a busy disk (a file transfer) never stalls the chat. The peer
 * holds every outgoing datagram while anything is unsynced, so an ACK or a "sent" never gets
 * ahead of the disk. Without a directory it keeps the same state in memory.
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
import { randomId32 } from "../bytes.ts";

/** Rewrite the journal once it holds this many more records than its state needs. */
const COMPACT_SLACK = 4096;

export class Journal {
  #state: JournalState;
  #path?: string;
  #file?: Deno.FsFile;
  #buffer = "";
  #records = 0;
  /** Written but not yet fdatasynced. */
  #unsynced = false;
  /** A receive-cursor record is among what is not yet durable. */
  #cursorUnsynced = false;

  private constructor(state: JournalState, path?: string) {
    this.#state = state;
    this.#path = path;
  }

  /** A journal kept only in memory (demo, tests). */
  static memory(): Journal {
    const j = new Journal(emptyState());
    j.#state.origin = randomId32();
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
    if (state.origin === 0) state.origin = randomId32();
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

  /** Records a new outgoing message and returns its id (durable after the next sync). */
  addOut(name: string, text: string): number {
    const id = this.#state.nextId;
    this.#append({ t: "out", id, name, text });
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
    if (this.#path) this.#cursorUnsynced = true;
    return true;
  }

  fileStarted(f: OutFile): void {
    this.#append({ t: "file", ...f });
  }

  fileEnded(id: string): void {
    if (this.#state.files.has(id)) this.#append({ t: "file_end", id });
  }

  /** Something appended is not durable yet. */
  get unsynced(): boolean {
    return this.#buffer.length > 0 || this.#unsynced;
  }

  /** The receive cursor moved and that is not durable yet: no ACK may leave. */
  get cursorUnsynced(): boolean {
    return this.#cursorUnsynced;
  }

  /** Writes what was appended into the file (it then survives a SIGKILL, not a power loss). */
  write(): void {
    if (!this.#file || !this.#buffer) {
      this.#buffer = "";
      return;
    }
    writeAllSync(this.#file, this.#buffer);
    this.#buffer = "";
    this.#unsynced = true;
  }

  /** Makes everything appended so far durable, without blocking the event loop. */
  async sync(): Promise<void> {
    this.write();
    if (!this.#unsynced) return;
    this.#unsynced = false;
    const cursor = this.#cursorUnsynced;
    await this.#file!.syncData();
    // Only what was written before the fdatasync began is durable now.
    if (cursor && !this.#unsynced) this.#cursorUnsynced = false;
    this.#compactIfDue();
  }

  /** The same, synchronously (at exit). */
  commit(): void {
    this.write();
    if (!this.#unsynced) return;
    this.#unsynced = false;
    this.#file!.syncDataSync();
    this.#cursorUnsynced = false;
    this.#compactIfDue();
  }

  #compactIfDue(): void {
    const needed = this.#state.pending.size + this.#state.files.size + 3;
    if (this.#records > needed + COMPACT_SLACK && !this.#buffer) this.#compact();
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
