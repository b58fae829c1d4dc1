/**
 * Virtual time for the whole-peer simulator: one agenda of events (time, then insertion order),
 * processes whose timers and deliveries die with them, and a run loop that lets every promise
 * settle after each event (one real macrotask, node:timers' setImmediate: 7 µs) so that what an
 * event sets off happens at that same virtual instant, and an unhandled rejection is seen as
 * coming from it. (A MessageChannel message is no macrotask in Deno: it arrives after three or so
 * microtask hops, so a longer chain, such as a folder listing's async generator, finished only at
 * the next event, often hundreds of virtual milliseconds later.)
 */
import type { Clock } from "../../lib/net/clock.ts";
import type { Turns } from "../../lib/net/turns.ts";
import type { Rng } from "./random.ts";
import { setImmediate } from "node:timers";
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
/** Events one whole scenario may take (a typical one takes 2,000 to 60,000). */
const EVENTS_MAX = 3_000_000;
/** Calls into the simulated effects while one event's promises settle: more is a busy loop of
 * promises (an `await` that fails at once, forever), which would never let the run go on. */
const OPS_PER_EVENT_MAX = 200_000;
/** Real time one scenario may take (a typical one takes 10 to 300 ms). */
const REAL_MS_MAX = 60_000;

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
  #sameInstant = 0;
  /** Events run so far, and effect calls during the current one. */
  events = 0;
  #ops = 0;
  #realStart = performance.now();
  /** Why the run was stopped: it went over a budget (then every effect call hangs). */
  stuck?: string;

  constructor(rng: Rng) {
    this.rng = rng;
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
    if (this.guard()) this.#heap.push(e);
    return e;
  }

  /** Counts one call into the simulated effects; false once the run is over a budget: the
   * caller then returns a promise that never settles, which ends any busy loop of promises. */
  guard(): boolean {
    if (this.stuck) return false;
    if (++this.#ops > OPS_PER_EVENT_MAX) {
      this.#stop(`over ${OPS_PER_EVENT_MAX} effect calls in one event (a busy loop of promises?)`);
      return false;
    }
    return true;
  }

  #stop(why: string): void {
    this.stuck = why;
    this.violation(`Simulator budget: ${why}`);
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
    // What was set off outside any event (a process started at the settle) settles at this
    // instant first, as it would in Deno, not after the next event, which may be seconds later.
    await this.#settle();
    while (!this.stuck && this.#heap.peekAt() <= until) {
      const e = this.#heap.pop();
      if (e.cancelled) continue;
      if (e.life && !e.life.alive) continue;
      if (e.life?.frozen) {
        e.life.held.push(e.run);
        continue;
      }
      if (e.at === this.now && ++this.#sameInstant > SAME_INSTANT_MAX) {
        this.#stop(`over ${SAME_INSTANT_MAX} events at one instant (a busy loop of timers?)`);
        break;
      } else if (e.at !== this.now) this.#sameInstant = 0;
      if (++this.events > EVENTS_MAX) {
        this.#stop(`over ${EVENTS_MAX} events in one scenario`);
        break;
      }
      if ((this.events & 1023) === 0 && performance.now() - this.#realStart > REAL_MS_MAX) {
        this.#stop(`over ${REAL_MS_MAX / 1000} s of real time in one scenario`);
        break;
      }
      this.#ops = 0;
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

  #settle(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }
}
