/**
 * Virtual time for the whole-peer simulator: one agenda of events (time, then insertion order),
 * processes whose timers and deliveries die with them, and a run loop that lets every promise
 * settle after each event (one real macrotask, a MessageChannel message: 5 µs) so that what an
 * event sets off happens at that same virtual instant, and an unhandled rejection is seen as
 * coming from it.
 */
import type { Clock } from "../../lib/net/clock.ts";
import type { Turns } from "../../lib/turns.ts";
import type { Rng } from "./random.ts";
import { EventHeap } from "./heap.ts";

/** One run of one process: everything it owns dies with it. */
export interface Life {
  readonly name: string;
  readonly gen: number;
  alive: boolean;
  frozen: boolean;
  /** Events that came due while it was frozen, run when it is thawed. */
  held: (() => void)[];
  /** Run when it dies (sockets reset, ports released). */
  onDeath: (() => void)[];
}

interface Event {
  at: number;
  order: number;
  life?: Life;
  run: () => void;
  cancelled?: boolean;
}

/** Events at one virtual instant past which a run is stuck in a loop of zero-delay timers. */
const SAME_INSTANT_MAX = 100_000;

/** Deno (like Node) runs a timer no sooner than 1 ms after it is set, even with a delay of 0. */
const MIN_TIMER_MS = 1;

/** Virtual wall clock at time 0 (history timestamps). */
const EPOCH_MS = Date.UTC(2026, 0, 1);

export class World {
  now = 0;
  readonly rng: Rng;
  readonly trace: string[] = [];
  readonly violations: string[] = [];
  /** Called when a process throws or leaves a rejection unhandled: it dies, as Deno would. */
  onUncaught: (life: Life, e: unknown) => void = () => {};
  #heap = new EventHeap<Event>();
  #order = 0;
  #timers = new Map<number, Event>();
  #nextTimer = 1;
  #current?: Life;
  #port = new MessageChannel();
  #wake?: () => void;
  #sameInstant = 0;

  constructor(rng: Rng) {
    this.rng = rng;
    this.#port.port1.onmessage = () => this.#wake?.();
  }

  log(who: string, text: string): void {
    this.trace.push(`${this.now.toFixed(3).padStart(10)} ${who.padEnd(3)} ${text}`);
  }

  violation(text: string): void {
    this.violations.push(`${this.now.toFixed(3)} ms: ${text}`);
    this.log("!!", text);
  }

  /** Runs `run` at `at`, on behalf of `life` (dropped if it has died, held while it is frozen). */
  at(at: number, run: () => void, life?: Life): Event {
    const e: Event = { at: Math.max(at, this.now), order: this.#order++, life, run };
    this.#heap.push(e);
    return e;
  }

  /** A promise that `life` sees settle `ms` from now (never, if it dies first). */
  after<T>(life: Life, ms: number, value: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      this.at(this.now + ms, () => {
        try {
          resolve(value());
        } catch (e) {
          reject(e);
        }
      }, life);
    });
  }

  clockFor(life: Life): Clock {
    return {
      now: () => this.now,
      wall: () => EPOCH_MS + this.now,
      setTimer: (fn, ms) => {
        const id = this.#nextTimer++;
        const e = this.at(this.now + Math.max(MIN_TIMER_MS, ms), () => {
          this.#timers.delete(id);
          fn();
        }, life);
        this.#timers.set(id, e);
        return id;
      },
      clearTimer: (id) => {
        if (id === undefined) return;
        const e = this.#timers.get(id);
        if (e) e.cancelled = true;
        this.#timers.delete(id);
      },
      turns: (): Turns => ({ take: () => Promise.resolve(), reset() {}, stop() {} }),
    };
  }

  kill(life: Life): void {
    if (!life.alive) return;
    life.alive = false;
    life.held.length = 0;
    for (const f of life.onDeath.splice(0)) f();
  }

  freeze(life: Life): void {
    life.frozen = true;
  }

  thaw(life: Life): void {
    life.frozen = false;
    for (const f of life.held.splice(0)) this.at(this.now, f, life);
  }

  /** Runs events until none is left or the next is past `until`. */
  async run(until: number): Promise<void> {
    while (this.#heap.peekAt() <= until) {
      const e = this.#heap.pop();
      if (e.cancelled) continue;
      if (e.life && !e.life.alive) continue;
      if (e.life?.frozen) {
        e.life.held.push(e.run);
        continue;
      }
      if (e.at === this.now && ++this.#sameInstant > SAME_INSTANT_MAX) {
        throw new Error(
          `Simulator: over ${SAME_INSTANT_MAX} events at ${this.now} ms (a busy loop?)`,
        );
      } else if (e.at !== this.now) this.#sameInstant = 0;
      this.now = e.at;
      this.#current = e.life;
      try {
        e.run();
      } catch (err) {
        if (e.life) this.onUncaught(e.life, err);
        else throw err;
      }
      await this.#settle();
    }
    this.now = Math.max(this.now, until);
    this.#current = undefined;
  }

  /** The process whose event is running (for an unhandled rejection). */
  get current(): Life | undefined {
    return this.#current;
  }

  /** A network event hands something to `life`: what follows runs on its behalf. */
  enter(life: Life): void {
    this.#current = life;
  }

  close(): void {
    this.#port.port1.close();
    this.#port.port2.close();
  }

  #settle(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#port.port2.postMessage(0);
    });
  }
}
