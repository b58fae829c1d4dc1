/**
 * Turns of the event loop for long loops. Deno runs due timers before it reads sockets, and a loop
 * whose awaits are always ready (a paste of thousands of lines, a file copy at full speed) never
 * lets it get that far: datagrams sit unread and retransmission timers run late. A loop calls
 * `take()` between steps and gets a zero-delay timer turn once `everyMs` have passed since its
 * last one.
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
