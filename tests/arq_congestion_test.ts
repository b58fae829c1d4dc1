import assert from "node:assert/strict";
import {
  DEFAULT_RECEIVE_BUFFER,
  INITIAL_WINDOW,
  MAX_FLIGHT_BYTES,
} from "../lib/protocol/constants.ts";
import { encode, MAX_SEGMENT_DATA, SEGMENT_HEADER_SIZE } from "../lib/protocol/codec.ts";
import { bufferClass } from "../lib/protocol/arq/mod.ts";
import { ArqLink, testSeed } from "./arq_link.ts";

const SEED = testSeed();
const RTT = 40;

Deno.test("through a 1 Mbit/s bottleneck with a 32-datagram queue, 3,000 messages of 100 B cross with almost no queue drops, no redundancy, near the line rate", () => {
  const l = new ArqLink({
    seed: SEED,
    path: { delay: RTT / 2, rate: 125, queue: 32 },
    back: { delay: RTT / 2 },
  });
  const text = "y".repeat(100);
  for (let i = 0; i < 3000; i++) l.send("a", text);
  assert.ok(l.run(() => l.a.delivered.length === 3000, 120_000), l.where);
  assert.equal(l.b.received.length, 3000);
  const c = l.ab.counts;
  assert.ok(
    c.queueDrops <= 0.05 * c.offered,
    `${c.queueDrops} of ${c.offered} dropped, ${l.where}`,
  );
  const s = l.a.arq.stats();
  assert.equal(s.redundant + s.bundled, 0, `copies under a full queue, ${l.where}`);
  // The time the bytes take at 1 Mbit/s, plus one RTT: within 1.3x of it.
  const bytes = l.a.packets.reduce((n, p) => n + encode(p).length, 0);
  const ideal = bytes / 125 + RTT;
  assert.ok(l.now <= 1.3 * ideal, `${l.now} ms against ${ideal} ms, ${l.where}`);
});

Deno.test("random loss on an uncongested path keeps redundancy on and the window whole", () => {
  const l = new ArqLink({ seed: SEED, path: { delay: RTT / 2, loss: 0.05 } });
  for (let i = 0; i < 300; i++) l.at(i * 20, () => l.send("a", `chat line ${i}`));
  assert.ok(l.run(() => l.a.delivered.length === 300, 60_000), l.where);
  assert.deepEqual(l.b.received, Array.from({ length: 300 }, (_, i) => `chat line ${i}`));
  const s = l.a.arq.stats();
  assert.ok(s.redundant > 200, `redundant ${s.redundant}, ${l.where}`);
  assert.equal(s.congestionEvents, 0, l.where);
  assert.ok(s.cwnd >= INITIAL_WINDOW, `cwnd ${s.cwnd}`);
});

Deno.test("a line typed into an idle session leaves at once", () => {
  const l = new ArqLink({ seed: SEED, path: { delay: RTT / 2 } });
  l.run(() => false, 1000);
  const before = l.a.sentAt.length;
  l.send("a", "hello");
  assert.deepEqual(l.a.sentAt.slice(before, before + 1), [1000]);
  assert.ok(l.run(() => l.b.received.length === 1, 1000));
  assert.equal(l.now, 1000 + RTT / 2);
});

Deno.test("copies stop while another flow fills the bottleneck queue, and come back once it leaves", () => {
  // 3% random loss each way on a 1 Mbit/s, 32-datagram bottleneck; a chat line every 50 ms for
  // 30 s. From 10 s to 20 s another flow offers 1,200-byte datagrams at 1.1x the line rate, so
  // the queue stays full (307 ms of delay): copies then only add to the congestion.
  const l = new ArqLink({
    seed: SEED,
    path: { delay: RTT / 2, rate: 125, queue: 32, loss: 0.03 },
    back: { delay: RTT / 2, loss: 0.03 },
  });
  const LINES = 600;
  for (let i = 0; i < LINES; i++) l.at(i * 50, () => l.send("a", `line ${i}`));
  for (let t = 10_000; t < 20_000; t += 1200 / 125 / 1.1) l.at(t, () => l.ab.carry(1200, l.now));
  const copies: number[] = [];
  for (const t of [2_000, 10_000, 12_000, 20_000, 22_000, 30_000]) {
    l.at(t, () => copies.push(l.a.arq.stats().redundant));
  }
  assert.ok(l.run(() => l.a.delivered.length === LINES && copies.length === 6, 120_000), l.where);
  assert.deepEqual(l.b.received, Array.from({ length: LINES }, (_, i) => `line ${i}`));
  const before = copies[1] - copies[0],
    during = copies[3] - copies[2],
    after = copies[5] - copies[4];
  const what = `copies before ${before}, during ${during}, after ${after}; ${l.where}`;
  assert.ok(before >= 40, what);
  assert.ok(during <= before / 10, what);
  assert.ok(after >= before / 2, what);
});

/** A TCP flow at a queue on its own host, as Linux runs it: TCP small queues hold it to
 * `packets` datagrams of 1,500 B in the queue, and one more goes in as one leaves (a drop at a
 * full queue is retried a millisecond later). Returns the bytes it has put on the wire. */
function smallQueueFlow(l: ArqLink, packets: number, delay: number): () => number {
  let sent = 0;
  const push = () => {
    const at = l.ab.carry(1500, l.now);
    if (at === undefined) return l.at(l.now + 1, push);
    l.at(at - delay, () => {
      sent += 1500;
      push();
    });
  };
  for (let i = 0; i < packets; i++) push();
  return () => sent;
}

