/** A binary min-heap of timed events, ordered by time and then by insertion, so two events due at
 * the same virtual instant run in the order they were scheduled (what makes a run replayable). */
export interface Timed {
  at: number;
  order: number;
}

export class EventHeap<E extends Timed> {
  #h: E[] = [];

  get size(): number {
    return this.#h.length;
  }

  /** The time of the earliest event, or Infinity when there is none. */
  peekAt(): number {
    return this.#h[0]?.at ?? Infinity;
  }

  push(e: E): void {
    const h = this.#h;
    h.push(e);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): E {
    const h = this.#h;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timed, b: Timed): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
