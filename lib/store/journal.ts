/**
 * The journal: outgoing messages not yet acknowledged, the receive cursor and files being sent,
 * as an append-only file of checked records (lib/store/records.ts), written and synced as an
 * AppendFile (lib/store/files.ts): the fdatasync runs off the event loop, so a busy disk (a file
 * transfer) never stalls the chat. The peer tells its peer what it has stored only once the
 * receive cursor is durable, and reports "sent" only once a message's record is. Acknowledgements
 * and cursor moves are recorded once per write (a run of ids, the latest cursor), not once per
 * message. Without a directory it keeps the same state in memory.
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
import { AppendFile } from "./files.ts";
import type { OfferRecord } from "../files/consent.ts";
import { denoFs, type Fs, fsError, PRIVATE_FILE } from "./fs.ts";
import { randomId32, utf8Scratch, writeAllSync } from "../bytes.ts";

/** Rewrite the journal once it holds this many more records than its state needs. */
const COMPACT_SLACK = 4096;
/** Message ids a run reserves in the journal (durably) before it sends them; the next run starts
 * past the reservation. A message's datagrams leave before its record is fdatasynced (waiting would
 * put an fsync in every message's latency), so after a power loss the peer may hold an id the
 * journal lost; reusing it would make the peer drop the new message as one it has shown. 256: one
 * record per 128 messages, ids 2^32 / 256 = 16 million runs, and a restart skips at most 256. */
const RESERVE_IDS = 256;

export class Journal {
  #state: JournalState;
  #path?: string;
  /** The open journal file; none in memory. */
  #out?: AppendFile;
  /** Records in the file, to know when compacting pays. */
  /** The records appended since the file last took everything: their sizes, and for a file
   * record its id, so that a discard can tell which offers it loses. */
  #unwritten: { bytes: number; file?: string }[] = [];
  #records = 0;
  /** A receive-cursor record is among what is not yet durable. */
  #cursorUnsynced = false;
  /** Acknowledged ids not yet recorded: one run, written as one record. */
  #ackedRun: { id: number; to: number } | undefined;
  /** The cursor moved since its last record. */
  #cursorMoved = false;

  #fs: Fs;
  /** Ids below this are reserved in the file, durably. */
  #durableReserve = 0;

  private constructor(state: JournalState, path?: string, fs: Fs = denoFs) {
    this.#state = state;
    this.#path = path;
    this.#fs = fs;
  }

  /** A journal kept only in memory (demo, tests). */
  static memory(): Journal {
    const j = new Journal(emptyState());
    j.#state.origin = randomId32();
    return j;
  }

  /** Opens (or creates) `dir/journal`, recovering from damage; notices say what was repaired. */
  static open(dir: string, fs: Fs = denoFs): { journal: Journal; notices: string[] } {
    const path = join(dir, "journal");
    const notices: string[] = [];
    let bytes = new Uint8Array();
    try {
      bytes = fs.readFileSync(path);
    } catch (e) {
      if (fsError(e) !== "not_found") throw e;
    }
    const parsed = parseJournal(bytes);
    if (parsed.damage) {
      const { line, torn, skipped } = parsed.damage;
      const lost = bytes.length - parsed.goodBytes;
      if (torn && skipped === 0) {
        notices.push(
          `Journal ${path}: dropped a torn last record (${lost} bytes, line ${line}), ` +
            "left by an interrupted write (a crash, a power loss or a full disk); nothing else " +
            "was lost",
        );
      } else {
        const aside = `${path}.corrupt-${new Date().toISOString().replaceAll(":", "-")}`;
        fs.writeFileSync(aside, bytes);
        const bad = skipped + (torn ? 1 : 0);
        notices.push(
          `Journal ${path} is damaged at line ${line}: skipped ${bad} damaged ` +
            `${
              bad === 1 ? "record" : "records"
            }, kept the other ${parsed.records.length}, and set ` +
            `the whole file aside as ${aside}; a message or file written there may be lost`,
        );
      }
    }
    const state = emptyState();
    for (const r of parsed.records) applyRecord(state, r);
    if (state.origin === 0) state.origin = randomId32();
    // An earlier run may have sent ids it never stored (a power loss before the fdatasync): they
    // are never used again, or the peer would take a new message for one it has shown.
    state.nextId = Math.max(state.nextId, state.reserved);
    state.reserved = state.nextId + RESERVE_IDS;
    const journal = new Journal(state, path, fs);
    // Rewritten only when it must be: new, damaged (the bad tail has to go), or overgrown.
    if (bytes.length === 0 || parsed.damage || journal.#overgrown(parsed.records.length)) {
      journal.#compact();
    } else {
      journal.#out = new AppendFile(path, fs);
      journal.#records = parsed.records.length;
      journal.#append({ t: "reserve", to: state.reserved });
      journal.commit();
    }
    journal.#durableReserve = state.reserved;
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
  addOut(name: string, text: string, at?: number): number {
    const id = this.#state.nextId;
    this.#append(
      at === undefined ? { t: "out", id, name, text } : { t: "out", id, name, text, at },
    );
    // Reserved ahead, half a block before they run out, so the next sync stores it in time.
    if (this.#out && this.#state.reserved - id < RESERVE_IDS / 2) {
      this.#append({ t: "reserve", to: id + RESERVE_IDS });
    }
    return id;
  }

  /** The id is below a durable reservation, so it may go out before its own record is stored. */
  mayGoOut(id: number): boolean {
    return !this.#out || id < this.#durableReserve;
  }

