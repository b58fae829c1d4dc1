/**
 * The running peer's message path. The messages a datagram delivers go into the history and are
 * shown only once their history line and the receive cursor are written, and only then do the
 * datagram's replies leave; a message sent is reported "sent" once the outbox is durable
 * ("delivered" never before it), and the peer learns how far what we received is stored. The
 * writes themselves are lib/peer/keeping.ts's.
 */
import type { Session } from "../protocol/session.ts";
import { MAX_MESSAGE } from "../protocol/constants.ts";
import type { UdpLink } from "../net/udp.ts";
import { encodeText, MAX_NAME_BYTES, TEXT_HEADER_BYTES, type TextMessage } from "../app_message.ts";
import type { ChatEvent, HistoryEvent, HistoryFileEvent, MessageEvent } from "../events.ts";
import type { Journal } from "../store/journal.ts";
import { bytesText } from "../bytes.ts";
import type { FileEntry, History, HistoryEntry } from "../store/history.ts";
import type { Clock } from "../net/clock.ts";
import type { HeldOutput } from "./options.ts";
import type { Covered, Keeping } from "./keeping.ts";

/** Text bytes a message may carry: the protocol limit less the application header. */
export const MAX_TEXT_BYTES = MAX_MESSAGE - TEXT_HEADER_BYTES - MAX_NAME_BYTES;

const encoder = new TextEncoder();

/** A message that arrives this long after it was written waited (in a journal, for a peer that
 * was away): its event carries the sender's time. Shorter gaps are the network, and clocks that
 * differ by a few seconds would only make the shown time jump. */
const WAITED_MS = 5_000;

export interface DeliveryOptions {
  /** Our name, on the messages we send. */
  name: string;
  /** Where messages are shown, held while they are (PeerOptions.output). */
  output?: HeldOutput;
  journal: Journal;
  history?: History;
  keeping: Keeping;
  clock: Clock;
  session: Session;
  /** Where the datagrams held while one was handled go, once it has been. */
  link: UdpLink;
  emit: (e: ChatEvent) => void;
  /** Sets the peer's timer for the session's next deadline (lib/peer/timer.ts). */
  arm: () => void;
  /** The peer was closed. */
  closed: () => boolean;
  /** The peer's address as shown (it follows the peer when it moves). */
  from: () => string;
}

export class Delivery {
  #o: DeliveryOptions;
  #link: UdpLink;
  #session: Session;
  #clock: Clock;
  #journal: Journal;
  #history?: History;
  #keeping: Keeping;
  #alreadyShown = 0;
  /** While a datagram is handled: what it makes us send, and the messages it delivered. */
  #held: Uint8Array[] | undefined;
  #arrived: ChatEvent[] = [];
  /** Messages received whose history line and receive cursor are not written yet: shown once they
   * are, never before (one shown and then lost to a crash would come again, and show twice). */
  #unshown: ChatEvent[] = [];
  /** Messages whose ids the journal has not durably reserved yet (see RESERVE_IDS). */
  #heldBack: { id: number; name: string; text: string; sentAt: number }[] = [];
  /** "sent" events (and "delivered" ones behind them) waiting for the outbox to be durable. */
  #waiting: ChatEvent[] = [];
  #drainWaiters: (() => void)[] = [];
  #undelivered = new Set<number>();

  constructor(o: DeliveryOptions) {
    this.#o = o;
    this.#link = o.link;
    this.#session = o.session;
    this.#clock = o.clock;
    this.#journal = o.journal;
    this.#history = o.history;
    this.#keeping = o.keeping;
  }

  /** Chat messages sent but not yet acknowledged. */
  get pending(): number {
    return this.#undelivered.size;
  }

  /** Messages that came again (delivered before a restart of either side), shown once. */
  get alreadyShown(): number {
    return this.#alreadyShown;
  }

