/**
 * One reliable, ordered message stream in each direction between two known peer incarnations.
 * A pure state machine in the style of KCP: datagrams and the time go in, datagrams come out
 * through `output`; nothing here reads a clock or touches a socket.
 *
 * Sending: selective repeat with up to SEND_WINDOW segments in flight; a retransmission timeout
 * per RFC 6298 (SRTT/RTTVAR, capped doubling). RTT comes from timestamp echoes (RFC 7323), which
 * settle Karn's ambiguity exactly: an ACK echoes the transmission that caused it, original or
 * retransmission, so no sample is ever attributed to the wrong one; RACK-style fast retransmit when a
 * segment sent later has been acknowledged; one tail-loss probe per flight; token-bucket pacing;
 * and loss-adaptive redundancy: while the peer reports loss, small datagrams are sent twice and
 * carry copies of the newest unacknowledged segments.
 * Receiving: duplicate suppression, a reorder buffer, fragment reassembly, immediate ACKs.
 */
import { concat } from "../bytes.ts";
import {
  BUNDLE_MAX,
  CLOCK_GRANULARITY,
  COALESCE_FLIGHT,
  COALESCE_MS,
  LOSS_EWMA,
  LOSS_GRACE,
  LOSS_PRIOR,
  LOSS_WINDOW,
  LOSS_WINDOWS_OPEN,
  MAX_FLIGHT_BYTES,
  MAX_MESSAGE,
  MAX_PACKET,
  MAX_SACK_RANGES,
  PACE_BURST,
  PACE_PER_MS,
  RECEIVE_WINDOW,
  REDUNDANCY_LOSS,
  REDUNDANCY_MAX_BYTES,
  RTO_INITIAL,
  RTO_MAX,
  RTO_MIN,
  SEND_WINDOW,
} from "./constants.ts";
import {
  encode,
  encodedSize,
  FLAG_ACK,
  MAX_SEGMENT_DATA,
  type Packet,
  PacketType,
  type Segment,
  SEGMENT_HEADER_SIZE,
} from "./codec.ts";
import { Fifo } from "./fifo.ts";
import { seqAdd, seqDiff, seqLess } from "./seq.ts";

export interface ArqOptions {
  srcEpoch: number;
  dstEpoch: number;
  /** First sequence number of both directions. Only tests change it (to cross 2^32). */
  initialSeq?: number;
  output: (datagram: Uint8Array) => void;
  onMessage: (data: Uint8Array) => void;
  /** A message is acknowledged and the peer has it on disk (its "durable" point passed it). */
  onDelivered: (tag: number) => void;
  /** What we receive is stored asynchronously: the durable point we advertise moves only through
   * markDurable(). Without it, whatever is delivered counts as stored. */
  durableMarks?: boolean;
}

export interface ArqStats {
  srtt: number;
  rttvar: number;
  rto: number;
  inFlight: number;
  queued: number;
  retransmits: number;
  timeouts: number;
  fastRetransmits: number;
  tailProbes: number;
  redundant: number;
  /** Copies of unacknowledged segments carried in later datagrams. */
  bundled: number;
  duplicates: number;
  outOfWindow: number;
  lossIn: number;
  lossOut: number;
  datagramsOut: number;
}

interface OutSegment {
  seq: number;
  frg: number;
  data: Uint8Array;
  sentAt: number;
  xmits: number;
  rto: number;
  deadline: number;
  acked: boolean;
  /** Marked lost by RACK or the tail probe: retransmit without backing off. */
  lost: boolean;
  /** A whole message of at most REDUNDANCY_MAX_BYTES: what "send small messages twice" means. */
  small: boolean;
}

export interface PendingMessage {
  tag: number;
  data: Uint8Array;
}

interface OutMessage extends PendingMessage {
  lastSeq: number;
}

/** The counters an Arq keeps, all zero. */
function zeroCounters() {
  return {
    retransmits: 0,
    timeouts: 0,
    fastRetransmits: 0,
    tailProbes: 0,
    redundant: 0,
    duplicates: 0,
    outOfWindow: 0,
    datagramsOut: 0,
    bundled: 0,
  };
}

/** The stats of a stream that has not started. */
export function zeroStats(): ArqStats {
  return {
    srtt: 0,
    rttvar: 0,
    rto: RTO_INITIAL,
    inFlight: 0,
    queued: 0,
    lossIn: 0,
    lossOut: 0,
    ...zeroCounters(),
  };
}

