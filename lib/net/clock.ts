/**
 * Time behind an interface: the peer reads the clock and sets timers only through a Clock, so the
 * simulator (tests/sim/) can run it in virtual time. `denoClock` is the real one.
 */
import { type Turns, turns } from "./turns.ts";

/** A timer's handle, for clearTimer. */
export type TimerId = number;

export interface Clock {
  /** Monotonic milliseconds (performance.now() for the real clock). */
  now(): number;
  /** Wall-clock milliseconds since 1970, for timestamps people read (history). */
  wall(): number;
  setTimer(fn: () => void, ms: number): TimerId;
  clearTimer(id: TimerId | undefined): void;
  /** Turns of the event loop for a long loop (lib/net/turns.ts); `socket` picks the fast kind. */
  turns(everyMs: number, o?: { socket?: boolean }): Turns;
}

export const denoClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  // Deno's timers are numbers (node:timers' types, loaded with node:crypto, say otherwise).
  setTimer: (fn, ms) => setTimeout(fn, ms) as unknown as number,
  clearTimer: (id) => clearTimeout(id),
  turns,
};
