/**
 * When the receiver acknowledges (RFC 9000 section 13.2.1, in the spirit of RFC 1122's delayed
 * ACK): at once for a datagram that is not bulk (it carries no full segment: a chat line, a file's
 * last frame, a credit, so the sender has nothing queued behind it) or that shows disorder (a
 * hole, a hole filled, a duplicate: the sender's loss detection wants to hear now), and for every
 * ACK_EVERY-th datagram; any other within MAX_ACK_DELAY. Every datagram we send carries the ACK.
 *
 * The durable point rides on those ACKs. When it moves with no ACK owed, it goes at once after a
 * datagram that was not bulk (a chat line now stored: its sender reports it delivered), and within
 * MAX_ACK_DELAY after bulk, by when the next ACK has usually carried it.
 */
import { ACK_EVERY, MAX_ACK_DELAY } from "../constants.ts";

export class AckSchedule {
  /** Datagrams with segments received since we last sent one. */
  #unacked = 0;
  #now = false;
  #at = Infinity;
  #lastBulk = false;
  /** Disorder was seen: not even the rest of a receive batch waits (Arq's input). */
  #urgent = false;

  /** A datagram with segments arrived. */
  received(bulk: boolean, disorder: boolean, now: number): void {
    this.#unacked++;
    this.#lastBulk = bulk;
    if (disorder) this.#urgent = true;
    if (!bulk || disorder || this.#unacked >= ACK_EVERY) this.#now = true;
    else this.#at = Math.min(this.#at, now + MAX_ACK_DELAY);
  }

  /** An ACK for disorder is owed: the sender's loss detection needs each new hole as it appears,
   * and one ACK at the end of a batch names only MAX_SACK_RANGES of them (at 5% loss, batch ACKs
   * alone made more than half the retransmissions spurious). */
  get urgent(): boolean {
    return this.#urgent;
  }

  /** Our durable point moved. */
  durable(now: number): void {
    if (this.#unacked > 0) return; // it rides on the ACK owed
    if (!this.#lastBulk) this.#now = true;
    else this.#at = Math.min(this.#at, now + MAX_ACK_DELAY);
  }

  /** An ACK is owed now. */
  due(now: number): boolean {
    return this.#now || now >= this.#at;
  }

  /** When a delayed ACK is due (Infinity when none is owed). */
  get deadline(): number {
    return this.#now ? -Infinity : this.#at;
  }

  /** A datagram of ours went, carrying the ACK and the durable point. */
  sent(): void {
    this.#unacked = 0;
    this.#now = false;
    this.#urgent = false;
    this.#at = Infinity;
  }
}