/** Timestamps count 10 µs ticks, enough to time a LAN; 0 is reserved for "none". */
export function timestamp(now: number): number {
  return (Math.round(now * 100) >>> 0) || 1;
}

function elapsed(echo: number, now: number): number {
  return ((timestamp(now) - echo) >>> 0) / 100;
}

/** An echo claiming a minute or more is from a clock we do not share: ignore it. */
const RTT_SANITY = 60_000;

const BASE_SIZE = encodedSize(0, []);
const SACK_BYTES = 8;

/** What a segment takes in a packet. */
function segmentBytes(s: { data: Uint8Array }): number {
  return SEGMENT_HEADER_SIZE + s.data.length;
}

export class Arq {
  #o: ArqOptions;
  // Sender
  #sndNext: number;
  #flight: OutSegment[] = [];
  /** Sum of segmentBytes over the unacknowledged segments in #flight. */
  #flightBytes = 0;
  /** The smallest deadline among unacknowledged segments in #flight, or undefined when it has to
   * be found again; kept by #setDeadline and #settled, so a send or a tick need not scan. */
  #earliest: number | undefined = Infinity;
  #queue = new Fifo<OutSegment>();
  #messages = new Fifo<OutMessage>();
  #srtt = 0;
  #rttvar = 0;
  #rto = RTO_INITIAL;
  #minRtt = Infinity;
  #rackSentAt = -Infinity;
  #probeAt = Infinity;
  /** When coalesced new data must go out at the latest. */
  #coalesceAt = Infinity;
  #tokens = PACE_BURST;
  #tokensAt = -Infinity;
  #pn = 0;
  #lossOut = 0;
  /** The peer's durable point: what it has stored. */
  #peerDurable: number;
  // Receiver
  #rcvNext: number;
  #reorder = new Map<number, Segment>();
  #lastReceived = -1;
  #sackCache: [number, number][] | undefined;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #ackPending = false;
  /** Our durable point, advertised when durableMarks is set. */
  #durable: number;
  #pnBase = -1;
  #pnSeen: number[] = new Array(LOSS_WINDOWS_OPEN).fill(0);
  /** When a later window first got a datagram; a window is measured LOSS_GRACE after that. */
  #pnClosedAt: number[] = new Array(LOSS_WINDOWS_OPEN).fill(Infinity);
  #lossIn = LOSS_PRIOR;
  #lossMeasured = false;
  #echo = 0;
  /** While the peer is unreachable only the oldest segment is retried and no new data goes out. */
  probeOnly = false;
  #stats = zeroCounters();

  constructor(options: ArqOptions) {
    this.#o = options;
    this.#sndNext = this.#rcvNext = (options.initialSeq ?? 0) >>> 0;
    this.#durable = this.#peerDurable = this.#sndNext;
  }

