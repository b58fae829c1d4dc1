/**
 * One reliable, ordered message stream in each direction between two known peer incarnations.
 * A pure state machine in the style of KCP: datagrams and the time go in, datagrams come out
 * through `output`; nothing here reads a clock or touches a socket.
 *
 * The jobs live in their own files: the RTT estimator (rtt.ts), the pacer (pacer.ts), the
 * congestion controller (congestion.ts), the loss meter and redundancy policy (loss_meter.ts),
 * the sender with RACK-TLP and the RTO (sender.ts), the receiver with reassembly (receiver.ts),
 * when to acknowledge (acks.ts) and fragmentation (fragment.ts). This file packs what they have to send into datagrams: selective
 * repeat with SACKs, paced, within the congestion window, and, while the peer reports loss on an
 * uncongested path, small datagrams sent twice and carrying copies of the newest unacknowledged
 * segments.
 */
import {
  BUNDLE_MAX,
  COALESCE_FLIGHT,
  COALESCE_MS,
  DEFAULT_RECEIVE_BUFFER,
  MAX_PACKET,
  RECEIVE_BUFFER_CLASS_MAX,
  REDUNDANCY_LOSS,
  REDUNDANCY_MAX_BYTES,
  SUSPENDED_AFTER,
} from "../constants.ts";
import {
  BUFFER_CLASS_SHIFT,
  encode,
  encodedSize,
  FLAG_ACK,
  MAX_BUFFER_CLASS,
  MAX_SEGMENT_DATA,
  type Packet,
  PacketType,
} from "../codec.ts";
import { seqAdd } from "../seq.ts";
import { AckSchedule } from "./acks.ts";
import { LossMeter, mayCopy, type RedundancyBudget } from "./loss_meter.ts";
import { Pacer } from "./pacer.ts";
import { Receiver } from "./receiver.ts";
import { type OutSegment, type PendingMessage, segmentBytes, Sender } from "./sender.ts";
import { elapsed, timestamp } from "./rtt.ts";

export { timestamp };
export type { PendingMessage };

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
  /** Bytes our socket's receive buffer holds (SO_RCVBUF), told to the peer as a class (codec.ts);
   * unknown is taken as DEFAULT_RECEIVE_BUFFER. */
  receiveBuffer?: number;
}

/** The receive buffer class of a socket buffer of `bytes`: one per doubling past the default. */
export function bufferClass(bytes: number | undefined): number {
  if (bytes === undefined || !(bytes >= DEFAULT_RECEIVE_BUFFER)) return 0;
  const k = Math.floor(Math.log2(bytes / DEFAULT_RECEIVE_BUFFER));
  return Math.min(k, RECEIVE_BUFFER_CLASS_MAX);
}

export interface ArqStats {
  srtt: number;
  rttvar: number;
  /** The RTO with its backoff, ms. */
  rto: number;
  /** Timeouts since the last ACK of new data: the RTO is doubled this many times. */
  backoff: number;
  /** Smallest RTT seen (0 before the first sample). */
  minRtt: number;
  /** Congestion window and slow-start threshold in bytes (0: no threshold yet). */
  cwnd: number;
  ssthresh: number;
  congestionEvents: number;
  randomLosses: number;
  inFlight: number;
  queued: number;
  retransmits: number;
  timeouts: number;
  fastRetransmits: number;
  tailProbes: number;
  /** Retransmissions that were not needed (sender.ts says how they are told), and of those the
   * ones the RTO sent. */
  spuriousRetransmits: number;
  spuriousTimeouts: number;
  /** spuriousRetransmits / retransmits (0 before any retransmission). */
  spuriousRate: number;
  redundant: number;
  /** Copies of unacknowledged segments carried in later datagrams. */
  bundled: number;
  duplicates: number;
  outOfWindow: number;
  lossIn: number;
  lossOut: number;
  datagramsOut: number;
}

