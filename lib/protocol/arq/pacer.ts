/**
 * Pacing (RFC 9002 section 7.7): a token bucket of bytes, refilled at the rate the congestion
 * controller sets. A datagram may leave whenever the bucket holds a positive balance; its bytes
 * are then taken, so the balance may go below zero and the next datagram waits for it to refill.
 */
export class Pacer {
  #tokens: number;
  #at = -Infinity;
  #rate: number;
  #burst: number;

  constructor(rate: number, burst: number) {
    this.#rate = rate;
    this.#burst = this.#tokens = burst;
  }

  /** Bytes per millisecond, and the most the bucket holds. */
  configure(rate: number, burst: number): void {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = Math.min(this.#tokens, burst);
  }

  refill(now: number): void {
    if (this.#at === -Infinity) this.#at = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#rate);
    this.#at = now;
  }

  get ready(): boolean {
    return this.#tokens > 0;
  }

  spend(bytes: number): void {
    this.#tokens -= bytes;
  }

  /** When the bucket next holds a positive balance. The epsilon absorbs rounding, so a timer set
   * for it always finds the bucket ready. */
  readyAt(): number {
    if (this.#tokens > 0) return this.#at;
    return this.#at + (1e-6 - this.#tokens) / this.#rate;
  }
}
