/**
 * A virtual link for the ARQ alone: two Arq instances joined by two seeded one-way paths, each a
 * drop-tail bottleneck (a rate and a queue of whole datagrams) followed by propagation delay,
 * jitter and random loss. Time is virtual, so a run is exact for its seed; print the seed in every
 * assertion message (`link.where`).
 */
import { Arq } from "../lib/protocol/arq/mod.ts";
import { decode, type Packet, PacketType } from "../lib/protocol/codec.ts";
import { type Rng, seededRng } from "../lib/rng.ts";
import { EventHeap } from "./sim/heap.ts";

export interface PathSpec {
  /** One-way propagation delay, ms. */
  delay: number;
  /** Uniform ± jitter added to the delay, ms (datagrams may overtake each other). */
  jitter?: number;
  /** Random loss on the wire, after the queue. */
  loss?: number;
  /** Bottleneck rate in bytes per ms (1 Mbit/s = 125); none: no bottleneck. */
  rate?: number;
  /** Datagrams the bottleneck queue holds, the one being serialised included. */
  queue?: number;
}

export interface PathCounts {
  /** Datagrams offered to the path. */
  offered: number;
  /** Dropped by the full queue. */
  queueDrops: number;
  /** Dropped at random on the wire. */
  randomDrops: number;
  /** Bytes that left the queue onto the wire. */
  bytes: number;
}

/** One direction: queue, serialisation, delay, loss. */
export class Path {
  #s: PathSpec;
  #rng: Rng;
  /** When each queued datagram finishes serialising, oldest first. */
  #departures: number[] = [];
  #busyUntil = 0;
  /** Passes nothing while true (a dark path). */
  dark = false;
  counts: PathCounts = { offered: 0, queueDrops: 0, randomDrops: 0, bytes: 0 };

  constructor(spec: PathSpec, seed: number) {
    this.#s = spec;
    this.#rng = seededRng(seed);
  }

