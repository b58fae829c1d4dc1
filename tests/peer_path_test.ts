/** Address migration's pure parts: which datagrams from a new address may move the peer
 * (lib/peer_path.ts), the session's verdict on them, and files re-targeting the moved peer. */
import assert from "node:assert/strict";
import { PeerPath, REMEMBERED, REPORT_MS } from "../lib/peer_path.ts";
import { SimNet } from "./sim.ts";
import { NO_IMPAIRMENT } from "../lib/net/impair.ts";
import { encode, MAGIC, PacketType, SEALED, VERSION } from "../lib/protocol/codec.ts";
import { Route } from "../lib/files/route.ts";
import { denoTcp } from "../lib/net/tcp.ts";
import { denoClock } from "../lib/net/clock.ts";
import { UdpFiles } from "../lib/files/udp_stream.ts";

const PEER = { hostname: "192.0.2.7", port: 7000 };
const NEW = { hostname: "198.51.100.9", port: 40123 };

/** The first bytes of a datagram of ours: sealed, or a plaintext one. */
function ours(sealed: boolean): Uint8Array {
  const d = new Uint8Array(64);
  d[0] = MAGIC >> 8;
  d[1] = MAGIC & 0xff;
  d[2] = VERSION;
  d[3] = sealed ? SEALED : PacketType.data;
  return d;
}

Deno.test("with a passphrase, a sealed datagram from a new address is a candidate, and the peer moves only once one opened", () => {
  const path = new PeerPath({ peer: PEER, authenticated: true });
  assert.deepEqual(path.admit(ours(true), PEER, 0), { admission: "current" });
  // The same address written another way (IPv4-mapped) is the same peer.
  const mapped = { hostname: "::ffff:192.0.2.7", port: 7000 };
  assert.deepEqual(path.admit(ours(true), mapped, 0), { admission: "current" });
  assert.deepEqual(path.admit(ours(true), NEW, 0), { admission: "candidate" });
  path.notOpened();
  assert.deepEqual(path.peer, PEER);
  assert.deepEqual(path.opened(NEW), PEER);
  assert.deepEqual(path.peer, NEW);
  assert.deepEqual(path.admit(ours(true), NEW, 1), { admission: "current" });
  assert.equal(path.opened(NEW), undefined, "already there: no second move");
  // And back, when the old address proves itself again.
  assert.equal(path.admit(ours(true), PEER, 2).admission, "candidate");
  assert.deepEqual(path.opened(PEER), NEW);
  assert.deepEqual(path.counts, { foreign: 1, moves: 2 });
});

Deno.test("a source address object already found to be the peer's is not once the peer moves", () => {
  const path = new PeerPath({ peer: PEER, authenticated: true });
  // Sockets hand the same object for a run of datagrams from one source (lib/net/udp_native.ts).
  const from = Object.freeze({ ...PEER });
  assert.equal(path.admit(ours(true), from, 0).admission, "current");
  assert.equal(path.admit(ours(true), from, 0).admission, "current");
  assert.deepEqual(path.opened(NEW), PEER);
  assert.equal(path.admit(ours(true), from, 1).admission, "candidate");
});

Deno.test("with a passphrase, a plaintext handshake from a new address is refused and said; junk is only counted", () => {
  const path = new PeerPath({ peer: PEER, authenticated: true });
  assert.deepEqual(path.admit(ours(false), NEW, 0), {
    admission: "refused",
    report: "Ignoring a handshake from 198.51.100.9:40123: the peer is 192.0.2.7:7000, and a new " +
      "session starts only from there (a session already open follows its peer to a new address)",
  });
  assert.deepEqual(path.admit(new TextEncoder().encode("GET / HTTP/1.1"), NEW, 0), {
    admission: "refused",
  });
  assert.equal(path.counts.foreign, 2);
});

