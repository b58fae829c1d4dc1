/**
 * The sending half of a stream: the queue of segments, the flight, and recovery by RFC 8985
 * (RACK-TLP) and RFC 6298.
 *
 * - RACK (section 6): a segment is lost once one sent after it has been delivered and a
 *   reordering window (a quarter of the minimum RTT) has passed. Segments sent at the same time
 *   (one flush) are ordered by sequence (section 6.2).
 * - TLP (section 7): one probe per flight, 2·SRTT after the last new data: the last segment is
 *   sent again. It is not a loss and does not back off; a second probe waits for an ACK of new data.
 * - RTO (RFC 6298 section 5): one timer, restarted by an ACK of new data. When it fires the oldest
 *   segment is sent again and the timer backs off exponentially up to RTO_MAX; the backoff ends
 *   with an ACK of new data or with anything heard from the peer (endBackoff).
 *
 * Deviation: the probe always repeats the last segment, never new data; the RTO repeats only the
 * oldest segment instead of marking the whole flight lost, so a dark path carries one datagram
 * per RTO, and RACK recovers the rest once the peer answers.
 */
import {
  CLOCK_GRANULARITY,
  MAX_FLIGHT_BYTES,
  RECEIVE_BUFFER_CLASS_MAX,
  RTO_MAX,
  SEND_WINDOW,
} from "../constants.ts";
import { type Packet, SEGMENT_HEADER_SIZE } from "../codec.ts";
import { Fifo } from "../fifo.ts";
import { seqAdd, seqDiff, seqLess } from "../seq.ts";
import { Congestion } from "./congestion.ts";
import { fragment } from "./fragment.ts";
import { elapsed, RttEstimator, stampedBefore, timestamp } from "./rtt.ts";

type Why = "lost" | "probe" | "timeout";

export interface OutSegment {
  seq: number;
  frg: number;
  data: Uint8Array;
  /** A whole small message (see fragment.ts). */
  small: boolean;
  /** When it was last sent; -1 before the first time. */
  sentAt: number;
  xmits: number;
  acked: boolean;
  /** When it is to be sent again, and why; Infinity when it is not. */
  dueAt: number;
  why: Why | undefined;
  /** Bytes of redundant copies sent of it, counted in flight until it is acknowledged. */
  copyBytes: number;
  /** When each retransmission went and whether the RTO sent it; undefined before the first. */
  resends: { at: number; timeout: boolean }[] | undefined;
}

export interface PendingMessage {
  tag: number;
  data: Uint8Array;
}

interface OutMessage extends PendingMessage {
  lastSeq: number;
}

export interface SenderCounters {
  retransmits: number;
  timeouts: number;
  fastRetransmits: number;
  tailProbes: number;
  /** Retransmissions that were not needed: sent after the transmission that the first ACK of
   * their segment echoes (Eifel detection, RFC 3522, with the echo of RFC 7323 timestamps). */
  spuriousRetransmits: number;
  /** Of those, the ones the RTO sent: what too low an RTO floor costs. */
  spuriousTimeouts: number;
}

/** What a segment takes in a packet. */
export function segmentBytes(s: { data: Uint8Array }): number {
  return SEGMENT_HEADER_SIZE + s.data.length;
}

export class Sender {
  readonly rtt = new RttEstimator();
  readonly cc = new Congestion(this.rtt);
  #next: number;
  #flight: OutSegment[] = [];
  /** Bytes of the unacknowledged segments in #flight, their copies included. */
  #flightBytes = 0;
  /** The smallest dueAt in #flight, or undefined when it has to be found again. */
  #earliest: number | undefined = Infinity;
  #queue = new Fifo<OutSegment>();
  #messages = new Fifo<OutMessage>();
  #rackSentAt = -Infinity;
  #rackSeq = 0;
  #probeAt = Infinity;
  /** A probe went out and no ACK of new data has come since: one probe per flight. */
  #probing = false;
  #rtoAt = Infinity;
  /** Timeouts since the last ACK of new data: the RTO is doubled this many times. */
  #backoff = 0;
  /** Echoes of timestamps before this one give no RTT sample (0: none yet). */
  #sampleFloor = 0;
  /** The peer's durable point: what it has stored. */
  #peerDurable: number;
  #onDelivered: (tag: number) => void;
  /** While the peer is unreachable only the oldest segment is retried and no new data goes out. */
  probeOnly = false;
  counters: SenderCounters = {
    retransmits: 0,
    timeouts: 0,
    fastRetransmits: 0,
    tailProbes: 0,
    spuriousRetransmits: 0,
    spuriousTimeouts: 0,
  };