/** The stats of a stream that has not started. */
export function zeroStats(): ArqStats {
  const a = new Arq({
    srcEpoch: 1,
    dstEpoch: 1,
    output: () => {},
    onMessage: () => {},
    onDelivered: () => {},
  });
  return { ...a.stats(), lossIn: 0 };
}

/** The share of retransmissions that were not needed. */
export function spuriousRate(s: { spuriousRetransmits: number; retransmits: number }): number {
  return s.retransmits === 0 ? 0 : s.spuriousRetransmits / s.retransmits;
}

const BASE_SIZE = encodedSize(0, []);
const SACK_BYTES = 8;

export class Arq {
  #o: ArqOptions;
  #sender: Sender;
  #receiver: Receiver;
  #meter = new LossMeter();
  #acks = new AckSchedule();
  #pacer: Pacer;
  /** When coalesced new data must go out at the latest. */
  #coalesceAt = Infinity;
  #pn = 0;
  #lossOut = 0;
  #echo = 0;
  #now = 0;
  /** When the peer was last heard from. */
  #heardAt = -Infinity;
  /** The flags of everything we send: FLAG_ACK and our receive buffer class. */
  #flags: number;
  #counts = { redundant: 0, bundled: 0, datagramsOut: 0 };

  constructor(options: ArqOptions) {
    this.#o = options;
    const seq = (options.initialSeq ?? 0) >>> 0;
    this.#sender = new Sender(seq, options.onDelivered);
    this.#receiver = new Receiver(seq, options.onMessage);
    const cc = this.#sender.cc;
    this.#pacer = new Pacer(cc.pacingRate(), cc.pacingBurst());
    this.#flags = FLAG_ACK | (bufferClass(options.receiveBuffer) << BUFFER_CLASS_SHIFT);
  }

  /** While the peer is unreachable only the oldest segment is retried and no new data goes out. */
  get probeOnly(): boolean {
    return this.#sender.probeOnly;
  }

  set probeOnly(on: boolean) {
    this.#sender.probeOnly = on;
  }

