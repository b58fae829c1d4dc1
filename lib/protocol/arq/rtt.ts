/**
 * The RTT estimator of RFC 6298: SRTT, RTTVAR and the RTO they give, the minimum RTT (RFC 9002
 * section 5.2, over the stream's lifetime) and the latest sample. Samples come from timestamp
 * echoes (RFC 7323), which settle Karn's ambiguity exactly: an ACK echoes the transmission that
 * caused it, original or retransmission.
 */
import { CLOCK_GRANULARITY, RTO_INITIAL, RTO_MAX, RTO_MIN } from "../constants.ts";

/** An echo claiming a minute or more is from a clock we do not share: ignore it. */
const RTT_SANITY = 60_000;

/** Timestamps count 10 µs ticks, enough to time a LAN; 0 is reserved for "none". */
export function timestamp(now: number): number {
  return (Math.round(now * 100) >>> 0) || 1;
}

/** Milliseconds since the timestamp `echo` was taken. */
export function elapsed(echo: number, now: number): number {
  return ((timestamp(now) - echo) >>> 0) / 100;
}

/** Whether timestamp `a` was taken before timestamp `b` (both within 2^31 ticks, about 6 h). */
export function stampedBefore(a: number, b: number): boolean {
  const d = (b - a) >>> 0;
  return d !== 0 && d < 0x80000000;
}

export class RttEstimator {
  #srtt = 0;
  #rttvar = 0;
  #rto = RTO_INITIAL;
  #min = Infinity;
  #latest = 0;

  /** Smoothed RTT; 0 before the first sample. */
  get srtt(): number {
    return this.#srtt;
  }

  get rttvar(): number {
    return this.#rttvar;
  }

  /** The RTO before any backoff. */
  get rto(): number {
    return this.#rto;
  }

  /** The smallest sample seen; Infinity before the first. */
  get min(): number {
    return this.#min;
  }

  get latest(): number {
    return this.#latest;
  }

  /** The probe timeout of RFC 8985 section 7.2: 2·SRTT, at most the RTO (before any sample the
   * RTO itself). Two timer granules at the least, so a sub-millisecond loopback RTT does not
   * probe at the timer's resolution. */
  pto(): number {
    if (this.#srtt === 0) return this.#rto;
    return Math.min(this.#rto, Math.max(2 * this.#srtt, 2 * CLOCK_GRANULARITY));
  }

  /** A sample from an ACK that acknowledged new data and echoed the transmission behind it. */
  sample(r: number): void {
    if (r > RTT_SANITY || r < 0) return;
    this.#latest = r;
    this.#min = Math.min(this.#min, r);
    if (this.#srtt === 0) {
      this.#srtt = Math.max(r, 0.01);
      this.#rttvar = r / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - r);
      this.#srtt = 0.875 * this.#srtt + 0.125 * r;
    }
    const rto = this.#srtt + Math.max(CLOCK_GRANULARITY, 4 * this.#rttvar);
    this.#rto = Math.min(RTO_MAX, Math.max(RTO_MIN, rto));
  }

  /** Until the first sample, any echo is one. An echo that comes late may be of an old packet, so
   * it may only lower the RTO. */
  seed(r: number): void {
    if (this.#srtt === 0 && r < RTO_INITIAL) this.sample(r);
  }
}
