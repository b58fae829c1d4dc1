/**
 * The running peer's one timer: kept set for the session's next deadline, it ticks the session and
 * feeds the file streams over it. A timer that fires late (a busy event loop) first gives the
 * socket one turn, so ACKs already waiting are read before anything is judged lost.
 */
import { RTO_MIN } from "../protocol/constants.ts";
import type { Session } from "../protocol/session.ts";
import type { UdpFiles } from "../files/udp_stream.ts";
import type { Clock, TimerId } from "../net/clock.ts";

/** A timer this late (ms) was held up by a busy event loop; see #tick. RTO_MIN: any later and a
 * segment sent just before the loop got busy would already time out. */
const TICK_LATE_MS = RTO_MIN;

export interface PeerTimerOptions {
  clock: Clock;
  session: Session;
  udpFiles: UdpFiles;
  /** The peer was closed: a timer that fires after that does nothing. */
  closed: () => boolean;
}

export class PeerTimer {
  #clock: Clock;
  #session: Session;
  #udpFiles: UdpFiles;
  #isClosed: () => boolean;
  #timer: TimerId | undefined;
  #timerAt = Infinity;
  #armQueued = false;
  /** The deadline whose late timer was put off by a turn (see #tick). */
  #deferred = -1;

  constructor(o: PeerTimerOptions) {
    this.#clock = o.clock;
    this.#session = o.session;
    this.#udpFiles = o.udpFiles;
    this.#isClosed = o.closed;
  }

  /** Ticks now, which sets the timer for the next deadline. */
  start(): void {
    this.#tick();
  }

  /** Sets the timer for the session's next deadline, once this task is done (see #arm). */
  arm(): void {
    this.#arm();
  }

  /** Clears the timer (the peer is closing). */
  stop(): void {
    this.#clock.clearTimer(this.#timer);
  }

  get #closed(): boolean {
    return this.#isClosed();
  }

  #tick = () => {
    const at = this.#timerAt;
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    const now = this.#clock.now();
    // Late means the event loop was busy, and timers run before sockets are read: ACKs that came
    // meanwhile are still unread, and every segment in flight would look lost. One zero-delay
    // turn reads them first (once per deadline, so a busy loop cannot put the timers off).
    if (now - at > TICK_LATE_MS && this.#deferred !== at) {
      this.#deferred = at;
      this.#timerAt = at;
      this.#timer = this.#clock.setTimer(this.#tick, 0);
      return;
    }
    this.#session.tick(now);
    this.#udpFiles.feed();
    this.#arm();
  };

  /** Keeps one timer set for the session's next deadline, worked out once the current task is
   * done: a paste of thousands of lines would otherwise scan the send window once per line. */
  #arm(): void {
    if (this.#armQueued) return;
    this.#armQueued = true;
    queueMicrotask(() => {
      this.#armQueued = false;
      this.#armNow();
    });
  }

  #armNow(): void {
    if (this.#closed) return;
    const at = this.#session.nextDeadline();
    // A timer set for earlier stays: it finds nothing due and sets the next one then, which costs
    // less than moving it at every send and ACK.
    if (at >= this.#timerAt) return;
    this.#clock.clearTimer(this.#timer);
    this.#timerAt = at;
    this.#timer = at === Infinity
      ? undefined
      : this.#clock.setTimer(this.#tick, Math.max(0, at - this.#clock.now()));
  }
}
