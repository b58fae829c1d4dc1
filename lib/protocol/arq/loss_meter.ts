/**
 * Inbound loss, measured from the packet numbers the peer sends, and the redundancy policy that the
 * peer's report of it (our outbound loss) drives.
 */
import {
  LOSS_EWMA,
  LOSS_GRACE,
  LOSS_PRIOR,
  LOSS_WINDOW,
  LOSS_WINDOWS_OPEN,
  REDUNDANCY_LOSS,
} from "../constants.ts";
import { seqAdd, seqDiff } from "../seq.ts";

/** The share of each window of packet numbers that never arrived. Several windows stay open, so
 * a datagram overtaken by later ones still counts as received. */
export class LossMeter {
  #base = -1;
  #seen: number[] = new Array(LOSS_WINDOWS_OPEN).fill(0);
  /** When a later window first got a datagram; a window is measured LOSS_GRACE after that. */
  #closedAt: number[] = new Array(LOSS_WINDOWS_OPEN).fill(Infinity);
  /** Windows from the oldest whose #closedAt is set: always a prefix (a datagram in window w
   * closes every window before it, and the first time is the one kept). */
  #closed = 0;
  #loss = LOSS_PRIOR;
  #measured = false;

  get loss(): number {
    return this.#loss;
  }

  note(pn: number, now: number): void {
    if (this.#base === -1) this.#base = pn;
    const offset = seqDiff(pn, this.#base);
    if (offset < 0) return; // later than any window still open
    let w = Math.floor(offset / LOSS_WINDOW);
    if (w >= 2 * LOSS_WINDOWS_OPEN) {
      // A long silence of ours or theirs: start measuring afresh rather than replay the gap.
      this.#base = seqAdd(pn, -(offset % LOSS_WINDOW));
      this.#seen.fill(0);
      this.#closedAt.fill(Infinity);
      this.#closed = 0;
      w = 0;
    }
    for (; w >= LOSS_WINDOWS_OPEN; w--) this.#measureOldest();
    this.#seen[w]++;
    for (; this.#closed < w; this.#closed++) this.#closedAt[this.#closed] = now;
    while (this.#closedAt[0] <= now - LOSS_GRACE) this.#measureOldest();
  }

  #measureOldest(): void {
    const seen = Math.min(this.#seen.shift()!, LOSS_WINDOW);
    this.#seen.push(0);
    this.#closedAt.shift();
    this.#closedAt.push(Infinity);
    if (this.#closed > 0) this.#closed--;
    const loss = 1 - seen / LOSS_WINDOW;
    this.#loss = this.#measured ? this.#loss + LOSS_EWMA * (loss - this.#loss) : loss;
    this.#measured = true;
    this.#base = seqAdd(this.#base, LOSS_WINDOW);
  }
}

/** What the sender knows when it decides on a redundant copy. */
export interface RedundancyBudget {
  /** Outbound loss as the peer reports it. */
  lossOut: number;
  /** The congestion controller sees a queue building or is recovering from a congestion loss. */
  congested: boolean;
  /** Bytes in flight (copies included) and the congestion window. */
  flightBytes: number;
  window: number;
  /** New data is waiting to be sent: a copy would take its place. */
  backlog: boolean;
}

/** Redundancy covers random loss on an uncongested path and only spends what the controller's
 * window leaves over: never under congestion (it would double the load on a full queue), never
 * ahead of new data waiting, never past the window. */
export function mayCopy(b: RedundancyBudget, bytes: number): boolean {
  return b.lossOut >= REDUNDANCY_LOSS && !b.congested && !b.backlog &&
    b.flightBytes + bytes <= b.window;
}
