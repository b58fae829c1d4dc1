/** Progress accounting for one transfer: speed, ETA, and at most ten reports a second (the end
 * of a transfer is announced by its own file_sent or file_received event). */
export const PROGRESS_INTERVAL_MS = 100;

export interface ProgressReport {
  bytes: number;
  size: number;
  /** Bytes per second, smoothed over about a second. */
  speed: number;
  /** Seconds left at the current speed, or null when unknown. */
  eta: number | null;
}

export class Progress {
  #size: number;
  #bytes: number;
  #lastAt: number;
  #lastBytes: number;
  #speed = 0;
  #reportedAt = -Infinity;

  constructor(size: number, offset: number, now: number) {
    this.#size = size;
    this.#bytes = this.#lastBytes = offset;
    this.#lastAt = now;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Adds bytes; returns a report when one is due (at most every 100 ms). */
  add(n: number, now: number): ProgressReport | undefined {
    this.#bytes += n;
    const dt = now - this.#lastAt;
    if (dt >= PROGRESS_INTERVAL_MS) {
      const rate = (this.#bytes - this.#lastBytes) / (dt / 1000);
      this.#speed = this.#speed === 0 ? rate : 0.7 * this.#speed + 0.3 * rate;
      this.#lastAt = now;
      this.#lastBytes = this.#bytes;
    }
    if (now - this.#reportedAt < PROGRESS_INTERVAL_MS) return undefined;
    this.#reportedAt = now;
    return this.report();
  }

  report(): ProgressReport {
    const left = this.#size - this.#bytes;
    return {
      bytes: this.#bytes,
      size: this.#size,
      speed: Math.round(this.#speed),
      eta: left <= 0 ? 0 : this.#speed > 0 ? Math.ceil(left / this.#speed) : null,
    };
  }
}