  /** When `bytes` sent at `now` arrive, or undefined when they do not. */
  carry(bytes: number, now: number): number | undefined {
    this.counts.offered++;
    const s = this.#s;
    let at = now;
    if (s.rate !== undefined) {
      while (this.#departures.length && this.#departures[0] <= now) this.#departures.shift();
      if (this.#departures.length >= (s.queue ?? Infinity)) {
        this.counts.queueDrops++;
        return undefined;
      }
      at = Math.max(now, this.#busyUntil) + bytes / s.rate;
      this.#busyUntil = at;
      this.#departures.push(at);
    }
    this.counts.bytes += bytes;
    const jitter = (this.#rng() * 2 - 1) * (s.jitter ?? 0);
    if (this.dark) return undefined;
    if (this.#rng() < (s.loss ?? 0)) {
      this.counts.randomDrops++;
      return undefined;
    }
    return at + Math.max(0, s.delay + jitter);
  }
}

interface Event {
  at: number;
  order: number;
  run: () => void;
}

export interface Side {
  arq: Arq;
  /** Messages received, decoded as text, in order. */
  received: string[];
  /** When each was received. */
  receivedAt: number[];
  /** Tags delivered (acknowledged and stored by the peer). */
  delivered: number[];
  /** Send times of every datagram this side emitted. */
  sentAt: number[];
  /** Every packet this side emitted, decoded. */
  packets: Packet[];
}

export interface LinkOptions {
  seed: number;
  /** A→B; B→A is the same unless `back` says otherwise. */
  path: PathSpec;
  back?: PathSpec;
  initialSeq?: number;
  /** Decides per datagram from A whether it is dropped, before the path (by index from 0). */
  dropFromA?: (index: number, packet: Packet) => boolean;
  /** Both sides advertise a durable point that moves only through markDurable(). */
  durableMarks?: boolean;
  /** Each side's socket receive buffer, as it tells the other (default: not known). */
  receiveBuffer?: { a?: number; b?: number };
  /** Runs after each datagram a side takes in (where the peer marks what it stored). */
  afterInput?: (side: Side) => void;
}

export class ArqLink {
  now = 0;
  readonly seed: number;
  readonly a: Side;
  readonly b: Side;
  readonly ab: Path;
  readonly ba: Path;
  #agenda = new EventHeap<Event>();
  #order = 0;
  #tags = { a: 0, b: 0 };

  constructor(o: LinkOptions) {
    this.seed = o.seed;
    this.ab = new Path(o.path, o.seed);
    this.ba = new Path(o.back ?? o.path, o.seed * 31 + 7);
    this.a = this.#side(() => this.ab, () => this.b, o, o.receiveBuffer?.a, o.dropFromA);
    this.b = this.#side(() => this.ba, () => this.a, o, o.receiveBuffer?.b);
  }

  /** "seed 7": for assertion messages. */
  get where(): string {
    return `seed ${this.seed}`;
  }

  #side(
    path: () => Path,
    other: () => Side,
    o: LinkOptions,
    receiveBuffer: number | undefined,
    drop?: (index: number, packet: Packet) => boolean,
  ): Side {
    const dec = new TextDecoder();
    const side: Side = {
      arq: undefined as unknown as Arq,
      received: [],
      receivedAt: [],
      delivered: [],
      sentAt: [],
      packets: [],
    };
    side.arq = new Arq({
      srcEpoch: 1,
      dstEpoch: 1,
      initialSeq: o.initialSeq,
      durableMarks: o.durableMarks,
      receiveBuffer,
      output: (d) => {
        const decoded = decode(d);
        if (!("packet" in decoded)) throw new Error(`Emitted a malformed datagram: ${decoded}`);
        const p = decoded.packet;
        const index = side.sentAt.length;
        side.sentAt.push(this.now);
        side.packets.push(p);
        if (drop?.(index, p)) return;
        const at = path().carry(d.length, this.now);
        if (at === undefined) return;
        this.at(at, () => {
          const to = other();
          to.arq.input(p, this.now);
          o.afterInput?.(to);
        });
      },
      onMessage: (m) => {
        side.received.push(dec.decode(m));
        side.receivedAt.push(this.now);
      },
      onDelivered: (tag) => side.delivered.push(tag),
    });
    return side;
  }

  /** Queues a message; its tag is its number from 1 on that side. */
  send(from: "a" | "b", text: string): void {
    this[from].arq.send(new TextEncoder().encode(text), ++this.#tags[from], this.now);
  }

  at(at: number, run: () => void): void {
    this.#agenda.push({ at, order: this.#order++, run });
  }

  /** Runs until `done()` holds or `limit` ms of virtual time pass; returns whether done. */
  run(done: () => boolean, limit: number): boolean {
    const end = this.now + limit;
    while (!done()) {
      const next = Math.min(
        this.#agenda.peekAt(),
        this.a.arq.nextDeadline(),
        this.b.arq.nextDeadline(),
      );
      if (next > end) {
        this.now = end;
        return done();
      }
      this.now = Math.max(this.now, next);
      while (this.#agenda.peekAt() <= this.now) this.#agenda.pop().run();
      this.a.arq.tick(this.now);
      this.b.arq.tick(this.now);
    }
    return true;
  }
}

/** The test's seed: CHATNET_TEST_SEED, or `fallback`. */
export function testSeed(fallback = 7): number {
  return Number(Deno.env.get("CHATNET_TEST_SEED") ?? fallback);
}

/** An ACK as the peer would send it: cumulative `ack`, echoing `echo`, with SACK ranges. */
export function ackPacket(ack: number, echo: number, sacks: [number, number][] = []): Packet {
  return {
    type: PacketType.data,
    flags: 1,
    loss: 0,
    srcEpoch: 1,
    dstEpoch: 1,
    pn: 1,
    ack,
    ts: 1,
    echo,
    durable: ack,
    sacks,
    segments: [],
  };
}