  /** Queues a message (split into fragments); `tag` comes back through onDelivered. */
  send(data: Uint8Array, tag: number, now: number): void {
    if (data.length > MAX_MESSAGE) {
      throw new RangeError(`Cannot send message: ${data.length} bytes exceeds ${MAX_MESSAGE}`);
    }
    const count = Math.max(1, Math.ceil(data.length / MAX_SEGMENT_DATA));
    for (let i = 0; i < count; i++) {
      this.#queue.push({
        seq: this.#sndNext,
        frg: count - 1 - i,
        data: data.subarray(i * MAX_SEGMENT_DATA, (i + 1) * MAX_SEGMENT_DATA),
        sentAt: -1,
        xmits: 0,
        rto: 0,
        deadline: Infinity,
        acked: false,
        lost: false,
        small: count === 1 && data.length <= REDUNDANCY_MAX_BYTES,
      });
      this.#sndNext = seqAdd(this.#sndNext, 1);
    }
    this.#messages.push({ tag, data, lastSeq: seqAdd(this.#sndNext, -1) });
    if (this.#flight.length < COALESCE_FLIGHT) this.flush(now);
    else if (this.#coalesceAt === Infinity) this.#coalesceAt = now + COALESCE_MS;
  }

  /** Messages the peer has not yet both acknowledged and stored, in order: what a new stream must
   * carry again. */
  pending(): PendingMessage[] {
    return this.#messages.toArray().map(({ tag, data }) => ({ tag, data }));
  }

  get pendingCount(): number {
    return this.#messages.length;
  }

  /** Segments queued and not yet transmitted (lib/files/udp_stream.ts feeds files only at 0). */
  get unsent(): number {
    return this.#queue.length;
  }

  /** A HELLO from the peer. Its timestamp is what our first packets echo until one of the peer's
   * own arrives, and its echo of ours is a sample: both sides time the handshake, so a message
   * lost right after connecting is not held for RTO_INITIAL. */
  noteHello({ ts, echo }: Packet, now: number): void {
    if (this.#echo === 0) this.#echo = ts;
    this.#seedRtt(echo, now);
  }

  /** What a HELLO of ours echoes: the newest timestamp the peer sent. */
  get echo(): number {
    return this.#echo;
  }

  /** Until the first sample, any echo is one. An echo that comes late may be of an old packet, so
   * it may only lower the RTO. */
  #seedRtt(echo: number, now: number): void {
    const r = elapsed(echo, now);
    if (this.#srtt === 0 && echo !== 0 && r < RTO_INITIAL) this.#sampleRtt(r);
  }

  input(p: Packet, now: number): void {
    this.#notePacketNumber(p.pn, now);
    this.#echo = p.ts;
    this.#lossOut = p.loss / 255;
    if (p.flags & FLAG_ACK) {
      this.#onAck(p, now);
      this.#onDurable(p.durable);
    }
    for (const s of p.segments) this.#onSegment(s);
    this.flush(now);
  }

  /** Where our receiving stands: everything before it has been delivered. */
  receiveMark(): number {
    return this.#rcvNext;
  }

  /** Everything before `mark` (an earlier receiveMark) is stored: tells the peer, at once. */
  markDurable(mark: number, now: number): void {
    if (!seqLess(this.#durable, mark) || seqLess(this.#rcvNext, mark)) return;
    this.#durable = mark;
    this.flush(now, true);
  }

  tick(now: number): void {
    if (now >= this.#probeAt) this.#fireTailProbe();
    this.flush(now);
  }

  nextDeadline(): number {
    let at = Math.min(this.#probeAt, this.#coalesceAt, this.#earliestDeadline());
    if (this.#peekNew()) at = Math.min(at, this.#tokensAt);
    if (at === Infinity) return at;
    return this.#tokens >= 1 ? at : Math.max(at, this.#tokensAt + (1 - this.#tokens) / PACE_PER_MS);
  }

  /** Sends what is due: retransmissions, new segments, and an ACK if one is owed or `force`d. */
  flush(now: number, force = false): void {
    this.#refill(now);
    this.#coalesceAt = Infinity;
    const sacks = this.#sackRanges();
    const base = BASE_SIZE + sacks.length * SACK_BYTES;
    const due = this.#due(now);
    let d = 0;
    let sent = false;
    while (this.#tokens >= 1) {
      const segs: OutSegment[] = [];
      let size = base;
      for (;;) {
        const old = d < due.length;
        const s = old ? due[d] : this.#peekNew();
        if (!s || size + segmentBytes(s) > MAX_PACKET) break;
        if (old) d++;
        else this.#flight.push(this.#queue.shift()!);
        size += segmentBytes(s);
        segs.push(s);
      }
      if (segs.length === 0) break;
      const resend = segs.some((s) => s.xmits > 0);
      for (const s of segs) this.#transmit(s, now);
      this.#emit(PacketType.data, sacks, this.#bundle(segs, size), resend);
      this.#tokens -= 1;
      sent = true;
    }
    if (sent) {
      if (this.#probeAt === Infinity) this.#armProbe(now);
    } else if (this.#ackPending || force) {
      this.#emit(PacketType.data, sacks, []);
    }
  }

  /** Tells the peer we are leaving (sent twice; it is a courtesy, not a guarantee). */
  bye(now: number): void {
    this.#now = now;
    const sacks = this.#sackRanges();
    this.#emit(PacketType.bye, sacks, []);
    this.#emit(PacketType.bye, sacks, []);
  }

  stats(): ArqStats {
    return {
      srtt: this.#srtt,
      rttvar: this.#rttvar,
      rto: this.#rto,
      inFlight: this.#flight.filter((s) => !s.acked && s.xmits > 0).length,
      queued: this.#queue.length,
      lossIn: this.#lossIn,
      lossOut: this.#lossOut,
      ...this.#stats,
    };
  }

  // ---- sending ----

  /** The next unsent segment, if the window and the peer's state let it go now. */
  #peekNew(): OutSegment | undefined {
    if (
      this.probeOnly || this.#flight.length >= SEND_WINDOW || this.#flightBytes >= MAX_FLIGHT_BYTES
    ) return undefined;
    return this.#queue.peek();
  }

  #due(now: number): OutSegment[] {
    const due: OutSegment[] = [];
    if (this.#earliestDeadline() > now) return due;
    for (const s of this.#flight) {
      if (s.acked || s.xmits === 0 || s.deadline > now) continue;
      // Probing an absent peer: the oldest segment goes; the rest wait a full timeout.
      if (this.probeOnly && due.length > 0) this.#setDeadline(s, now + s.rto);
      else due.push(s);
    }
    return due;
  }

  #earliestDeadline(): number {
    if (this.#earliest === undefined) {
      let at = Infinity;
      for (const s of this.#flight) if (!s.acked && s.deadline < at) at = s.deadline;
      this.#earliest = at;
    }
    return this.#earliest;
  }

  /** Every change of a segment's deadline goes through here, keeping #earliest right. */
  #setDeadline(s: OutSegment, deadline: number): void {
    if (this.#earliest !== undefined) {
      if (deadline < this.#earliest) this.#earliest = deadline;
      else if (s.deadline === this.#earliest && deadline > s.deadline) this.#earliest = undefined;
    }
    s.deadline = deadline;
  }

  /** A segment was acknowledged: if it held the earliest deadline, that must be found again. */
  #settled(s: OutSegment): void {
    if (s.deadline === this.#earliest) this.#earliest = undefined;
  }

  #transmit(s: OutSegment, now: number): void {
    if (s.xmits === 0) {
      s.rto = this.#rto;
      this.#flightBytes += segmentBytes(s);
    } else {
      this.#stats.retransmits++;
      if (s.lost) {
        this.#stats.fastRetransmits++;
      } else {
        this.#stats.timeouts++;
        s.rto = Math.min(s.rto * 2, RTO_MAX);
      }
    }
    s.xmits++;
    s.sentAt = now;
    s.lost = false;
    this.#setDeadline(s, now + s.rto);
  }

  /** Sends one datagram. Under measured loss it goes twice when it is small, when it holds only
   * small messages (a burst of chat lines packed together), or when it is a retransmission (a
   * second loss of the same segment is what makes the tail long). Fragments of long messages are
   * left to retransmission. */
  #emit(type: PacketType, sacks: [number, number][], segs: OutSegment[], resend = false): void {
    const make = () =>
      encode({
        type,
        flags: FLAG_ACK,
        loss: Math.round(this.#lossIn * 255),
        srcEpoch: this.#o.srcEpoch,
        dstEpoch: this.#o.dstEpoch,
        pn: this.#pn = seqAdd(this.#pn, 1),
        ack: this.#rcvNext,
        ts: timestamp(this.#now),
        echo: this.#echo,
        durable: this.#o.durableMarks ? this.#durable : this.#rcvNext,
        sacks,
        segments: segs,
      });
    const datagram = make();
    this.#ackPending = false;
    this.#stats.datagramsOut++;
    this.#o.output(datagram);
    if (
      type === PacketType.data && this.#lossOut >= REDUNDANCY_LOSS &&
      (datagram.length <= REDUNDANCY_MAX_BYTES || resend || segs.every((s) => s.small))
    ) {
      this.#stats.redundant++;
      this.#stats.datagramsOut++;
      this.#o.output(make());
    }
  }

  #now = 0;

  /** Adds copies of the newest unacknowledged segments while loss is measured and room lasts. */
  #bundle(segs: OutSegment[], size: number): OutSegment[] {
    if (this.#lossOut < REDUNDANCY_LOSS) return segs;
    const out = segs.slice();
    for (let i = this.#flight.length - 1, n = 0; i >= 0 && n < BUNDLE_MAX; i--) {
      const s = this.#flight[i];
      if (s.acked || segs.includes(s)) continue;
      const extra = segmentBytes(s);
      if (size + extra > REDUNDANCY_MAX_BYTES) break;
      out.push(s);
      size += extra;
      n++;
      this.#stats.bundled++;
    }
    return out;
  }

  #refill(now: number): void {
    this.#now = now;
    if (this.#tokensAt === -Infinity) this.#tokensAt = now;
    // The epsilon absorbs rounding, so a timer set for the next whole token always finds one.
    const refill = (now - this.#tokensAt) * PACE_PER_MS + 1e-9;
    this.#tokens = Math.min(PACE_BURST, this.#tokens + refill);
    this.#tokensAt = now;
  }

  /** Probe timeout: sooner than the RTO (SRTT + 4·RTTVAR), so a lost tail costs less. */
  #armProbe(now: number): void {
    const pto = this.#srtt === 0 ? this.#rto : this.#srtt + 2 * this.#rttvar + CLOCK_GRANULARITY;
    this.#probeAt = this.#flight.some((s) => !s.acked && s.xmits > 0)
      ? now + Math.max(RTO_MIN, pto)
      : Infinity;
  }

  #fireTailProbe(): void {
    this.#probeAt = Infinity;
    for (let i = this.#flight.length - 1; i >= 0; i--) {
      const s = this.#flight[i];
      if (s.acked || s.xmits === 0) continue;
      s.lost = true;
      this.#setDeadline(s, 0);
      this.#stats.tailProbes++;
      return;
    }
  }

  // ---- acknowledgements ----

  /** Oldest sequence number not yet acknowledged. */
  #una(): number {
    return this.#flight[0]?.seq ?? this.#queue.peek()?.seq ?? this.#sndNext;
  }

  #onAck({ ack, sacks, echo }: Packet, now: number): void {
    const una = this.#una();
    const newly: OutSegment[] = [];
    // A cumulative ACK beyond what was sent is bogus; ignore it rather than trust it.
    const sent = this.#flight.length;
    const advance = seqDiff(ack, una);
    if (advance > 0 && advance <= sent) {
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
    if (newly.length === 0) return this.#seedRtt(echo, now);
    for (const s of newly) {
      this.#flightBytes -= segmentBytes(s);
      this.#settled(s);
    }
    if (echo !== 0) this.#sampleRtt(elapsed(echo, now));
    this.#detectLoss(newly, now);
    this.#notifyDelivered();
    this.#armProbe(now);
  }

  /** RFC 6298, from an ACK that acknowledged new data and echoed the transmission behind it. */
  #sampleRtt(r: number): void {
    if (r > RTT_SANITY) return;
    this.#minRtt = Math.min(this.#minRtt, r);
    if (this.#srtt === 0) {
      this.#srtt = Math.max(r, 0.01);
      this.#rttvar = r / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - r);
      this.#srtt = 0.875 * this.#srtt + 0.125 * r;
    }
    const rto = this.#srtt + Math.max(CLOCK_GRANULARITY, 4 * this.#rttvar);
    this.#rto = Math.min(RTO_MAX, Math.max(RTO_MIN, rto));
  }

  /** RACK: a segment sent before one that has been acknowledged is lost once a reordering
   * window (a quarter RTT) has passed since it would have arrived. */
  #detectLoss(newly: OutSegment[], now: number): void {
    for (const s of newly) {
      // An ACK of a retransmission that arrives faster than any RTT is for the original.
      if (s.xmits > 1 && now - s.sentAt < this.#minRtt) continue;
      if (s.sentAt > this.#rackSentAt) this.#rackSentAt = s.sentAt;
    }
    const wait = this.#srtt + Math.max(CLOCK_GRANULARITY, this.#srtt / 4);
    for (const s of this.#flight) {
      if (s.acked || s.xmits === 0 || s.sentAt >= this.#rackSentAt) continue;
      const lostAt = s.sentAt + wait;
      if (lostAt < s.deadline) {
        this.#setDeadline(s, lostAt);
        s.lost = true;
      }
    }
  }

  /** The peer's durable point moved: messages it now has on disk are delivered. A point beyond
   * what we sent is bogus and ignored. */
  #onDurable(durable: number): void {
    if (!seqLess(this.#peerDurable, durable) || seqLess(this.#sndNext, durable)) return;
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
      this.#o.onDelivered(m.tag);
    }
  }

  // ---- receiving ----

  /** Inbound loss: the share of each window of packet numbers that never arrived. Several
   * windows stay open, so a datagram overtaken by later ones still counts as received. */
  #notePacketNumber(pn: number, now: number): void {
    if (this.#pnBase === -1) this.#pnBase = pn;
    const offset = seqDiff(pn, this.#pnBase);
    if (offset < 0) return; // later than any window still open
    let w = Math.floor(offset / LOSS_WINDOW);
    if (w >= 2 * LOSS_WINDOWS_OPEN) {
      // A long silence of ours or theirs: start measuring afresh rather than replay the gap.
      this.#pnBase = seqAdd(pn, -(offset % LOSS_WINDOW));
      this.#pnSeen.fill(0);
      this.#pnClosedAt.fill(Infinity);
      w = 0;
    }
    for (; w >= LOSS_WINDOWS_OPEN; w--) this.#measureOldestWindow();
    this.#pnSeen[w]++;
    for (let i = 0; i < w; i++) this.#pnClosedAt[i] = Math.min(this.#pnClosedAt[i], now);
    while (this.#pnClosedAt[0] <= now - LOSS_GRACE) this.#measureOldestWindow();
  }

  #measureOldestWindow(): void {
    const seen = Math.min(this.#pnSeen.shift()!, LOSS_WINDOW);
    this.#pnSeen.push(0);
    this.#pnClosedAt.shift();
    this.#pnClosedAt.push(Infinity);
    const loss = 1 - seen / LOSS_WINDOW;
    this.#lossIn = this.#lossMeasured ? this.#lossIn + LOSS_EWMA * (loss - this.#lossIn) : loss;
    this.#lossMeasured = true;
    this.#pnBase = seqAdd(this.#pnBase, LOSS_WINDOW);
  }

  #onSegment(s: Segment): void {
    this.#ackPending = true;
    const offset = seqDiff(s.seq, this.#rcvNext);
    if (offset < 0 || this.#reorder.has(s.seq)) {
      this.#stats.duplicates++;
      return;
    }
    if (offset >= RECEIVE_WINDOW) {
      this.#stats.outOfWindow++;
      return;
    }
    this.#reorder.set(s.seq, s);
    this.#lastReceived = s.seq;
    this.#sackCache = undefined;
    for (
      let next = this.#reorder.get(this.#rcvNext);
      next;
      next = this.#reorder.get(this.#rcvNext)
    ) {
      this.#reorder.delete(this.#rcvNext);
      this.#rcvNext = seqAdd(this.#rcvNext, 1);
      this.#reassemble(next);
    }
  }

  #reassemble(s: Segment): void {
    this.#fragments.push(s.data);
    this.#fragmentBytes += s.data.length;
    if (this.#fragmentBytes > MAX_MESSAGE) {
      // A peer that never ends a message would grow memory without bound; drop what it sent.
      this.#fragments = [];
      this.#fragmentBytes = 0;
      this.#stats.outOfWindow++;
      return;
    }
    if (s.frg !== 0) return;
    const parts = this.#fragments;
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#o.onMessage(parts.length === 1 ? parts[0] : concat(parts));
  }

  /** The range holding the newest arrival first (RFC 2018), then the lowest holes. */
  #sackRanges(): [number, number][] {
    if (this.#reorder.size === 0) return [];
    return this.#sackCache ??= this.#computeSackRanges();
  }

  #computeSackRanges(): [number, number][] {
    const offsets = [...this.#reorder.keys()].map((k) => seqDiff(k, this.#rcvNext)).sort((a, b) =>
      a - b
    );
    const ranges: [number, number][] = [];
    for (const o of offsets) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === o) last[1] = o + 1;
      else ranges.push([o, o + 1]);
    }
    const newest = seqDiff(this.#lastReceived, this.#rcvNext);
    const first = ranges.findIndex(([a, b]) => a <= newest && newest < b);
    const ordered = first > 0 ? [ranges[first], ...ranges.filter((_, i) => i !== first)] : ranges;
    return ordered.slice(0, MAX_SACK_RANGES).map((
      [a, b],
    ) => [seqAdd(this.#rcvNext, a), seqAdd(this.#rcvNext, b)]);
  }
}
