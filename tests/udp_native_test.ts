/** chatnet's own UDP socket through libc (lib/net/udp_native.ts), on loopback. */
import assert from "node:assert/strict";
import { NATIVE_UDP_ENV, nativeUdp } from "../lib/net/udp_native.ts";
import { C, type Libc, loadLibc } from "../lib/native/libc.ts";
import { denoUdp, type Udp, UdpLink, type UdpSocket } from "../lib/net/udp.ts";
import type { NetAddr } from "../lib/net/tcp.ts";
import { DEFAULT_RECEIVE_BUFFER, MAX_DATAGRAM } from "../lib/protocol/constants.ts";
import { printedWithoutPermissions } from "./proc.ts";

function native(): Udp {
  const u = nativeUdp(denoUdp);
  if (typeof u === "string") throw new Error(`no native socket here: ${u}`);
  return u;
}

const LOCAL = "127.0.0.1";
const datagram = (i: number, size = 1100) => new Uint8Array(size).fill(i & 0xff).fill(i >> 8, 0, 1);

/** Receives until `count` datagrams came; each as [first byte, second byte, length]. Each call
 * must say `more` of every datagram it hands on but the last (Arq's input sends one ACK for all). */
async function collect(
  s: UdpSocket,
  count: number,
): Promise<{ got: number[][]; calls: number; from: NetAddr[] }> {
  const got: number[][] = [], from: NetAddr[] = [];
  let calls = 0;
  while (got.length < count) {
    const more: boolean[] = [];
    const n = await s.receiveMany!((d, f, m) => {
      got.push([d[0], d[1], d.length]);
      from.push(f);
      more.push(m);
    });
    assert.deepEqual(more, more.map((_, i) => i < more.length - 1), `call ${calls}`);
    assert.equal(n, more.length, `call ${calls}`);
    calls++;
  }
  return { got, calls, from };
}

