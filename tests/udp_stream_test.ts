/** The file channel over the session (lib/files/udp_stream.ts) in virtual time: a fake session
 * whose window the test opens by hand, and a wire the test delivers. */
import assert from "node:assert/strict";
import {
  decodeFrame,
  encodeFrame,
  FRAME_DATA,
  type SessionPort,
  STREAM_WINDOW,
  UdpFiles,
  type UdpInStream,
} from "../lib/files/udp_stream.ts";
import { decodeApp } from "../lib/app_message.ts";
import { Route } from "../lib/files/route.ts";
import { denoTcp } from "../lib/net/tcp.ts";
import { denoClock } from "../lib/net/clock.ts";
import { freePorts } from "../lib/demo.ts";
import { seededRng } from "../lib/rng.ts";

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 21);
const ID = "0123456789abcdef";

/** A session whose queue drains only as far as `room` allows (the window and pacing), when it
 * flushes: on send, as the real one does while little is in flight, or when the test says (the
 * session's ACKs and timers). */
class FakeSession implements SessionPort {
  queue: Uint8Array[] = [];
  wire: Uint8Array[] = [];
  room = 0;
  send(m: Uint8Array) {
    this.queue.push(m);
    this.flush();
  }
  unsent() {
    return this.queue.length;
  }
  flush() {
    while (this.queue.length > 0 && this.room > 0) {
      this.wire.push(this.queue.shift()!);
      this.room--;
    }
  }
}