Deno.test("a bulk stream shares a 1 Mbit/s, 16 KB bottleneck with a TCP flow held to two packets in the queue, taking a third to two thirds of it", () => {
  const delay = 0.5;
  const l = new ArqLink({
    seed: SEED,
    path: { delay, rate: 125, queue: 14 },
    back: { delay },
  });
  // The session is up before the competition starts, as in bench:congestion.
  l.send("a", "hello");
  l.run(() => false, 1_000);
  const tcp = smallQueueFlow(l, 2, delay);
  const text = "p".repeat(500);
  for (let i = 0; i < 8000; i++) l.send("a", text);
  l.run(() => false, 5_000);
  const from = { all: l.ab.counts.bytes, tcp: tcp() };
  l.run(() => false, 25_000);
  const flow = tcp() - from.tcp;
  const ours = l.ab.counts.bytes - from.all - flow;
  const share = ours / (ours + flow);
  const s = l.a.arq.stats();
  const where = `share ${share.toFixed(2)}, cwnd ${s.cwnd}, srtt ${s.srtt.toFixed(1)} ms, ` +
    `min ${s.minRtt} ms, ${l.where}`;
  assert.ok(share >= 1 / 3 && share <= 2 / 3, where);
  // The line was kept busy: both flows together used nearly all of it.
  assert.ok(ours + flow >= 0.95 * 125 * 25_000, `${ours + flow} B, ${where}`);
});

Deno.test("a timeout behind a filling queue does not stop RTT sampling: after a sub-millisecond handshake, 2,000 x 500 B cross a 1 Mbit/s, 16 KB bottleneck with few queue drops", () => {
  // A veth's delay: the handshake times 0.6 ms, so the first RTO fires before the first ACK of
  // a burst queued behind the bottleneck.
  const delay = 0.1;
  const l = new ArqLink({ seed: SEED, path: { delay, rate: 125, queue: 14 }, back: { delay } });
  l.send("a", "hello");
  l.run(() => false, 1_000);
  const text = "b".repeat(500);
  for (let i = 0; i < 2000; i++) l.send("a", text);
  assert.ok(l.run(() => l.a.delivered.length === 2001, 60_000), l.where);
  const c = l.ab.counts;
  const s = l.a.arq.stats();
  const where = `${c.queueDrops} of ${c.offered} dropped, srtt ${s.srtt.toFixed(1)} ms, ` +
    `timeouts ${s.timeouts}, ${l.where}`;
  assert.ok(c.queueDrops <= 0.05 * c.offered, where);
  // The RTT took in the queue: the 16 KB queue at 1 Mbit/s is up to 128 ms.
  assert.ok(s.srtt > 20, where);
  assert.ok(l.now - 1_000 <= 1.3 * (c.bytes / 125), `${l.now} ms, ${where}`);
});

Deno.test("on a clean 1 ms path bulk data moves a whole flight per round trip: pacing does not hold it back", () => {
  const l = new ArqLink({ seed: SEED, path: { delay: 0.5 } });
  const full = "f".repeat(MAX_SEGMENT_DATA);
  for (let i = 0; i < 3000; i++) l.send("a", full);
  assert.ok(l.run(() => l.a.delivered.length === 3000, 60_000), l.where);
  // MAX_FLIGHT_BYTES per millisecond is 49 MB/s; pacing at 24 MB/s took 2.2 times as long.
  const ideal = 3000 * MAX_SEGMENT_DATA / MAX_FLIGHT_BYTES;
  assert.ok(
    l.now < 1.3 * ideal,
    `${l.now.toFixed(1)} ms against ${ideal.toFixed(1)} ms, ${l.where}`,
  );
});

Deno.test("a socket buffer is told as one class per doubling past the default, at most five", () => {
  const classes = [undefined, 0, 100_000, DEFAULT_RECEIVE_BUFFER, 2 * DEFAULT_RECEIVE_BUFFER - 1]
    .concat([2 * DEFAULT_RECEIVE_BUFFER, 8 * 2 ** 20, 2 ** 40]).map(bufferClass);
  assert.deepEqual(classes, [0, 0, 0, 0, 0, 1, 5, 5]);
});

/** The most bytes of full segments A has in flight while it sends 3,000 of them over a clean
 * 20 ms path with no bottleneck. */
function mostInFlight(receiveBuffer: { a?: number; b?: number }): number {
  const l = new ArqLink({ seed: SEED, path: { delay: 10 }, receiveBuffer });
  const full = "f".repeat(MAX_SEGMENT_DATA);
  for (let i = 0; i < 3000; i++) l.send("a", full);
  let most = 0;
  const done = l.run(() => {
    most = Math.max(most, l.a.arq.stats().inFlight);
    return l.a.delivered.length === 3000;
  }, 60_000);
  assert.ok(done, l.where);
  return most * (SEGMENT_HEADER_SIZE + MAX_SEGMENT_DATA);
}

Deno.test("a receiver that says its socket holds more is sent more in flight; one that says nothing, MAX_FLIGHT_BYTES", () => {
  const plain = mostInFlight({});
  assert.ok(plain <= MAX_FLIGHT_BYTES + MAX_SEGMENT_DATA, `${plain} B in flight`);
  assert.ok(plain >= MAX_FLIGHT_BYTES - 2 * MAX_SEGMENT_DATA, `${plain} B in flight`);
  // Only the receiver's buffer counts: A's own says nothing about B's.
  assert.equal(mostInFlight({ a: 8 * 2 ** 20 }), plain);
  const big = mostInFlight({ b: 8 * 2 ** 20 }); // class 5: up to 32 times as much
  assert.ok(big > 16 * MAX_FLIGHT_BYTES, `${big} B in flight`);
  assert.ok(big <= 32 * MAX_FLIGHT_BYTES + MAX_SEGMENT_DATA, `${big} B in flight`);
});
