/**
 * Congestion control: NewReno as RFC 9002 section 7 gives it (slow start, congestion avoidance,
 * one halving per recovery period, pacing), made to tell random loss from congestion by delay. A
 * loss counts as congestion only while a queue is building, that is while the smoothed RTT rides
 * above the minimum by QUEUE_DELAY_SHARE of it; other losses (Wi-Fi, netem) are repaired without
 * touching the window. A building queue also ends slow start before the queue overflows, in the
 * spirit of HyStart (RFC 9406), so a bottleneck sees few drops. While a queue builds, congestion
 * avoidance also steers the stream's own bytes in it (estimated as TCP Vegas does, the window
 * times the queueing share of the RTT) into STANDING_QUEUE: a bulk stream leaves room in the queue
 * for a TCP flow that Linux holds to a couple of packets in a queue on its own host.
 *
 * Deviation from RFC 9002: persistent congestion does not collapse the window unless a queue is
 * seen; on a dark path the RTO backoff (sender.ts) bounds what is sent instead.
 */
import {
  INITIAL_WINDOW,
  LOSS_REDUCTION,
  MAX_PACKET,
  MAX_WINDOW,
  MIN_WINDOW,
  PACE_BURST_MS,
  PACE_GAIN,
  PACE_MAX_PER_MS,
  QUEUE_DELAY_MIN,
  QUEUE_DELAY_SHARE,
  STANDING_QUEUE,
} from "../constants.ts";
import type { RttEstimator } from "./rtt.ts";

export interface CongestionStats {
  cwnd: number;
  ssthresh: number;
  /** Losses taken as congestion (each halved the window once). */
  congestionEvents: number;
  /** Losses on an uncongested path, repaired without a reduction. */
  randomLosses: number;
}

export class Congestion {
  #rtt: RttEstimator;
  #cwnd = INITIAL_WINDOW;
  #ssthresh = Infinity;
  /** When the current recovery period began: losses of what was sent before it are the same
   * congestion event (RFC 9002 section 7.3.2). */
  #recoveryStart = -Infinity;
  #congestionEvents = 0;
  #randomLosses = 0;
  /** The most the window grows to: twice the flight the peer takes. */
  limit = MAX_WINDOW;

  constructor(rtt: RttEstimator) {
    this.#rtt = rtt;
  }

  get window(): number {
    return this.#cwnd;
  }

  /** The smoothed RTT rides above the minimum: a queue is building on the path. */
  queueBuilding(): boolean {
    const r = this.#rtt;
    if (r.srtt === 0 || r.min === Infinity) return false;
    return r.srtt - r.min > Math.max(QUEUE_DELAY_MIN, QUEUE_DELAY_SHARE * r.min);
  }

  /** Bytes of ours waiting in the bottleneck's queue: the window times the share of the RTT that
   * is queueing delay. */
  ownQueue(): number {
    const r = this.#rtt;
    if (r.srtt === 0 || r.min === Infinity) return 0;
    return this.#cwnd * Math.max(0, r.srtt - r.min) / r.srtt;
  }

  /** Redundancy is off while a queue builds and during recovery from a congestion loss. */
  congested(now: number): boolean {
    return this.queueBuilding() || now < this.#recoveryStart + Math.max(this.#rtt.srtt, 1);
  }

  /** `bytes` newly acknowledged, the newest of them sent at `sentAt`. */
  onAck(bytes: number, sentAt: number): void {
    if (sentAt <= this.#recoveryStart) return; // no growth while recovering
    if (this.#cwnd < this.#ssthresh) {
      if (this.queueBuilding()) this.#ssthresh = this.#cwnd;
      else this.#cwnd += bytes;
    } else if (!this.queueBuilding() || this.ownQueue() < STANDING_QUEUE.low) {
      this.#cwnd += MAX_PACKET * bytes / this.#cwnd;
    } else if (this.ownQueue() > STANDING_QUEUE.high) {
      this.#cwnd = Math.max(MIN_WINDOW, this.#cwnd - MAX_PACKET * bytes / this.#cwnd);
    }
    this.#cwnd = Math.min(this.#cwnd, this.limit);
  }

  /** A segment sent at `sentAt` was found lost (by RACK or a timeout). */
  onLoss(sentAt: number, now: number): void {
    if (sentAt <= this.#recoveryStart) return;
    if (!this.queueBuilding()) {
      this.#randomLosses++;
      return;
    }
    this.#congestionEvents++;
    this.#recoveryStart = now;
    this.#cwnd = Math.max(MIN_WINDOW, this.#cwnd * LOSS_REDUCTION);
    this.#ssthresh = this.#cwnd;
  }

  /** Bytes per millisecond: PACE_GAIN·cwnd per SRTT, capped; uncapped by the window before the
   * first RTT sample. */
  pacingRate(): number {
    const srtt = this.#rtt.srtt;
    if (srtt === 0) return PACE_MAX_PER_MS;
    return Math.min(PACE_MAX_PER_MS, PACE_GAIN * this.#cwnd / srtt);
  }

  /** What the pacer may hold: PACE_BURST_MS of the rate, but at least the initial window. */
  pacingBurst(): number {
    return Math.max(INITIAL_WINDOW, PACE_BURST_MS * this.pacingRate());
  }

  stats(): CongestionStats {
    return {
      cwnd: Math.round(this.#cwnd),
      ssthresh: this.#ssthresh === Infinity ? 0 : Math.round(this.#ssthresh),
      congestionEvents: this.#congestionEvents,
      randomLosses: this.#randomLosses,
    };
  }
}