/** Timers the test runs itself. */
function virtualTimers() {
  const due: (() => void)[] = [];
  return {
    later: (fn: () => void) => void due.push(fn),
    run: () => due.splice(0).forEach((f) => f()),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const chat = new Uint8Array([1, 2, 3]);

Deno.test("file frames round-trip, and anything else decodes to a reason", () => {
  const data = new Uint8Array(FRAME_DATA).map((_, i) => i);
  for (
    const f of [
      { type: 1 as const, id: ID, stream: 7 },
      { type: 2 as const, id: ID, stream: 0xffffffff, data },
      { type: 3 as const, id: ID, stream: 1 },
      { type: 4 as const, id: ID, stream: 2, consumed: 2 ** 40 + 3 },
      { type: 5 as const, id: ID, stream: 3, reason: "closed" },
    ]
  ) {
    const bytes = encodeFrame(f);
    assert.ok(bytes.length <= FRAME_DATA + 14);
    assert.deepEqual(decodeFrame(bytes), f);
    assert.equal((decodeApp(bytes) as { kind: string }).kind, "file");
  }
  const data1 = encodeFrame({ type: 2, id: ID, stream: 1, data: new Uint8Array(1) });
  assert.equal(decodeFrame(data1.subarray(0, 10)), "short file frame");
  assert.equal(decodeFrame(data1.subarray(0, 14)), "bad data");
  const big = new Uint8Array(14 + FRAME_DATA + 1);
  big.set(data1.subarray(0, 14));
  assert.equal(decodeFrame(big), "bad data");
  const odd = data1.slice();
  odd[1] = 9;
  assert.equal(decodeFrame(odd), "unknown file frame type 9");
  const credit = encodeFrame({ type: 4, id: ID, stream: 1, consumed: 1 });
  assert.equal(decodeFrame(credit.subarray(0, 20)), "bad credit");
  const fin = encodeFrame({ type: 3, id: ID, stream: 1 });
  assert.equal(decodeFrame(new Uint8Array([...fin, 0])), "file frame with trailing bytes");
});

Deno.test("a chat line queued during a transfer waits behind at most one file datagram", async () => {
  const s = new FakeSession();
  const ch = new UdpFiles({ port: s });
  const out = ch.open(ID);
  const wrote = out.write(new Uint8Array(200 * FRAME_DATA));
  for (let round = 0; round < 20; round++) {
    s.room = 1 + (round % 5); // the window lets a few datagrams go, then closes
    s.flush();
    ch.feed();
    // The session never holds more than one file frame unsent.
    assert.ok(s.queue.length <= 1, `round ${round}: ${s.queue.length} unsent`);
    s.send(chat); // a line typed now
    assert.ok(s.queue.indexOf(chat) <= 1, `round ${round}: chat at ${s.queue.indexOf(chat)}`);
    s.queue = s.queue.filter((m) => m !== chat);
  }
  s.room = Infinity;
  s.flush();
  ch.feed();
  assert.equal(await wrote, 200 * FRAME_DATA);
});

Deno.test("a sender stops at its window until the receiver reports what it consumed", async () => {
  const s = new FakeSession();
  s.room = Infinity;
  const ch = new UdpFiles({ port: s });
  const out = ch.open(ID);
  let done = false;
  out.write(new Uint8Array(STREAM_WINDOW + 10 * FRAME_DATA)).then(() => done = true);
  ch.feed();
  const dataBytes = () =>
    s.wire.map((w) => decodeFrame(w)).reduce(
      (n, f) => n + (typeof f !== "string" && f.data ? f.data.length : 0),
      0,
    );
  assert.equal(dataBytes(), STREAM_WINDOW);
  await settle();
  assert.equal(done, false);
  const open = decodeFrame(s.wire[0]);
  assert.ok(typeof open !== "string" && open.type === 1);
  ch.onFrame(encodeFrame({ type: 4, id: ID, stream: open.stream, consumed: 5 * FRAME_DATA }));
  assert.equal(dataBytes(), STREAM_WINDOW + 5 * FRAME_DATA);
  // A credit beyond what was sent is bogus: ignored.
  ch.onFrame(encodeFrame({ type: 4, id: ID, stream: open.stream, consumed: 2 ** 40 }));
  assert.equal(dataBytes(), STREAM_WINDOW + 5 * FRAME_DATA);
});

/** Two channels joined by a wire the test delivers, a few datagrams at a time. */
function joined(seed: number) {
  const rng = seededRng(seed);
  const sa = new FakeSession(), sb = new FakeSession();
  const timers = virtualTimers();
  const a = new UdpFiles({ port: sa, later: timers.later });
  const b = new UdpFiles({ port: sb, later: timers.later });
  const step = () => {
    for (const [from, ch] of [[sa, b], [sb, a]] as const) {
      from.room = 1 + Math.floor(rng() * 64);
      from.flush();
      for (const m of from.wire.splice(0)) ch.onFrame(m);
    }
    a.feed();
    b.feed();
    timers.run();
  };
  return { a, b, step };
}

Deno.test("a stream crosses intact in order with bounded buffers, and ends", async () => {
  const rng = seededRng(SEED);
  const size = 3 * STREAM_WINDOW + 12345;
  const data = new Uint8Array(size).map(() => (rng() * 256) | 0);
  const j = joined(SEED);
  let incoming: UdpInStream | undefined;
  j.b.onIncoming((s) => incoming = s);
  const out = j.a.open(ID);
  const sending = (async () => {
    for (let o = 0; o < size; o += 1 << 20) await out.write(data.subarray(o, o + (1 << 20)));
    await out.closeWrite();
    out.close();
  })();
  const got: Uint8Array[] = [];
  let ended = false;
  const reading = (async () => {
    while (!incoming) await settle();
    const buf = new Uint8Array(1 << 20);
    for (let n; (n = await incoming.read(buf)) !== null;) got.push(buf.slice(0, n));
    ended = true;
  })();
  for (let i = 0; i < 20_000 && !ended; i++) {
    j.step();
    await settle();
  }
  await Promise.all([sending, reading]);
  // What the receiver held unread never exceeded the window: it would have reset the stream.
  assert.equal(j.b.counts.overrun, 0);
  const all = new Uint8Array(size);
  let at = 0;
  for (const g of got) all.set(g, at), at += g.length;
  assert.equal(at, size, `seed ${SEED}`);
  assert.deepEqual(all, data, `seed ${SEED}`);
  assert.equal(j.a.streams + j.b.streams, 0);
});

Deno.test("a receiver resets a stream whose sender ignores its window", () => {
  const s = new FakeSession();
  const ch = new UdpFiles({ port: s, later: () => {} });
  let incoming: UdpInStream | undefined;
  ch.onIncoming((x) => incoming = x);
  ch.onFrame(encodeFrame({ type: 1, id: ID, stream: 9 }));
  assert.ok(incoming);
  const data = new Uint8Array(FRAME_DATA);
  for (let sent = 0; sent <= STREAM_WINDOW; sent += FRAME_DATA) {
    ch.onFrame(encodeFrame({ type: 2, id: ID, stream: 9, data }));
  }
  assert.equal(ch.counts.overrun, 1);
  const reset = decodeFrame(s.queue.at(-1)!);
  assert.ok(typeof reset !== "string");
  assert.deepEqual([reset.type, reset.stream, reset.reason], [5, 9, "sent past its window"]);
  // Later frames of that stream are unknown, and the sender is told again to stop.
  ch.onFrame(encodeFrame({ type: 2, id: ID, stream: 9, data }));
  assert.equal(ch.counts.unknown, 1);
});

Deno.test("data naming an open stream's number under another transfer's id is refused, not delivered", async () => {
  const s = new FakeSession();
  const ch = new UdpFiles({ port: s, later: () => {} });
  let incoming: UdpInStream | undefined;
  ch.onIncoming((x) => incoming = x);
  ch.onFrame(encodeFrame({ type: 1, id: ID, stream: 9 }));
  const other = "fedcba9876543210";
  ch.onFrame(encodeFrame({ type: 2, id: other, stream: 9, data: new Uint8Array([6, 6]) }));
  assert.equal(ch.counts.unknown, 1);
  const reset = decodeFrame(s.queue.at(-1)!);
  assert.ok(typeof reset !== "string");
  assert.deepEqual([reset.type, reset.id, reset.stream], [5, other, 9]);
  ch.onFrame(encodeFrame({ type: 2, id: ID, stream: 9, data: new Uint8Array([1, 2, 3]) }));
  ch.onFrame(encodeFrame({ type: 3, id: ID, stream: 9 }));
  const buf = new Uint8Array(10);
  assert.equal(await incoming!.read(buf), 3);
  assert.deepEqual(buf.subarray(0, 3), new Uint8Array([1, 2, 3]));
  assert.equal(await incoming!.read(buf), null);
});

Deno.test("when the peer is lost, writes and reads in progress fail at once", async () => {
  const s = new FakeSession();
  const ch = new UdpFiles({ port: s, later: () => {} });
  const out = ch.open(ID);
  const write = out.write(new Uint8Array(10));
  let incoming: UdpInStream | undefined;
  ch.onIncoming((x) => incoming = x);
  ch.onFrame(encodeFrame({ type: 1, id: ID, stream: 4 }));
  const read = incoming!.read(new Uint8Array(100));
  ch.reset("the peer went offline");
  await assert.rejects(write, /the peer went offline/);
  await assert.rejects(read, /the peer went offline/);
  await assert.rejects(out.write(new Uint8Array(1)), /the peer went offline/);
  assert.equal(ch.streams, 0);
});

Deno.test("a waiting read gathers frames until a batch is there or the batch wait ends", async () => {
  const s = new FakeSession();
  const timers = virtualTimers();
  const ch = new UdpFiles({ port: s, later: timers.later });
  let incoming: UdpInStream | undefined;
  ch.onIncoming((x) => incoming = x);
  ch.onFrame(encodeFrame({ type: 1, id: ID, stream: 4 }));
  let got: number | null | undefined;
  incoming!.read(new Uint8Array(1 << 20)).then((n) => got = n);
  const data = new Uint8Array(FRAME_DATA);
  for (let i = 0; i < 3; i++) ch.onFrame(encodeFrame({ type: 2, id: ID, stream: 4, data }));
  await settle();
  assert.equal(got, undefined);
  timers.run();
  await settle();
  assert.equal(got, 3 * FRAME_DATA);
  got = undefined;
  incoming!.read(new Uint8Array(1 << 20)).then((n) => got = n);
  ch.onFrame(encodeFrame({ type: 3, id: ID, stream: 4 }));
  await settle();
  assert.equal(got, null);
});

Deno.test("auto falls back to the session when the TCP port refuses, says why once, and stays there", async () => {
  const [port] = freePorts(1); // nothing listens on it
  const s = new FakeSession();
  const udp = new UdpFiles({ port: s });
  const said: string[] = [];
  const route = new Route({
    mode: "auto",
    peerIp: "127.0.0.1",
    tcp: denoTcp,
    clock: denoClock,
    udp,
    onFallback: (why, p) => said.push(`${p}: ${why}`),
  });
  const first = await route.connect(ID, port);
  const second = await route.connect("fedcba9876543210", port);
  assert.deepEqual([first.via, second.via], ["udp", "udp"]);
  assert.deepEqual(said, [`${port}: connection refused`]);
  const tcpOnly = new Route({
    mode: "tcp",
    peerIp: "127.0.0.1",
    tcp: denoTcp,
    clock: denoClock,
    udp,
  });
  await assert.rejects(tcpOnly.connect(ID, port));
  const udpOnly = new Route({
    mode: "udp",
    peerIp: "127.0.0.1",
    tcp: denoTcp,
    clock: denoClock,
    udp,
  });
  assert.equal((await udpOnly.connect(ID, port)).via, "udp");
  first.conn.close();
  second.conn.close();
});
