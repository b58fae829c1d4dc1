/**
 * Turns of the event loop for long loops. Deno runs due timers before it reads sockets, and a loop
 * whose awaits are always ready (a paste of thousands of lines, a file copy at full speed) never
 * lets it get that far: datagrams sit unread and retransmission timers run late. A loop calls
 * `take()` between steps and gets a turn once `everyMs` have passed since its last one.
 *
 * The plain turn is a zero-delay timer, and Deno sleeps until its next timer tick: 2.1 ms measured
 * here. With `socket`, the turn is a datagram to a socket of the loop's own, received: the receive
 * waits on the runtime's poll of every socket, so other sockets and due timers run too, in 10 µs.
 * Copy loops use it, as often as once a millisecond (chat during a sealed transfer: p50 3-4 ms
 * and p99 11-16 ms, against 7-8 and 36-61 with timer turns every 10 ms, at the same throughput).
 * Line reading keeps the timer turn: its pauses let a paste's sender batch its work (a 20,000-line
 * paste ran at 44,000 messages a second with socket turns, 50,000 without).
 */
export interface Turns {
  take(): Promise<void>;
  /** The loop waited on real input: the event loop had its turns meanwhile. */
  reset(): void;
  /** The loop is over: closes the socket, if any. */
  stop(): void;
}

export function turns(everyMs: number, o: { socket?: boolean } = {}): Turns {
  let since = performance.now();
  const own = o.socket ? ownSocket() : undefined;
  return {
    async take() {
      if (performance.now() - since <= everyMs) return;
      if (!await own?.turn()) await new Promise((r) => setTimeout(r, 0));
      since = performance.now();
    },
    reset() {
      since = performance.now();
    },
    stop() {
      own?.close();
    },
  };
}

/** A loopback socket that turns the event loop; undefined if none can be opened. A turn that does
 * not complete within LATE_MS (a datagram lost, which loopback should never do) retires it, and
 * the caller falls back to timer turns. */
function ownSocket(): { turn(): Promise<boolean>; close(): void } | undefined {
  const LATE_MS = 20;
  let sock: Deno.DatagramConn;
  try {
    sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  } catch {
    return undefined;
  }
  const to = {
    transport: "udp" as const,
    hostname: "127.0.0.1",
    port: (sock.addr as Deno.NetAddr).port,
  };
  const one = new Uint8Array(1), buf = new Uint8Array(1);
  let retired = false;
  return {
    async turn() {
      if (retired) return false;
      try {
        // Receive first: it finds nothing and waits for the poll; then the datagram arrives.
        const got = sock.receive(buf).then(() => true);
        got.catch(() => {});
        await sock.send(one, to);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<boolean>((r) => timer = setTimeout(() => r(false), LATE_MS));
        const ok = await Promise.race([got, late]);
        clearTimeout(timer);
        retired = !ok; // its receive still waits: never start another
        return ok;
      } catch {
        retired = true;
        return false;
      }
    },
    close() {
      try {
        sock.close();
      } catch { /* closed already */ }
    },
  };
}
