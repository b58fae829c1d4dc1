/**
 * Keeping the running peer's state directory written: the history before the journal (a receive
 * cursor is never stored ahead of its history line), one fdatasync for everything appended before
 * it starts (group commit), and a failed write said once and tried again every STATE_RETRY_MS.
 * What waited for a write or a sync is the message path's (lib/peer/delivery.ts): it is told.
 */
import type { DurableMark } from "../protocol/session.ts";
import type { OutgoingFile } from "../files/transfers.ts";
import type { OfferRecord } from "../files/consent.ts";
import type { ChatEvent, FileDoneEvent } from "../events.ts";
import type { Journal } from "../store/journal.ts";
import { describeFsError } from "../store/fs.ts";
import type { History } from "../store/history.ts";
import type { Clock, TimerId } from "../net/clock.ts";

/** How often a failed write of the state directory is tried again: soon enough that chat resumes
 * within a second of room coming back, rare enough to cost nothing while the disk stays full. */
const STATE_RETRY_MS = 1_000;

/** What a sync covers, taken as it starts: the first `waiting` "sent" events, what was received up
 * to `mark`, and the first `unshown` messages. */
export interface Covered {
  waiting: number;
  mark: DurableMark;
  unshown: number;
}

export interface KeepingOptions {
  journal: Journal;
  history?: History;
  /** Where the journal and history are, for the warning when they cannot be written. */
  stateDir?: string;
  clock: Clock;
  emit: (e: ChatEvent) => void;
  /** The peer was closed. */
  closed: () => boolean;
  /** The history and the journal were written: the messages that waited for it may be shown. */
  written: () => void;
  /** What a sync that starts now covers. */
  covered: () => Covered;
  /** A sync finished: what it covered is durable. */
  stored: (c: Covered) => void;
}

export class Keeping {
  #o: KeepingOptions;
  #journal: Journal;
  #history?: History;
  #clock: Clock;
  /** A write of the state directory failed: the timer that tries it again. */
  #retry: TimerId | undefined;
  #syncing = false;
  /** Writing the state directory failed and has not succeeded since: warned once, not again. */
  #stateFailing = false;

  constructor(o: KeepingOptions) {
    this.#o = o;
    this.#journal = o.journal;
    this.#history = o.history;
    this.#clock = o.clock;
  }

  /** The journal and history are being written (false while the state directory fails). */
  get keeping(): boolean {
    return !this.#stateFailing;
  }

  /** Transfers' onOfferRecord: an offer's answer, or its end. */
  offerChanged(id: string, r: OfferRecord | undefined): void {
    this.#journal.offerChanged(id, r);
    // In the file before the peer hears the answer: a crash then cannot ask it again. The
    // way every write goes, so a receive cursor it carries is never stored ahead of the
    // messages it covers being shown.
    this.writeThenShow();
    this.sync();
  }

  /** Transfers' onOutgoing: a file being sent, or no longer. */
  outgoing(f: OutgoingFile, active: boolean): void {
    if (active) this.#journal.fileStarted(f);
    else this.#journal.fileEnded(f.id);
    // Written now, not when the next datagram comes (none may: a frozen or gone peer), so an
    // offer survives a crash and is made again by the next run.
    this.sync();
  }

  /** Writes the history, then the journal (a cursor is never stored ahead of its history line),
   * then shows the messages that waited for it. A failed write is said once and tried again in
   * STATE_RETRY_MS; meanwhile they wait. Returns whether it was written. */
  writeThenShow(): boolean {
    try {
      this.#history?.file.write();
      this.#journal.write();
    } catch (e) {
      this.writeFailed(e);
      return false;
    }
    this.#o.written();
    return true;
  }

  /** Group commit: one fdatasync covers everything appended before it starts. Then the "sent"
   * events that were waiting when it started go out, and the peer learns how far what we had
   * received by then is stored (so it may forget those messages). The ACKs themselves never wait
   * for the disk: holding them made every fdatasync a retransmission timeout for the sender. */
  async sync(): Promise<void> {
    if (this.#syncing) return;
    this.#syncing = true;
    try {
      while (this.#journal.unsynced) {
        const covered = this.#o.covered();
        // The history is written first: a cursor is never stored ahead of its history line (a
        // full disk took the history's write and not the journal's smaller one: seed 3384).
        this.#history?.file.write();
        await Promise.all([this.#journal.sync(), this.#history?.file.sync()]);
        // Written again (there is room once more): a later failure is worth a new warning.
        this.#stateFailing = false;
        if (this.#closed) return;
        this.#o.stored(covered);
      }
    } catch (e) {
      // Nothing is reported sent, and the peer is not told it is stored, until it is.
      if (!this.#closed) this.writeFailed(e);
      return;
    } finally {
      this.#syncing = false;
    }
    if (this.#closed) return;
    this.#o.stored(this.#o.covered());
  }

  /** Says once, not at every datagram, that the state directory cannot be written and what that
   * costs. What was appended stays in memory and is written once there is room again. */
  writeFailed(e: unknown): void {
    if (!this.#closed && this.#retry === undefined) {
      this.#retry = this.#clock.setTimer(() => {
        this.#retry = undefined;
        if (!this.#closed && this.writeThenShow()) this.sync();
      }, STATE_RETRY_MS);
    }
    if (this.#stateFailing) return;
    this.#stateFailing = true;
    const where = this.#o.stateDir ? `the state directory ${this.#o.stateDir}` : "the journal";
    this.#o.emit({
      type: "error",
      code: "state_write_failed",
      message: `Cannot write ${where}: ${describeFsError(e)}. Until it can be written, ` +
        "messages that arrive wait unshown and yours are not reported sent (the peer keeps " +
        "them, so nothing is lost or shown twice), and a restart would not resume the files " +
        "being sent; trying again every second",
    });
  }

  /** A finished transfer goes into the history, written at once (so it survives a SIGKILL; the
   * next sync or the exit makes it durable): a page opened later or the next start shows it. */
  recordFile(e: FileDoneEvent): void {
    if (!this.#history) return;
    const { id: file, name, path, size, sha256 } = e;
    const at = new Date(this.#clock.wall()).toISOString();
    this.#history.append({
      dir: e.type === "file_sent" ? "out" : "in",
      file,
      name,
      path,
      size,
      sha256,
      at,
    });
    try {
      this.#history.file.write();
    } catch (err) {
      this.writeFailed(err);
    }
  }

  /** Writes and closes the history and the journal; returns whether they were stored. */
  close(): boolean {
    let stored = true;
    try {
      this.#history?.close();
      this.#journal.close();
    } catch (e) {
      stored = false;
      this.writeFailed(e);
      // Not a cursor past a history line that did not fit: what is lost is then lost whole.
      this.#history?.file.discard();
      for (const f of this.#journal.discard()) {
        this.#o.emit({
          type: "error",
          code: "transfer_failed",
          message: `Cannot keep ${f.name} for the next run: the journal could not be written; ` +
            "send it again",
          id: f.id,
          name: f.name,
        });
      }
    }
    this.#clock.clearTimer(this.#retry);
    if (stored) this.#stateFailing = false;
    return stored;
  }

  get #closed(): boolean {
    return this.#o.closed();
  }
}
