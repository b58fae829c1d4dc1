/**
 * Turns of the event loop for long loops. Deno runs due timers before it reads sockets, and a loop
 * whose awaits are always ready (a paste of thousands of lines, a file copy at full speed) never
 * lets it get that far: datagrams sit unread and retransmission timers run late. A loop calls
 * `take()` between steps and gets a zero-delay timer turn once `everyMs` have passed since its
 * last one.
 *
 * Such a turn is not free: Deno sleeps until its next timer tick, 2.1 ms measured here. A turn made
 * of a datagram to a loopback socket of our own takes 10 µs and lets sockets and timers run as
 * well, but it was measured no better: file copies within noise, and a 20,000-line paste slower
 * (44,000 messages a second against 50,000), since the pauses had let the sender batch its work.
 */
export function turns(everyMs: number): { take(): Promise<void>; reset(): void } {
  let since = performance.now();
  return {
    async take() {
      if (performance.now() - since <= everyMs) return;
      await new Promise((r) => setTimeout(r, 0));
      since = performance.now();
    },
    /** The loop waited on real input: the event loop had its turns meanwhile. */
    reset() {
      since = performance.now();
    },
  };
}