  constructor(initialSeq: number, onDelivered: (tag: number) => void) {
    this.#next = this.#peerDurable = initialSeq;
    this.#onDelivered = onDelivered;
  }

  enqueue(data: Uint8Array, tag: number): void {
    for (const f of fragment(data)) {
      this.#queue.push({
        frg: f.frg,
        data: f.data,
        small: f.small,
        seq: this.#next,
        sentAt: -1,
        xmits: 0,
        acked: false,
        dueAt: Infinity,
        why: undefined,
        copyBytes: 0,
        resends: undefined,
      });
      this.#next = seqAdd(this.#next, 1);
    }
    this.#messages.push({ tag, data, lastSeq: seqAdd(this.#next, -1) });
  }

  /** Messages the peer has not yet both acknowledged and stored, in order. */
  pending(): PendingMessage[] {
    return this.#messages.toArray().map(({ tag, data }) => ({ tag, data }));
  }

  get pendingCount(): number {
    return this.#messages.length;
  }

  get flightLength(): number {
    return this.#flight.length;
  }

  get flightBytes(): number {
    return this.#flightBytes;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get backoff(): number {
    return this.#backoff;
  }

  /** The RTO with its backoff. */
  get rto(): number {
    return Math.min(RTO_MAX, this.rtt.rto * 2 ** this.#backoff);
  }

  /** The congestion window, bounded by what the peer's socket buffer takes. */
  get window(): number {
    return Math.min(this.cc.window, this.#flightCap);
  }

  #flightCap = MAX_FLIGHT_BYTES;

  /** The peer's receive buffer class (codec.ts): it takes MAX_FLIGHT_BYTES·2^class in flight. */
  set peerBufferClass(k: number) {
    const cap = MAX_FLIGHT_BYTES * 2 ** Math.min(k, RECEIVE_BUFFER_CLASS_MAX);
    if (cap === this.#flightCap) return;
    this.#flightCap = cap;
    this.cc.limit = 2 * cap;
  }

  inFlight(): number {
    return this.#flight.filter((s) => !s.acked && s.xmits > 0).length;
  }

  /** The next unsent segment, if the windows and the peer's state let it go now. */
  peekNew(): OutSegment | undefined {
    if (
      this.probeOnly || this.#flight.length >= SEND_WINDOW || this.#flightBytes >= this.window
    ) return undefined;
    return this.#queue.peek();
  }

  /** Moves the segment peekNew returned into the flight. */
  takeNew(): void {
    this.#flight.push(this.#queue.shift()!);
  }

  /** Fires the timers that are due, then lists the segments to send again now. */
  due(now: number): OutSegment[] {
    // The probe first: when it is due with the RTO (PTO capped by it) it goes alone, and the RTO
    // is pushed back a whole RTO (RFC 8985 section 7.3).
    if (now >= this.#probeAt) this.#fireProbe(now);
    if (now >= this.#rtoAt) this.#fireRto(now);
    const due: OutSegment[] = [];
    if (this.#earliestDue() > now) return due;
    for (const s of this.#flight) {
      if (s.acked || s.xmits === 0 || s.dueAt > now) continue;
      // Probing an absent peer: only what the RTO chose goes.
      if (this.probeOnly && s.why !== "timeout") this.#setDue(s, Infinity, undefined);
      else due.push(s);
    }
    return due;
  }

  nextDeadline(): number {
    return Math.min(this.#rtoAt, this.#probeAt, this.#earliestDue());
  }

  transmit(s: OutSegment, now: number): void {
    if (s.xmits === 0) {
      this.#flightBytes += segmentBytes(s);
      if (!this.#probing && this.#probeAt === Infinity && !this.probeOnly) {
        this.#probeAt = Math.min(now + this.rtt.pto(), this.#rtoAt);
      }
    } else {
      this.counters.retransmits++;
      if (s.why === "lost") this.counters.fastRetransmits++;
      else if (s.why === "timeout") this.counters.timeouts++;
      (s.resends ??= []).push({ at: now, timeout: s.why === "timeout" });
    }
    s.xmits++;
    s.sentAt = now;
    this.#setDue(s, Infinity, undefined);
    if (this.#rtoAt === Infinity) this.#rtoAt = now + this.rto;
  }

  /** A redundant copy of `s` went out: its bytes count as in flight until `s` is acknowledged. */
  copied(s: OutSegment): void {
    const bytes = segmentBytes(s);
    s.copyBytes += bytes;
    this.#flightBytes += bytes;
  }

  /** The newest unacknowledged segments not in `except`, newest first. */
  *newestUnacked(except: OutSegment[]): Generator<OutSegment> {
    for (let i = this.#flight.length - 1; i >= 0; i--) {
      const s = this.#flight[i];
      if (!s.acked && s.xmits > 0 && !except.includes(s)) yield s;
    }
  }

  /** What was sent before `now` may have waited out a dark path or a suspended process (ours or
   * the peer's): its echoes time that, not the path, so they give no RTT sample. Without this a
   * 20 s SIGSTOP left an SRTT of seconds and an RTO of 26 s long after (a probe of a real pair). */
  distrustEchoesBefore(now: number): void {
    this.#sampleFloor = timestamp(now);
  }

  #trusted(echo: number): boolean {
    return echo !== 0 && !(this.#sampleFloor !== 0 && stampedBefore(echo, this.#sampleFloor));
  }

  /** The peer was heard (a HELLO, a keepalive, any packet). After a timeout that means the path
   * is back: the backoff ends and whatever has been out longer than an RTT goes again now. */
  endBackoff(now: number): void {
    if (this.#backoff === 0) return;
    this.#backoff = 0;
    const rtt = Math.max(this.rtt.srtt, CLOCK_GRANULARITY);
    for (const s of this.#flight) {
      if (!s.acked && s.xmits > 0 && s.sentAt + rtt <= now) this.#setDue(s, now, "lost");
    }
    this.#rtoAt = this.#flightBytes > 0 ? now + this.rto : Infinity;
  }

  // ---- timers ----

  #fireRto(now: number): void {
    this.#rtoAt = Infinity;
    const oldest = this.#flight.find((s) => !s.acked && s.xmits > 0);
    if (!oldest) return;
    this.#backoff = Math.min(this.#backoff + 1, 30);
    this.cc.onLoss(oldest.sentAt, now);
    this.#setDue(oldest, now, "timeout");
  }

  #fireProbe(now: number): void {
    this.#probeAt = Infinity;
    if (this.probeOnly) return;
    const last = this.newestUnacked([]).next().value;
    if (!last || last.why !== undefined) return;
    this.#probing = true;
    this.counters.tailProbes++;
    this.#setDue(last, now, "probe");
    // "After attempting to send a loss probe, ... the sender MUST re-arm the RTO timer, not the
    // PTO timer" (RFC 8985 section 7.3).
    this.#rtoAt = now + this.rto;
  }

  #earliestDue(): number {
    if (this.#earliest === undefined) {
      let at = Infinity;
      for (const s of this.#flight) if (!s.acked && s.dueAt < at) at = s.dueAt;
      this.#earliest = at;
    }
    return this.#earliest;
  }

  /** Every change of a segment's dueAt goes through here, keeping #earliest right. */
  #setDue(s: OutSegment, at: number, why: Why | undefined): void {
    if (this.#earliest !== undefined) {
      if (at < this.#earliest) this.#earliest = at;
      else if (s.dueAt === this.#earliest && at > s.dueAt) this.#earliest = undefined;
    }
    s.dueAt = at;
    s.why = why;
  }

  // ---- acknowledgements ----

  /** Oldest sequence number not yet acknowledged. */
  #una(): number {
    return this.#flight[0]?.seq ?? this.#queue.peek()?.seq ?? this.#next;
  }

  onAck({ ack, sacks, echo }: Packet, now: number): void {
    const una = this.#una();
    const newly: OutSegment[] = [];
    // A cumulative ACK beyond what was sent is bogus; ignore it rather than trust it.
    const advance = seqDiff(ack, una);
    if (advance > 0 && advance <= this.#flight.length) {
      for (const s of this.#flight.splice(0, advance)) if (!s.acked) newly.push(s);
    }
    const head = this.#flight.length ? this.#flight[0].seq : ack;
    for (const [start, end] of sacks) {
      const from = Math.max(0, seqDiff(start, head));
      const to = Math.min(this.#flight.length, seqDiff(end, head));
      for (let i = from; i < to; i++) {
        const s = this.#flight[i];
        if (!s.acked && s.xmits > 0) {
          s.acked = true;
          newly.push(s);
        }
      }
    }
    if (newly.length === 0) {
      if (this.#trusted(echo)) this.rtt.seed(elapsed(echo, now));
      return;
    }
    let bytes = 0;
    let newest = -Infinity;
    for (const s of newly) {
      const b = segmentBytes(s);
      bytes += b;
      this.#flightBytes -= b + s.copyBytes;
      // (Nothing due is no reason to look again: that made every ACK a walk of the flight.)
      if (s.dueAt !== Infinity && s.dueAt === this.#earliest) this.#earliest = undefined;
      if (s.resends && echo !== 0) this.#countSpurious(s.resends, echo);
      newest = Math.max(newest, s.sentAt);
    }
    if (this.#trusted(echo)) this.rtt.sample(elapsed(echo, now));
    this.#backoff = 0;
    this.#probing = false;
    this.cc.onAck(bytes, newest);
    this.#detectLoss(newly, now);
    this.#notifyDelivered();
    const outstanding = this.#flightBytes > 0;
    this.#rtoAt = outstanding ? now + this.rto : Infinity;
    this.#probeAt = outstanding && !this.probeOnly
      ? Math.min(now + this.rtt.pto(), this.#rtoAt)
      : Infinity;
  }

  /** The first ACK of a retransmitted segment echoes the transmission the peer had last heard
   * when it sent the ACK. Every retransmission sent after that one was not needed: the segment
   * had arrived before it. Sound while datagrams keep their order; a datagram overtaken by the
   * retransmission and arriving after it makes the echo older and counts one too many. */
  #countSpurious(resends: { at: number; timeout: boolean }[], echo: number): void {
    for (const r of resends) {
      if (!stampedBefore(echo, timestamp(r.at))) continue;
      this.counters.spuriousRetransmits++;
      if (r.timeout) this.counters.spuriousTimeouts++;
    }
  }

  /** RACK (RFC 8985 section 6.2): the most recently sent delivered segment, ties broken by
   * sequence, marks every segment sent before it lost once the reordering window has passed. */
  #detectLoss(newly: OutSegment[], now: number): void {
    for (const s of newly) {
      // An ACK of a retransmission that arrives faster than any RTT is for the original.
      if (s.xmits > 1 && now - s.sentAt < this.rtt.min) continue;
      if (this.#sentAfterRack(s.sentAt, s.seq)) {
        this.#rackSentAt = s.sentAt;
        this.#rackSeq = s.seq;
      }
    }
    const reoWnd = Math.max(CLOCK_GRANULARITY, this.rtt.min / 4);
    const wait = Math.max(this.rtt.latest, CLOCK_GRANULARITY) + reoWnd;
    for (const s of this.#flight) {
      const after = this.#sentAfterRack(s.sentAt, s.seq);
      // The flight is in sequence order, and first transmissions went out in that order: every
      // segment past one first sent after the RACK segment was first sent later still.
      if (after && s.xmits === 1) break;
      if (after || s.acked || s.xmits === 0 || s.why !== undefined) continue;
      this.cc.onLoss(s.sentAt, now);
      this.#setDue(s, Math.max(now, s.sentAt + wait), "lost");
    }
  }

  /** Whether a segment sent at `sentAt` with `seq` is later than the RACK segment. */
  #sentAfterRack(sentAt: number, seq: number): boolean {
    return sentAt > this.#rackSentAt ||
      (sentAt === this.#rackSentAt && seqLess(this.#rackSeq, seq));
  }

  /** The peer's durable point moved: messages it now has on disk are delivered. A point beyond
   * what we sent is bogus and ignored. */
  onDurable(durable: number): void {
    if (!seqLess(this.#peerDurable, durable) || seqLess(this.#next, durable)) return;
    this.#peerDurable = durable;
    this.#notifyDelivered();
  }

  /** Messages acknowledged in full and below the peer's durable point. */
  #notifyDelivered(): void {
    const una = this.#una();
    for (
      let m = this.#messages.peek();
      m && seqLess(m.lastSeq, una) && seqLess(m.lastSeq, this.#peerDurable);
      m = this.#messages.peek()
    ) {
      this.#messages.shift();
      this.#onDelivered(m.tag);
    }
  }
}