Deno.test("without a passphrase, a new address is refused, said once per address and at most every 10 s", () => {
  const path = new PeerPath({ peer: PEER, authenticated: false });
  const said: (string | undefined)[] = [];
  const from = (port: number) => ({ hostname: "198.51.100.9", port });
  // The peer's new port sends again and again: said once.
  for (let i = 0; i < 50; i++) said.push(path.admit(ours(true), NEW, i * 100).report);
  assert.equal(
    said[0],
    "Ignoring datagrams from 198.51.100.9:40123: the peer is 192.0.2.7:7000, and without a passphrase a peer that changes address cannot be told from anyone else (with one, it is followed)",
  );
  assert.deepEqual(said.slice(1), Array(49).fill(undefined));
  // Another address within REPORT_MS is counted, not said; one after it is said.
  assert.equal(path.admit(ours(false), from(1), REPORT_MS - 1).report, undefined);
  assert.match(
    path.admit(ours(false), from(2), REPORT_MS).report!,
    /^Ignoring datagrams from 198\.51\.100\.9:2:/,
  );
  // A spray of forged sources: at most one line per REPORT_MS, and memory stays bounded (an
  // address pushed out of the memory may be said again, after REPORT_MS).
  let lines = 0;
  for (let i = 0; i < 10_000; i++) {
    if (path.admit(ours(false), from(10_000 + i), REPORT_MS * 2 + i).report) lines++;
  }
  assert.equal(lines, 1);
  assert.ok(REMEMBERED >= 16);
  assert.equal(path.admit(ours(true), PEER, 0).admission, "current");
  assert.equal(path.counts.foreign, 50 + 2 + 10_000);
  assert.deepEqual(path.peer, PEER, "without a passphrase the peer never moves");
});

Deno.test("the session says a datagram may move the peer only if it opened and is the newest it has sent", () => {
  const captured: Uint8Array[] = [];
  let capture = false;
  const n = new SimNet({
    impair: { ...NO_IMPAIRMENT, seed: 3 },
    secretA: "migrate",
    secretB: "migrate",
    wire: (from, d) => capture && from === "a" && d[3] === SEALED && captured.push(d),
  });
  assert.ok(n.run(() => n.a.session.online && n.b.session.online, 30_000), "online");
  // Two datagrams alice sends while bob hears nothing (they are "in flight").
  n.up.b = false;
  capture = true;
  n.send("a", "one");
  n.run(() => captured.length >= 1, 1000);
  n.send("a", "two");
  n.run(() => captured.length >= 2, 1000);
  capture = false;
  const [older, newer] = captured;
  const b = n.b.session;
  const tampered = newer.slice();
  tampered[tampered.length - 1] ^= 1;
  assert.equal(b.input(tampered, n.now), false, "a forged one opens nothing");
  assert.equal(b.input(newer, n.now), true, "the newest, opened");
  assert.equal(b.input(newer, n.now), false, "a replay of it");
  assert.equal(b.input(older, n.now), false, "opened, but older than one seen: reordered");
  const hello = encode({
    type: PacketType.hello,
    flags: 0,
    loss: 0,
    srcEpoch: 0xaaaa0001,
    dstEpoch: 0xbbbb0001,
    pn: 0,
    ack: 0,
    ts: 0,
    echo: 0,
    durable: 0,
    sacks: [],
    segments: [],
  });
  assert.equal(b.input(hello, n.now), false, "plaintext never moves it");
  // The older one still counts: it only cannot move the peer.
  assert.deepEqual(n.b.received.slice(0, 1), ["one"]);
  const s = b.stats();
  assert.equal(s.unauthenticated >= 1 && s.replayed >= 1, true, JSON.stringify(s));
});

Deno.test("without a passphrase the session never says a datagram may move the peer", () => {
  let last: Uint8Array | undefined;
  const n = new SimNet({
    impair: { ...NO_IMPAIRMENT, seed: 4 },
    wire: (from, d) => from === "a" && (last = d),
  });
  assert.ok(n.run(() => n.a.session.online && n.b.session.online, 30_000), "online");
  n.up.b = false;
  n.send("a", "x");
  n.run(() => false, 50);
  assert.equal(n.b.session.input(last!, n.now), false);
});

Deno.test("a moved peer's file port is tried at its new address, even after TCP failed at the old one", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.2", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted = listener.accept();
  const udp = new UdpFiles({
    port: { send: () => {}, unsent: () => 0, flush: () => {} },
  });
  const route = new Route({
    mode: "auto",
    peerIp: "127.0.0.1", // nothing listens there on that port
    tcp: denoTcp,
    clock: denoClock,
    udp,
  });
  try {
    const first = await route.connect("0123456789abcdef", port);
    assert.equal(first.via, "udp");
    first.conn.close();
    route.peerIp = "127.0.0.2";
    const second = await route.connect("0123456789abcdef", port);
    assert.equal(second.via, "tcp");
    const conn = await accepted;
    assert.equal((conn.remoteAddr as Deno.NetAddr).hostname, "127.0.0.1");
    conn.close();
    second.conn.close();
  } finally {
    listener.close();
  }
});