  /** Queues what an earlier run left unacknowledged. */
  resend(): void {
    const now = this.#clock.now();
    for (const m of this.#journal.pending()) {
      this.#undelivered.add(m.id);
      this.#session.send(this.#encode({ ...m, sentAt: m.at }), m.id, now);
    }
  }

  /** The session's output: held while a datagram is handled (until release()), else sent. */
  output(d: Uint8Array): void {
    if (this.#held) this.#held.push(d);
    else this.#link.send(d);
  }

  /** A datagram is about to be handled: what it makes us send is held until release(). */
  hold(): void {
    this.#held ??= [];
  }

  /** The session's onDelivered: the peer acknowledged the message tagged `id`. */
  delivered(id: number): void {
    // Tag 0 marks file-control messages: internal, never reported.
    if (id !== 0) {
      this.#journal.acked(id);
      this.#undelivered.delete(id);
      // Never before its "sent", which waits for the disk.
      if (this.#waiting.length) this.#waiting.push({ type: "delivered", id });
      else this.#emit({ type: "delivered", id });
    }
    if (this.#drained) this.#drainWaiters.splice(0).forEach((w) => w());
  }

  /** Sends a chat message; returns its id, or undefined (with an error event) if it is refused. */
  send(text: string): number | undefined {
    if (this.#closed) return undefined;
    // UTF-8 takes at most three bytes per UTF-16 code unit: only long texts need measuring.
    const bytes = text.length * 3 <= MAX_TEXT_BYTES ? 0 : encoder.encode(text).length;
    if (bytes > MAX_TEXT_BYTES) {
      this.#emit({
        type: "error",
        code: "too_long",
        message: `Cannot send message: ${bytesText(bytes)} is over the limit of ${
          bytesText(MAX_TEXT_BYTES)
        }`,
      });
      return undefined;
    }
    const name = this.#o.name;
    const sentAt = this.#clock.wall();
    const id = this.#journal.addOut(name, text, sentAt);
    this.#record({ dir: "out", id, name, text, at: new Date(sentAt).toISOString() });
    this.#undelivered.add(id);
    // Reported once durable (the datagrams need not wait: an unsent "sent" promises nothing).
    this.#waiting.push(
      this.#session.online ? { type: "sent", id, text } : { type: "sent", id, text, queued: true },
    );
    const m = { id, name, text, sentAt };
    // Past the journal's durable reservation (a burst, or a failing disk), it waits for the sync.
    if (this.#heldBack.length || !this.#journal.mayGoOut(id)) this.#heldBack.push(m);
    else this.#session.send(this.#encode(m), id, this.#clock.now());
    this.#keeping.sync();
    this.#arm();
    return id;
  }

  /** The last `n` history entries as events, for one interface to show (after start, when
   * every message an earlier run left unacknowledged is among the undelivered). */
  history(n: number): (HistoryEvent | HistoryFileEvent)[] {
    return (this.#history?.last(n) ?? []).map((h) =>
      "file" in h
        ? fileHistoryEvent(h)
        : h.dir === "out"
        ? { type: "history", ...h, delivered: !this.#undelivered.has(h.id) }
        : { type: "history", ...h }
    );
  }

  get #drained(): boolean {
    return this.#session.pending === 0 && this.#heldBack.length === 0;
  }

  /** Resolves true once everything sent is acknowledged, false if `timeoutMs` passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#drained) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimer(() => resolve(false), timeoutMs);
      this.#drainWaiters.push(() => {
        this.#clock.clearTimer(timer);
        resolve(true);
      });
    });
  }

  /** Drops the messages not yet delivered from the journal, so that no later run sends them
   * (--no-keep); returns how many. Call before close(). */
  async forgetUndelivered(): Promise<number> {
    const ids = [...this.#undelivered];
    for (const id of ids) this.#journal.acked(id);
    this.#undelivered.clear();
    this.#heldBack = [];
    try {
      this.#journal.write();
      await this.#journal.sync();
    } catch (e) {
      this.#keeping.writeFailed(e);
    }
    return ids.length;
  }

  /** The peer is closing: once the history and journal are stored, what waited for them is shown
   * and reported, and the peer may forget everything received. */
  close(): void {
    if (this.#keeping.close()) {
      for (const e of [...this.#unshown.splice(0), ...this.#waiting.splice(0)]) this.#emit(e);
      // Everything received is stored now, so the peer may forget it; then the goodbye.
      this.#session.markDurable(this.#session.durableMark(), this.#clock.now());
    }
  }

  /** A chat message the session delivered (lib/peer.ts sorts out the rest). */
  onText(m: TextMessage): void {
    // A message delivered before a restart of either side comes again: count it, show it once.
    if (!this.#journal.accept(m.origin, m.id)) {
      this.#alreadyShown++;
      return;
    }
    const now = this.#clock.wall();
    const at = new Date(now).toISOString();
    this.#record({ dir: "in", id: m.id, name: m.name, text: m.text, at });
    const from = this.#from;
    const e: MessageEvent = { type: "message", id: m.id, text: m.text, from, name: m.name, at };
    // A message that waited (the peer was offline, or we were) carries when it was written.
    if (m.sentAt !== undefined && now - m.sentAt > WAITED_MS) {
      e.sentAt = new Date(m.sentAt).toISOString();
    }
    this.#arrived.push(e);
  }

  /** After a datagram: the messages it delivered go into the history, the new receive cursor is
   * written (a SIGKILL cannot lose it), the messages are shown, and only then do its replies leave
   * (sending first made every message show 0.1 ms later here). The peer learns they are stored
   * once they are durable. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    this.#unshown.push(...this.#arrived.splice(0));
    this.#keeping.writeThenShow();
    for (const d of held) this.#link.send(d);
    if (this.#journal.cursorUnsynced) this.#keeping.sync();
    else this.#session.markDurable(this.#session.durableMark(), this.#clock.now());
  }

  /** Shows the messages whose history line and cursor are now written, in one write (held
   * output). */
  showUnshown(count = this.#unshown.length): void {
    if (!count) return;
    this.#o.output?.hold();
    for (const e of this.#unshown.splice(0, count)) this.#emit(e);
    this.#o.output?.flush();
  }

  /** What a sync that starts now covers (lib/peer/keeping.ts). */
  covered(): Covered {
    const waiting = this.#waiting.length, mark = this.#session.durableMark();
    const unshown = this.#unshown.length;
    return { waiting, mark, unshown };
  }

  /** Emits the first `waiting` events and marks what was received up to `mark` as stored. */
  stored({ waiting, mark, unshown }: Covered): void {
    // A sync writes what a failed write left, cursors included: the messages that waited for them
    // when it began are stored, so they are shown now (the peer is about to forget them), not at
    // the next retry (seed 2046).
    this.showUnshown(unshown);
    while (this.#heldBack.length && this.#journal.mayGoOut(this.#heldBack[0].id)) {
      const m = this.#heldBack.shift()!;
      this.#session.send(this.#encode(m), m.id, this.#clock.now());
    }
    for (const e of this.#waiting.splice(0, waiting)) this.#emit(e);
    this.#session.markDurable(mark, this.#clock.now());
    this.#arm();
  }

  #encode(m: { id: number; name: string; text: string; sentAt?: number }): Uint8Array {
    return encodeText({
      origin: this.#journal.origin,
      id: m.id,
      name: m.name,
      text: m.text,
      sentAt: m.sentAt,
    });
  }

  #record(h: HistoryEntry): void {
    this.#history?.append(h);
  }

  get #closed(): boolean {
    return this.#o.closed();
  }

  get #from(): string {
    return this.#o.from();
  }

  #emit(e: ChatEvent): void {
    this.#o.emit(e);
  }

  #arm(): void {
    this.#o.arm();
  }
}

function fileHistoryEvent({ file, ...rest }: FileEntry): HistoryFileEvent {
  return { type: "history_file", ...rest, id: file };
}
