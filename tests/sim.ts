/** A virtual-time network for the pure protocol core: two sessions joined by seeded impairments. */
import { Session, type SessionOptions } from "../lib/protocol/session.ts";
import { Impairment, type ImpairSpec } from "../lib/net/impair.ts";
import { seededRng } from "../lib/rng.ts";
import { EventHeap } from "./sim/heap.ts";

export interface SimSide {
  session: Session;
  received: string[];
  delivered: number[];
  peerEvents: string[];
  sentCount: number;
  authFailures: string[];
}

interface Event {
  at: number;
  order: number;
  run: () => void;
}

/** Events in time order, then by insertion. */
class Agenda {
  #heap = new EventHeap<Event>();
  #order = 0;

  get size(): number {
    return this.#heap.size;
  }

  peekAt(): number {
    return this.#heap.peekAt();
  }

  add(at: number, run: () => void): void {
    this.#heap.push({ at, order: this.#order++, run });
  }

  pop(): Event {
    return this.#heap.pop();
  }
}

export interface NetOptions {
  /** Impairment of A→B and B→A datagrams (seeds are derived per direction). */
  impair: ImpairSpec;
  epochA?: number;
  epochB?: number;
  initialSeq?: number;
  /** Passphrases (none: plaintext). */
  secretA?: string;
  secretB?: string;
  /** Sees every datagram either side emits, before impairment. */
  wire?: (from: "a" | "b", datagram: Uint8Array) => void;
  /** Both sides store what they receive asynchronously and say so with markDurable(). */
  durableMarks?: boolean;
}

export class SimNet {
  now = 0;
  agenda = new Agenda();
  a: SimSide;
  b: SimSide;
  #links: [Impairment, Impairment];
  #o: NetOptions;
  /** When false, datagrams to that side vanish (the process is "down"). */
  up = { a: true, b: true };
  /** A frozen side (SIGSTOP) neither runs nor reads: datagrams to it wait, in order, for the thaw. */
  #frozen = { a: false, b: false };
  #held: { a: Uint8Array[]; b: Uint8Array[] } = { a: [], b: [] };

  freeze(name: "a" | "b"): void {
    this.#frozen[name] = true;
  }

  /** The side runs again and reads what waited for it, oldest first. */
  thaw(name: "a" | "b"): void {
    this.#frozen[name] = false;
    for (const d of this.#held[name].splice(0)) this[name].session.input(d, this.now);
  }

  constructor(options: NetOptions) {
    this.#o = options;
    this.#links = [
      new Impairment(options.impair),
      new Impairment({ ...options.impair, seed: options.impair.seed * 31 + 7 }),
    ];
    this.a = this.#side("a", options.epochA ?? 0xaaaa0001);
    this.b = this.#side("b", options.epochB ?? 0xbbbb0001);
  }

  /** Replaces one side with a fresh incarnation (a restart); its queue is lost. `secret`: the
   * passphrase it starts with from now on, if it changes. */
  restart(name: "a" | "b", epoch: number, secret?: string): void {
    if (secret !== undefined) {
      this.#o = { ...this.#o, [name === "a" ? "secretA" : "secretB"]: secret };
    }
    this[name] = this.#side(name, epoch);
  }

  #side(name: "a" | "b", epoch: number): SimSide {
    const side: SimSide = {
      session: undefined as unknown as Session,
      received: [],
      delivered: [],
      peerEvents: [],
      sentCount: 0,
      authFailures: [],
    };
    const secret = name === "a" ? this.#o.secretA : this.#o.secretB;
    const rng = seededRng(epoch);
    const random = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
    const dec = new TextDecoder();
    const link = this.#links[name === "a" ? 0 : 1];
    const other = name === "a" ? "b" : "a";
    const options: SessionOptions = {
      epoch,
      initialSeq: this.#o.initialSeq,
      durableMarks: this.#o.durableMarks,
      output: (d) => {
        const copy = d.slice();
        this.#o.wire?.(name, copy);
        for (const { at, data } of link.apply(copy, this.now)) {
          this.agenda.add(at, () => {
            if (!this.up[other]) return;
            if (this.#frozen[other]) this.#held[other].push(data);
            else this[other].session.input(data, this.now);
          });
        }
      },
      onMessage: (data) => side.received.push(dec.decode(data)),
      onDelivered: (tag) => side.delivered.push(tag),
      onPeer: (state, restarted) => side.peerEvents.push(restarted ? `${state}:restarted` : state),
      passphrase: secret,
      random,
      onAuthFailed: (why) => side.authFailures.push(why),
    };
    side.session = new Session(options);
    return side;
  }

  send(name: "a" | "b", text: string): void {
    const side = this[name];
    side.session.send(new TextEncoder().encode(text), ++side.sentCount, this.now);
  }

  /** Runs until `done()` holds or `limit` ms of virtual time pass; returns whether done. */
  run(done: () => boolean, limit: number): boolean {
    const end = this.now + limit;
    while (!done()) {
      const next = Math.min(
        this.agenda.peekAt(),
        this.#runs("a") ? this.a.session.nextDeadline() : Infinity,
        this.#runs("b") ? this.b.session.nextDeadline() : Infinity,
      );
      if (next > end) {
        this.now = end;
        return done();
      }
      this.now = Math.max(this.now, next);
      while (this.agenda.peekAt() <= this.now) this.agenda.pop().run();
      if (this.#runs("a")) this.a.session.tick(this.now);
      if (this.#runs("b")) this.b.session.tick(this.now);
    }
    return true;
  }

  #runs(name: "a" | "b"): boolean {
    return this.up[name] && !this.#frozen[name];
  }

  /** Schedules `fn` at virtual time `at`. */
  at(at: number, fn: () => void): void {
    this.agenda.add(at, fn);
  }
}
