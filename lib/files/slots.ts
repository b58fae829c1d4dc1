/**
 * How many file transfers run at once, and the queue of those that wait their turn. Pure: no
 * effects and no time; the caller says when a transfer starts and when it is over.
 */

/** Files streaming at once in each direction. A folder of 2,000 small files offered all at once
 * made 2,000 connections at once (issue 18, bug 3): the receiver closed those past its 32 waiting
 * for a header, the sender saw thousands of broken pipes, and a chat line waited seconds behind
 * them. One stream already fills a fast link with a large file; four keep a few small files'
 * round trips (offer, accept, connect, done) overlapping, so a folder of small files still flows,
 * while connections, open files and `.part` files stay a handful. The one place this number lives. */
export const MAX_STREAMS = 4;

/** Offers a receiver handles at once, from the offer to its `done` or decline: twice the streams,
 * so the next files can be checked and accepted while four stream. More wait, in order: this also
 * holds back a sender (an older one) that offers every file at once. */
export const MAX_OFFERS = 2 * MAX_STREAMS;

/** What `take` did: the slot was free (`started`), the id held one already (`holding`, started
 * again), or it waits (`queued` now, or `waiting` already, its turn kept). */
export type Taken = "started" | "holding" | "queued" | "waiting";

/** A fixed number of slots and a first-in, first-out queue of ids waiting for one. */
export class Slots {
  #capacity: number;
  #holding = new Set<string>();
  /** In the order they came (a Map keeps insertion order). */
  #waiting = new Map<string, () => void>();

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot make slots: ${capacity} is not a positive whole number`);
    }
    this.#capacity = capacity;
  }

  /** Runs `start` now if `id` gets a slot (or holds one), else when its turn comes. Taking an id
   * that already waits keeps its place and runs the newer `start` then. */
  take(id: string, start: () => void): Taken {
    if (this.#holding.has(id)) {
      start();
      return "holding";
    }
    if (this.#waiting.has(id)) {
      this.#waiting.set(id, start);
      return "waiting";
    }
    if (this.#holding.size < this.#capacity) {
      this.#holding.add(id);
      start();
      return "started";
    }
    this.#waiting.set(id, start);
    return "queued";
  }

  /** `id` is over: its slot goes to the first waiting (or it leaves the queue). No-op for an id
   * that neither holds a slot nor waits. */
  release(id: string): void {
    this.#waiting.delete(id);
    if (!this.#holding.delete(id)) return;
    while (this.#holding.size < this.#capacity && this.#waiting.size > 0) {
      const [next, start] = this.#waiting.entries().next().value!;
      this.#waiting.delete(next);
      this.#holding.add(next);
      start();
    }
  }

  holds(id: string): boolean {
    return this.#holding.has(id);
  }

  /** 1 for the next to start, 0 for an id not waiting. */
  position(id: string): number {
    let i = 0;
    for (const w of this.#waiting.keys()) {
      i++;
      if (w === id) return i;
    }
    return 0;
  }

  get active(): number {
    return this.#holding.size;
  }

  get waiting(): number {
    return this.#waiting.size;
  }
}
