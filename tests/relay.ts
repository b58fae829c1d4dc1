/** Relays between two real peers for end-to-end tests: a UDP relay that impairs both directions
 * (a netem box in the middle), and a TCP relay; both can record every byte that crosses. */
import { Impairment, type ImpairSpec, NO_IMPAIRMENT } from "../lib/net/impair.ts";

export interface RelayOptions {
  spec?: ImpairSpec;
  /** Where A and B listen (UDP); B may be on another loopback address. */
  portA: number;
  portB: number;
  hostB?: string;
  /** Sees every datagram as it arrives at the relay. */
  tap?: (datagram: Uint8Array, toward: "A" | "B") => void;
}

export function relay(o: RelayOptions) {
  const spec = o.spec ?? { ...NO_IMPAIRMENT, seed: 1 };
  const sideA = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let sideB = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const toB = new Impairment(spec), toA = new Impairment({ ...spec, seed: spec.seed + 1 });
  let open = true;
  const pump = async (
    from: Deno.DatagramConn,
    to: () => Deno.DatagramConn,
    dest: { hostname: string; port: number },
    imp: Impairment,
  ) => {
    const buf = new Uint8Array(2048);
    while (open) {
      let data: Uint8Array;
      try {
        [data] = await from.receive(buf);
      } catch {
        return;
      }
      o.tap?.(data.slice(), from === sideA ? "B" : "A");
      const now = performance.now();
      for (const a of imp.apply(data.slice(), now)) {
        setTimeout(() => {
          if (open) to().send(a.data, { transport: "udp", ...dest }).catch(() => {});
        }, a.at - now);
      }
    }
  };
  pump(sideA, () => sideB, { hostname: o.hostB ?? "127.0.0.1", port: o.portB }, toB);
  pump(sideB, () => sideA, { hostname: "127.0.0.1", port: o.portA }, toA);
  return {
    portForA: (sideA.addr as Deno.NetAddr).port,
    portForB: (sideB.addr as Deno.NetAddr).port,
    counts: () => ({ toB: toB.counts, toA: toA.counts }),
    /** Sends a datagram to B from the relay's own socket: the address B trusts. */
    inject: (d: Uint8Array) =>
      sideB.send(d, { transport: "udp", hostname: o.hostB ?? "127.0.0.1", port: o.portB }),
    /** Where B sees A from now. */
    get portAtB() {
      return (sideB.addr as Deno.NetAddr).port;
    },
    /** A NAT rebinding: from now on A reaches B from a new port of the relay (the old one is
     * closed, so B's datagrams to it go nowhere), while A still talks to the same relay port. */
    rebind() {
      const old = sideB;
      sideB = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      old.close();
      pump(sideB, () => sideA, { hostname: "127.0.0.1", port: o.portA }, toA);
      return (sideB.addr as Deno.NetAddr).port;
    },
    close() {
      open = false;
      sideA.close();
      sideB.close();
    },
  };
}

/** Listens on 127.0.0.1:`port` and forwards each connection to `to`, recording both directions. */
export function tcpRelay(
  port: number,
  to: { hostname: string; port: number },
  tap: (b: Uint8Array) => void,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const copy = async (from: Deno.Conn, dest: Deno.Conn) => {
    const buf = new Uint8Array(65536);
    try {
      for (let n; (n = await from.read(buf)) !== null;) {
        tap(buf.slice(0, n));
        for (let d = buf.subarray(0, n); d.length;) d = d.subarray(await dest.write(d));
      }
      await dest.closeWrite();
    } catch { /* either side went away */ }
  };
  (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await listener.accept();
      } catch {
        return;
      }
      Deno.connect(to).then((d) => {
        copy(c, d);
        copy(d, c);
      }, () => c.close());
    }
  })();
  return { close: () => listener.close() };
}