Deno.test("datagrams sent in batches arrive in order, several per call, with their source", async () => {
  const u = native();
  const a = u.bind({ hostname: LOCAL, port: 0 }), b = u.bind({ hostname: LOCAL, port: 0 });
  try {
    const all = Array.from({ length: 300 }, (_, i) => datagram(i));
    let sent = 0;
    for (let i = 0; i < all.length; i += 100) {
      sent += a.sendMany!(all.slice(i, i + 100), { hostname: LOCAL, port: b.port });
    }
    assert.equal(sent, 300);
    const { got, calls, from } = await collect(b, 300);
    assert.deepEqual(got, all.map((d) => [d[0], d[1], 1100]));
    assert.ok(calls < 300 / 8, `${calls} calls for 300 datagrams`);
    assert.ok(from.every((f) => f.hostname === LOCAL && f.port === a.port));
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("runs of one size go as GSO sends, arrive whole (GRO) and are handed on as the datagrams they were, in order", async () => {
  const u = native();
  const a = u.bind({ hostname: LOCAL, port: 0 }), b = u.bind({ hostname: LOCAL, port: 0 });
  try {
    const offload = (s: UdpSocket) => s as unknown as { gso: boolean; gro: boolean };
    assert.equal(offload(a).gso, true, "this kernel takes UDP_SEGMENT");
    assert.equal(offload(b).gro, true, "this kernel takes UDP_GRO");
    // Two runs of full ones, each ending with a shorter one, then a longer one alone.
    const sizes = [...Array(70).fill(1096), 300, ...Array(5).fill(1096), 40, 1190];
    const all = sizes.map((n, i) => datagram(i, n));
    assert.equal(a.sendMany!(all, { hostname: LOCAL, port: b.port }), all.length);
    const { got, calls } = await collect(b, all.length);
    assert.deepEqual(got, all.map((d) => [d[0], d[1], d.length]));
    // Four GSO sends (59 full ones, 11 and the 300, 5 and the 40, the 1,190), four slots.
    assert.equal(calls, 1, `${calls} receive calls for 78 datagrams`);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("a datagram the kernel refuses in a batch (a firewall's EPERM) is skipped, and the rest still go", async () => {
  const real = loadLibc() as Libc;
  let calls = 0, failed = false;
  const refusing: Libc = {
    ...real,
    // The 3rd call's first datagram is refused, as nftables' drop on output refuses it.
    sendmmsg: (fd, hdr, n, flags) => {
      if (++calls !== 3) return real.sendmmsg(fd, hdr, n, flags);
      failed = true;
      return -1;
    },
    errno: () => failed ? (failed = false, C.EPERM) : real.errno(),
  };
  const u = nativeUdp(denoUdp, undefined, refusing) as Udp;
  const a = u.bind({ hostname: LOCAL, port: 0 }), b = native().bind({ hostname: LOCAL, port: 0 });
  try {
    const to = { hostname: LOCAL, port: b.port };
    const sent = [0, 1].map((i) => a.sendMany!([datagram(i)], to));
    // Sizes that grow: each its own message (a GSO run is of one size).
    sent.push(
      a.sendMany!(Array.from({ length: 10 }, (_, i) => datagram(2 + i, 100 * (i + 1))), to),
    );
    assert.deepEqual(sent, [1, 1, 9]);
    const { got } = await collect(b, 11);
    assert.deepEqual(got.map((g) => (g[0] << 8) | g[1]), [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("a datagram longer than any of ours arrives longer than MAX_DATAGRAM, to be refused", async () => {
  const b = native().bind({ hostname: LOCAL, port: 0 });
  const a = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  try {
    await a.send(new Uint8Array(1500), { transport: "udp", hostname: LOCAL, port: b.port });
    const { got } = await collect(b, 1);
    assert.equal(got[0][2], 1500);
    assert.ok(got[0][2] > MAX_DATAGRAM);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("closing ends a receive that waits, at once", async () => {
  const b = native().bind({ hostname: LOCAL, port: 0 });
  const waiting = b.receiveMany!(() => {});
  const t0 = performance.now();
  setTimeout(() => b.close(), 20);
  await assert.rejects(waiting, /closed/);
  assert.ok(performance.now() - t0 < 500);
});

Deno.test("a port in use is refused as Deno's socket refuses it, either way round", () => {
  const deno = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const port = (deno.addr as Deno.NetAddr).port;
  assert.throws(() => native().bind({ hostname: LOCAL, port }), Deno.errors.AddrInUse);
  deno.close();
  const ours = native().bind({ hostname: LOCAL, port: 0 });
  assert.throws(
    () => Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: ours.port }),
    Deno.errors.AddrInUse,
  );
  ours.close();
});

Deno.test("its receive buffer is raised beyond the default where the kernel allows, and said", async () => {
  const s = native().bind({ hostname: LOCAL, port: 0 });
  s.close();
  const max = Number((await Deno.readTextFile("/proc/sys/net/core/rmem_max")).trim());
  // The kernel grants twice what it allows, up to rmem_max.
  assert.equal(s.receiveBuffer, 2 * Math.min(max, 4 * 2 ** 20));
  assert.ok(s.receiveBuffer! >= DEFAULT_RECEIVE_BUFFER);
});

Deno.test("IPv6 addresses, and CHATNET_NATIVE_UDP=0, keep Deno's socket", () => {
  assert.equal(nativeUdp(denoUdp, "0"), `${NATIVE_UDP_ENV}=0`);
  const v6 = native().bind({ hostname: "::1", port: 0 });
  assert.equal(v6.sendMany, undefined);
  v6.close();
});

Deno.test("without --allow-ffi for libc, Deno's socket stays, with the reason", async () => {
  const probe = `import { nativeUdp } from "${new URL(
    "../lib/net/udp_native.ts",
    import.meta.url,
  )}";
    import { denoUdp } from "${new URL("../lib/net/udp.ts", import.meta.url)}";
    console.log(nativeUdp(denoUdp));`;
  assert.equal(
    await printedWithoutPermissions(probe),
    "no libc found, or --allow-ffi not given\n",
  );
});

Deno.test("what a link is given to send in one task goes in one call, in order, closing or not", async () => {
  const calls: number[][] = [];
  const spy: Udp = {
    bind: () => ({
      port: 1,
      send: () => Promise.resolve(),
      receive: () => new Promise(() => {}),
      close: () => {},
      sendMany: (ds) => (calls.push(ds.map((d) => d[0])), ds.length),
    }),
  };
  const link = new UdpLink({ bind: LOCAL, port: 0, peerIp: LOCAL, peerPort: 2, udp: spy });
  for (let i = 0; i < 5; i++) link.send(new Uint8Array([i]));
  assert.deepEqual(calls, [], "nothing before the task ends");
  await Promise.resolve();
  link.send(new Uint8Array([9]));
  await Promise.resolve();
  assert.deepEqual(calls, [[0, 1, 2, 3, 4], [9]]);
  // What is sent just before closing (a goodbye) still goes.
  link.send(new Uint8Array([7]));
  link.close();
  await Promise.resolve();
  assert.deepEqual(calls, [[0, 1, 2, 3, 4], [9], [7]]);
});