  acked(id: number): void {
    if (!this.#state.pending.has(id)) return;
    this.#state.pending.delete(id);
    const run = this.#ackedRun;
    if (run && id === run.to + 1) run.to = id;
    else {
      this.#recordDeferred();
      this.#ackedRun = { id, to: id };
    }
  }

  /** Moves the receive cursor; false if the peer's message was already delivered before. */
  accept(origin: number, id: number): boolean {
    const c = this.#state.cursor;
    if (c && c.origin === origin && id <= c.id) return false;
    this.#state.cursor = { origin, id };
    this.#cursorMoved = true;
    if (this.#out) this.#cursorUnsynced = true;
    return true;
  }

  /** Appends the records acked() and accept() put off. */
  #recordDeferred(): void {
    const run = this.#ackedRun;
    this.#ackedRun = undefined;
    if (run) this.#append(run.to === run.id ? { t: "acked", id: run.id } : { t: "acked", ...run });
    if (this.#cursorMoved && this.#state.cursor) this.#append({ t: "in", ...this.#state.cursor });
    this.#cursorMoved = false;
  }

  fileStarted(f: OutFile): void {
    this.#append({ t: "file", ...f });
  }

  fileEnded(id: string): void {
    if (this.#state.files.has(id)) this.#append({ t: "file_end", id });
  }

  /** Offers received and asked about (--accept ask), as last recorded. */
  offers(): OfferRecord[] {
    return [...this.#state.offers.values()];
  }

  /** An offer's new state, or (undefined) that it is forgotten. */
  offerChanged(id: string, r: OfferRecord | undefined): void {
    if (r) this.#append({ t: "offer", ...r });
    else if (this.#state.offers.has(id)) this.#append({ t: "offer_end", id });
  }

  /** Something appended is not durable yet. */
  get unsynced(): boolean {
    return this.#ackedRun !== undefined || this.#cursorMoved || (this.#out?.unsynced ?? false);
  }

  /** Kept in a file (a memory journal stores nothing, so all it holds counts as stored). */
  get onDisk(): boolean {
    return this.#out !== undefined;
  }

  /** The receive cursor moved and that is not durable yet. */
  get cursorUnsynced(): boolean {
    return this.#cursorUnsynced;
  }

  /** Writes what was appended into the file (it then survives a SIGKILL, not a power loss). */
  write(): void {
    this.#recordDeferred();
    this.#out?.write();
    this.#unwritten = [];
  }

  /** Makes everything appended so far durable, without blocking the event loop. */
  async sync(): Promise<void> {
    this.#recordDeferred();
    const reserved = this.#state.reserved;
    // The records appended before it began are written once it succeeds; later ones may not be.
    const written = this.#unwritten.length;
    await this.#out?.sync();
    this.#unwritten.splice(0, written);
    this.#durableReserve = Math.max(this.#durableReserve, reserved);
    // Durable now is what was written before the fdatasync began: all of it, unless more came.
    this.#settled();
  }

  /** The same, synchronously (at exit). */
  commit(): void {
    this.#recordDeferred();
    this.#out?.syncNow();
    this.#unwritten = [];
    this.#durableReserve = Math.max(this.#durableReserve, this.#state.reserved);
    this.#settled();
  }

  #settled(): void {
    if (this.unsynced) return;
    this.#cursorUnsynced = false;
    if (this.#overgrown(this.#records)) this.#compact();
  }

  #overgrown(records: number): boolean {
    const kept = this.#state.pending.size + this.#state.files.size + this.#state.offers.size;
    return records > kept + 3 + COMPACT_SLACK;
  }

  /** Commits and closes; the file is closed even when the commit fails (which then throws). */
  close(): void {
    try {
      this.commit();
    } finally {
      // Kept if closing fails: a discard then still knows what was not written.
      this.#out?.close();
      this.#out = undefined;
    }
  }

  /** Closes without writing what is left (after a failed write that must not be followed).
   * Returns the files being sent whose records were not written whole: a later run will not know
   * of them. */
  discard(): OutFile[] {
    const out = this.#out;
    this.#out = undefined;
    const lost: OutFile[] = [];
    let left = out?.unwritten().length ?? 0;
    // The unwritten bytes are the tail of what was appended: the last records, one maybe torn.
    for (let i = this.#unwritten.length - 1; i >= 0 && left > 0; i--) {
      const { bytes, file } = this.#unwritten[i];
      left -= bytes;
      const f = file === undefined ? undefined : this.#state.files.get(file);
      if (f) lost.unshift(f);
    }
    out?.discard();
    return lost;
  }

  #append(r: JournalRecord): void {
    applyRecord(this.#state, r);
    if (!this.#out) return;
    const line = encodeRecord(r);
    this.#out.append(line);
    this.#unwritten.push({
      bytes: utf8Scratch(line).length,
      file: r.t === "file" ? r.id : undefined,
    });
    this.#records++;
  }

  /** Rewrites the journal as a snapshot of the state: temp file, fsync, rename, fsync folder. */
  #compact(): void {
    if (!this.#path) return;
    const records = snapshot(this.#state);
    const tmp = this.#path + ".tmp";
    const f = this.#fs.openSync(tmp, {
      write: true,
      create: true,
      truncate: true,
      mode: PRIVATE_FILE,
    });
    try {
      writeAllSync(f, records.map(encodeRecord).join(""));
      f.syncSync();
    } finally {
      f.close();
    }
    this.#fs.renameSync(tmp, this.#path);
    this.#fs.syncDirOf(this.#path);
    this.#out?.close();
    this.#out = new AppendFile(this.#path, this.#fs);
    this.#records = records.length;
    this.#durableReserve = Math.max(this.#durableReserve, this.#state.reserved);
  }
}