  /** Queues a message (split into fragments); `tag` comes back through onDelivered. */
  send(data: Uint8Array, tag: number, now: number): void {
    this.#sender.enqueue(data, tag);
    if (this.#sender.flightLength < COALESCE_FLIGHT) this.flush(now);
    else if (this.#coalesceAt === Infinity) this.#coalesceAt = now + COALESCE_MS;
  }

  /** Messages the peer has not yet both acknowledged and stored, in order: what a new stream must
   * carry again. */
  pending(): PendingMessage[] {
    return this.#sender.pending();
  }

  get pendingCount(): number {
    return this.#sender.pendingCount;
  }

  /** Segments queued and not yet transmitted (lib/files/udp_stream.ts feeds files only at 0). */
  get unsent(): number {
    return this.#sender.queued;
  }

  /** A HELLO from the peer. Its timestamp is what our first packets echo until one of the peer's
   * own arrives, and its echo of ours is a sample: both sides time the handshake, so a message
   * lost right after connecting is not held for RTO_INITIAL. It also ends any backoff. */
  noteHello({ ts, echo }: Packet, now: number): void {
    if (this.#echo === 0) this.#echo = ts;
    if (echo !== 0) this.#sender.rtt.seed(elapsed(echo, now));
    this.#sender.endBackoff(now);
  }

  /** What a HELLO of ours echoes: the newest timestamp the peer sent. */
  get echo(): number {
    return this.#echo;
  }

  /** Takes in a packet and sends what is due, unless `more` packets arrived with it and follow at
   * once: then the last of them sends for all (one ACK, one burst of data; a receive batch of
   * recvmmsg, lib/net/udp_native.ts), unless it shows disorder (acks.ts). */
  input(p: Packet, now: number, more = false): void {
    this.#meter.note(p.pn, now);
    this.#echo = p.ts;
    this.#lossOut = p.loss / 255;
    this.#sender.peerBufferClass = (p.flags >> BUFFER_CLASS_SHIFT) & MAX_BUFFER_CLASS;
    if (p.flags & FLAG_ACK) {
      // The first ACK after a dark spell echoes transmissions that waited it out. One that comes
      // while the peer keeps answering times the path, after a timeout too: a spurious timeout
      // behind a filling queue (an RTO from a 1 ms handshake, a 100 ms queue) otherwise threw
      // away every sample that would have raised the RTO, and the timeouts went on (measured:
      // 91% queue drops at 1 Mbit/s, bench:congestion).
      const silent = now - this.#heardAt >= SUSPENDED_AFTER;
      if (this.#sender.backoff > 0 && silent) this.#sender.distrustEchoesBefore(now);
      this.#sender.onAck(p, now);
      this.#sender.onDurable(p.durable);
    }
    // The peer is there: a backoff left over from a dark spell ends now.
    this.#sender.endBackoff(now);
    this.#heardAt = now;
    if (p.segments.length > 0) {
      let bulk = false;
      for (const s of p.segments) {
        this.#receiver.onSegment(s);
        if (s.data.length >= MAX_SEGMENT_DATA) bulk = true;
      }
      this.#acks.received(bulk, this.#receiver.takeDisorder(), now);
    }
    if (!more || this.#acks.urgent) this.flush(now);
  }

  /** Where our receiving stands: everything before it has been delivered. */
  receiveMark(): number {
    return this.#receiver.next;
  }

  /** Everything before `mark` (an earlier receiveMark) is stored: tells the peer with the next
   * ACK (acks.ts says when). */
  markDurable(mark: number, now: number): void {
    if (!this.#receiver.markDurable(mark)) return;
    this.#acks.durable(now);
    this.flush(now);
  }

  tick(now: number): void {
    this.flush(now);
  }

  /** This process was suspended or stalled: echoes of what it sent before give no RTT sample. */
  resumed(now: number): void {
    this.#sender.distrustEchoesBefore(now);
  }

  nextDeadline(): number {
    let at = Math.min(this.#coalesceAt, this.#sender.nextDeadline());
    if (this.#sender.peekNew()) at = Math.min(at, this.#pacer.readyAt());
    // ACKs are not paced.
    if (at === Infinity) return this.#acks.deadline;
    return Math.min(Math.max(at, this.#pacer.readyAt()), this.#acks.deadline);
  }

  /** Sends what is due: retransmissions, new segments, and an ACK if one is owed or `force`d. */
  flush(now: number, force = false): void {
    this.#now = now;
    const cc = this.#sender.cc;
    this.#pacer.configure(cc.pacingRate(), cc.pacingBurst());
    this.#pacer.refill(now);
    this.#coalesceAt = Infinity;
    const sacks = this.#receiver.sackRanges();
    const base = BASE_SIZE + sacks.length * SACK_BYTES;
    const due = this.#sender.due(now);
    let d = 0;
    let sent = false;
    while (this.#pacer.ready) {
      const segs: OutSegment[] = [];
      let size = base;
      for (;;) {
        const old = d < due.length;
        const s = old ? due[d] : this.#sender.peekNew();
        if (!s || size + segmentBytes(s) > MAX_PACKET) break;
        if (old) d++;
        else this.#sender.takeNew();
        size += segmentBytes(s);
        segs.push(s);
      }
      if (segs.length === 0) break;
      const resend = segs.some((s) => s.xmits > 0);
      for (const s of segs) this.#sender.transmit(s, now);
      const all = this.#bundle(segs, size);
      this.#pacer.spend(this.#emit(PacketType.data, sacks, all));
      this.#maybeRepeat(sacks, all, resend);
      sent = true;
    }
    if (!sent && (force || this.#acks.due(now))) this.#emit(PacketType.data, sacks, []);
  }

  /** Tells the peer we are leaving (sent twice; it is a courtesy, not a guarantee). */
  bye(now: number): void {
    this.#now = now;
    const sacks = this.#receiver.sackRanges();
    this.#emit(PacketType.bye, sacks, []);
    this.#emit(PacketType.bye, sacks, []);
  }

  stats(): ArqStats {
    const s = this.#sender;
    const r = s.rtt;
    return {
      srtt: r.srtt,
      rttvar: r.rttvar,
      rto: s.rto,
      backoff: s.backoff,
      minRtt: r.min === Infinity ? 0 : r.min,
      ...s.cc.stats(),
      inFlight: s.inFlight(),
      queued: s.queued,
      lossIn: this.#meter.loss,
      lossOut: this.#lossOut,
      duplicates: this.#receiver.duplicates,
      outOfWindow: this.#receiver.outOfWindow,
      ...s.counters,
      spuriousRate: spuriousRate(s.counters),
      ...this.#counts,
    };
  }

  // ---- redundancy ----

  #budget(): RedundancyBudget {
    const s = this.#sender;
    return {
      lossOut: this.#lossOut,
      // A timeout is taken as congestion until the peer is heard: a dark path gets one datagram
      // per RTO, not two.
      congested: s.cc.congested(this.#now) || s.backoff > 0,
      flightBytes: s.flightBytes,
      window: s.window,
      backlog: s.peekNew() !== undefined,
    };
  }

  /** A datagram goes twice when it is small, holds only small messages (a burst of chat lines
   * packed together), or is a retransmission (a second loss of the same segment is what makes the
   * tail long), if the budget allows. Fragments of long messages are left to retransmission. */
  #maybeRepeat(sacks: [number, number][], segs: OutSegment[], resend: boolean): void {
    if (this.#lossOut < REDUNDANCY_LOSS || !this.#pacer.ready) return;
    const bytes = segs.reduce((n, s) => n + segmentBytes(s), 0);
    if (!mayCopy(this.#budget(), bytes)) return;
    const small = BASE_SIZE + bytes <= REDUNDANCY_MAX_BYTES || segs.every((s) => s.small);
    if (!small && !resend) return;
    for (const s of segs) this.#sender.copied(s);
    this.#counts.redundant++;
    this.#pacer.spend(this.#emit(PacketType.data, sacks, segs));
  }

  /** Adds copies of the newest unacknowledged segments while room lasts. */
  #bundle(segs: OutSegment[], size: number): OutSegment[] {
    if (this.#lossOut < REDUNDANCY_LOSS) return segs;
    const budget = this.#budget();
    if (!mayCopy(budget, 0)) return segs;
    const out = segs.slice();
    let extraBytes = 0;
    for (const s of this.#sender.newestUnacked(segs)) {
      if (out.length - segs.length >= BUNDLE_MAX) break;
      const extra = segmentBytes(s);
      if (size + extra > REDUNDANCY_MAX_BYTES || !mayCopy(budget, extraBytes + extra)) break;
      out.push(s);
      this.#sender.copied(s);
      size += extra;
      extraBytes += extra;
      this.#counts.bundled++;
    }
    return out;
  }

  /** Sends one datagram; returns its size. */
  #emit(type: PacketType, sacks: [number, number][], segs: OutSegment[]): number {
    const r = this.#receiver;
    const datagram = encode({
      type,
      flags: this.#flags,
      loss: Math.round(this.#meter.loss * 255),
      srcEpoch: this.#o.srcEpoch,
      dstEpoch: this.#o.dstEpoch,
      pn: this.#pn = seqAdd(this.#pn, 1),
      ack: r.next,
      ts: timestamp(this.#now),
      echo: this.#echo,
      durable: this.#o.durableMarks ? r.durable : r.next,
      sacks,
      segments: segs,
    });
    this.#acks.sent();
    this.#counts.datagramsOut++;
    this.#o.output(datagram);
    return datagram.length;
  }
}
