/**
 * The multicast side of LAN discovery: one socket per address family on DISCOVERY_PORT, joined
 * to the group, running lib/protocol/discovery.ts until the partner is found or time runs out.
 * Also picks a free port for the chat (UDP and TCP on one number).
 */
import { Discovery, type Found } from "../protocol/discovery.ts";
import { MAX_DATAGRAM } from "../protocol/constants.ts";

/** Organization-local scope (RFC 2365): routers do not forward it off the site. */
export const GROUP_V4 = "239.255.67.78";
/** Link-local scope: one network segment. */
export const GROUP_V6 = "ff02::6778";
/** One well-known port both sides listen on (shared: every chatnet looking binds it). */
export const DISCOVERY_PORT = 46778;

export interface DiscoverOptions {
  tag: Uint8Array;
  /** Our chat port, announced. */
  port: number;
  name: string;
  timeoutMs: number;
}

interface Socket {
  conn: Deno.DatagramConn;
  /** Where announcements go on this socket. */
  groups: string[];
  v6: boolean;
}

/** The partner, or undefined when nobody with the tag answered in time. Throws a one-line Error
 * when no socket could be opened at all. */
export async function discover(o: DiscoverOptions): Promise<Found | undefined> {
  const sockets = openSockets();
  if (!sockets.length) {
    throw new Error(`Cannot listen for announcements on UDP port ${DISCOVERY_PORT}`);
  }
  const d = new Discovery({
    tag: o.tag,
    nonce: crypto.getRandomValues(new Uint8Array(8)),
    port: o.port,
    name: o.name,
    now: performance.now(),
  });
  let wake: () => void = () => {};
  let closed = false;
  const links = linkLocal();
  for (const s of sockets) {
    (async () => {
      const buffer = new Uint8Array(MAX_DATAGRAM);
      while (!closed) {
        let data: Uint8Array, from: Deno.NetAddr;
        try {
          const [got, addr] = await s.conn.receive(buffer);
          [data, from] = [got, addr as Deno.NetAddr];
        } catch {
          if (closed) return;
          continue;
        }
        let ip = from.hostname;
        // A link-local address needs its interface; only usable when there is just the one.
        if (s.v6 && /^fe80:/i.test(ip)) {
          if (links.length !== 1) continue;
          ip = `${ip}%${links[0].name}`;
        }
        d.input(data, { ip }, performance.now());
        wake();
      }
    })();
  }
  const deadline = performance.now() + o.timeoutMs;
  try {
    while (!d.done) {
      const now = performance.now();
      if (!d.found && now >= deadline) return undefined;
      for (const datagram of d.tick(now)) {
        for (const s of sockets) {
          // Once the partner is heard, also straight to it: a group send leaves by the default
          // route's interface only, and the partner may be on another one (a second NIC, a
          // host-only VM network).
          const to = [
            ...s.groups,
            ...(d.found && s.v6 === d.found.ip.includes(":") ? [d.found.ip] : []),
          ];
          for (const hostname of to) {
            s.conn.send(datagram, { transport: "udp", hostname, port: DISCOVERY_PORT })
              .catch(() => {});
          }
        }
      }
      const at = Math.min(d.nextDeadline(), d.found ? Infinity : deadline);
      if (at === Infinity) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, at - performance.now()));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return d.found;
  } finally {
    closed = true;
    for (const s of sockets) s.conn.close();
  }
}

function openSockets(): Socket[] {
  const out: Socket[] = [];
  const open = (hostname: string) =>
    Deno.listenDatagram({
      transport: "udp",
      hostname,
      port: DISCOVERY_PORT,
      reuseAddress: true,
      // Two chatnets on one host (or a test) hear each other.
      loopback: true,
    });
  try {
    const conn = open("0.0.0.0");
    // On every interface, not only the default route's: a joiner may be on any of them.
    for (const address of ["0.0.0.0", ...interfacesV4()]) {
      conn.joinMulticastV4(GROUP_V4, address).catch(() => {});
    }
    out.push({ conn, groups: [GROUP_V4], v6: false });
  } catch { /* no IPv4 */ }
  const links = linkLocal();
  if (links.length) {
    try {
      const conn = open("::");
      for (const l of links) conn.joinMulticastV6(GROUP_V6, l.scopeid ?? 0).catch(() => {});
      out.push({ conn, groups: links.map((l) => `${GROUP_V6}%${l.name}`), v6: true });
    } catch { /* no IPv6 */ }
  }
  return out;
}

/** This host's IPv4 addresses, loopback aside (none if we may not list them). */
function interfacesV4(): string[] {
  try {
    return Deno.networkInterfaces().filter((i) =>
      i.family === "IPv4" && !i.address.startsWith("127.")
    )
      .map((i) => i.address);
  } catch {
    return [];
  }
}

/** Interfaces with an IPv6 link-local address (none if we may not list them). */
function linkLocal(): Deno.NetworkInterfaceInfo[] {
  try {
    return Deno.networkInterfaces().filter((i) =>
      i.family === "IPv6" && /^fe80:/i.test(i.address) && i.name !== "lo"
    );
  } catch {
    return [];
  }
}

/** Whether `port` is free for both UDP and TCP, on all interfaces, right now. */
export function portFree(port: number): boolean {
  let udp: Deno.DatagramConn | undefined;
  try {
    udp = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port });
    Deno.listen({ hostname: "0.0.0.0", port }).close();
    return true;
  } catch {
    return false;
  } finally {
    udp?.close();
  }
}

/** A port free for both UDP and TCP, on all interfaces, right now. */
export function freePort(): number {
  for (;;) {
    const udp = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
    const port = (udp.addr as Deno.NetAddr).port;
    try {
      Deno.listen({ hostname: "0.0.0.0", port }).close();
      return port;
    } catch {
      // Taken for TCP: try another.
    } finally {
      udp.close();
    }
  }
}
