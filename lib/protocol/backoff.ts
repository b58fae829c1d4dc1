/**
 * How often a passphrase handshake may be tried: a few failures are free, then each attempt waits
 * exponentially longer, until a success clears the count. An attempt is a handshake in which we
 * show a share or a tag (lib/protocol/handshake.ts); while one waits, nothing is answered, so an
 * active guesser gets one guess per window and every one of them is counted. Pure.
 */
import { AUTH_REPORT_WINDOW } from "./constants.ts";

export interface BackoffPolicy {
  /** Failures in a row before any waiting. */
  free: number;
  /** The first wait, doubled after each further failure... */
  first: number;
  /** ...up to this. */
  max: number;
}

/** How long the attempt after `failures` failures in a row must wait. */
export function backoffDelay(policy: BackoffPolicy, failures: number): number {
  if (failures < policy.free) return 0;
  return Math.min(policy.first * 2 ** (failures - policy.free), policy.max);
}

/** Attempts a guesser who fails every time gets in one day, from a standing start. */
export function guessesPerDay(policy: BackoffPolicy): number {
  const day = 86_400_000;
  let n = 0;
  for (let t = 0; t < day; t += backoffDelay(policy, n)) n++;
  return n;
}

export class AuthBackoff {
  #policy: BackoffPolicy;
  /** Failures since the last success. */
  #inRow = 0;
  #total = 0;
  #nextAt = -Infinity;
  #recent: number[] = [];

  constructor(policy: BackoffPolicy) {
    this.#policy = policy;
  }

  /** Failed attempts since start, for /stats. */
  get total(): number {
    return this.#total;
  }

  canAttempt(now: number): boolean {
    return now >= this.#nextAt;
  }

  /** An attempt starts: past the free ones it holds the window until its own result is known,
   * so two handshakes cannot share one window. */
  attempt(now: number): void {
    if (this.#inRow >= this.#policy.free) {
      this.#nextAt = now + backoffDelay(this.#policy, this.#inRow);
    }
  }

  fail(now: number): void {
    this.#inRow++;
    this.#total++;
    this.#nextAt = Math.max(this.#nextAt, now + backoffDelay(this.#policy, this.#inRow));
    this.#recent = [...this.#recent.filter((t) => now - t < AUTH_REPORT_WINDOW), now];
  }

  succeed(): void {
    this.#inRow = 0;
    this.#nextAt = -Infinity;
  }

  /** Milliseconds until the next attempt is accepted (0: now). */
  retryIn(now: number): number {
    return Math.max(0, this.#nextAt - now);
  }

  /** Failures within AUTH_REPORT_WINDOW of `now`. */
  recent(now: number): number {
    return this.#recent.filter((t) => now - t < AUTH_REPORT_WINDOW).length;
  }

  /** When the next attempt is accepted, for nextDeadline(). */
  get nextAt(): number {
    return this.#nextAt;
  }
}
