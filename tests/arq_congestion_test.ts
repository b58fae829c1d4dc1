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
