/** When the receiver acknowledges (lib/protocol/arq/acks.ts), in virtual time over ArqLink. */
import assert from "node:assert/strict";
import { ArqLink, testSeed } from "./arq_link.ts";
import { decode, MAX_SEGMENT_DATA, type Packet } from "../lib/protocol/codec.ts";
import { Arq } from "../lib/protocol/arq/mod.ts";
import { MAX_ACK_DELAY } from "../lib/protocol/constants.ts";

const SEED = testSeed();
/** A message that fills one segment: what a file frame is. */
const FULL = "f".repeat(MAX_SEGMENT_DATA - 4);
const full = (i: number) => `${i}`.padStart(4, "0") + FULL;

/** B's datagrams sent after `from` that carry no segments: its ACKs. */
function acksFromB(l: ArqLink, from = 0): number {
  return l.b.packets.slice(from).filter((p) => p.segments.length === 0).length;
}

Deno.test("a receiver of bulk data sends one ACK for every two datagrams, and nothing goes twice", () => {
  const l = new ArqLink({ seed: SEED, path: { delay: 1 } });
  for (let i = 0; i < 400; i++) l.send("a", full(i));
  assert.ok(l.run(() => l.a.delivered.length === 400, 10_000), l.where);
  assert.deepEqual(l.b.received, Array.from({ length: 400 }, (_, i) => full(i)), l.where);
  const acks = acksFromB(l);
  // 200, and a few more where a burst ended on an odd datagram (each held MAX_ACK_DELAY).
  assert.ok(acks >= 200 && acks <= 215, `${acks} ACKs for 400 datagrams, ${l.where}`);
  const s = l.a.arq.stats();
  assert.deepEqual([s.retransmits, s.tailProbes, s.timeouts], [0, 0, 0], l.where);
});

Deno.test("the durable point rides on those ACKs: marking it after every datagram, as the peer does, adds none", () => {
  const l = new ArqLink({
    seed: SEED,
    path: { delay: 1 },
    durableMarks: true,
    afterInput: (side) => side.arq.markDurable(side.arq.receiveMark(), l.now),
  });
  for (let i = 0; i < 400; i++) l.send("a", full(i));
  assert.ok(l.run(() => l.a.delivered.length === 400, 10_000), l.where);
  assert.deepEqual(l.a.delivered, Array.from({ length: 400 }, (_, i) => i + 1), l.where);
  const acks = acksFromB(l);
  assert.ok(acks >= 200 && acks <= 215, `${acks} ACKs for 400 datagrams, ${l.where}`);
});

Deno.test("a lone full datagram is acknowledged MAX_ACK_DELAY after it arrives, a chat line at once", () => {
  const l = new ArqLink({ seed: SEED, path: { delay: 5 } });
  l.send("a", full(0));
  assert.ok(l.run(() => l.a.delivered.length === 1, 1_000), l.where);
  // Sent at 0, there at 5, its ACK leaves at 5 + MAX_ACK_DELAY.
  assert.deepEqual(l.b.sentAt, [5 + MAX_ACK_DELAY], l.where);
  const t0 = l.now;
  l.send("a", "hi");
  assert.ok(l.run(() => l.a.delivered.length === 2, 1_000), l.where);
  // (Its copy, sent while the link's loss is not yet measured, is acknowledged at once too.)
  assert.equal(l.b.sentAt[1] - t0, 5, l.where);
});

Deno.test("a bulk datagram past a hole, and the one that fills it, are acknowledged the moment they arrive", () => {
  const dropped = new Set([10]);
  const l = new ArqLink({
    seed: SEED,
    path: { delay: 1 },
    dropFromA: (i) => dropped.delete(i),
  });
  // 0.3 ms apart, so each arrives on its own (B has acknowledged datagram 9 when 11 comes).
  for (let i = 0; i < 40; i++) l.at(i * 0.3, () => l.send("a", full(i)));
  assert.ok(l.run(() => l.a.delivered.length === 40, 10_000), l.where);
  assert.deepEqual(l.b.received, Array.from({ length: 40 }, (_, i) => full(i)), l.where);
  const arrival = (i: number) => l.a.sentAt[i] + 1;
  const hole = l.a.packets[10].segments[0].seq;
  assert.equal(l.a.packets[11].segments[0].seq, hole + 1, l.where);
  assert.ok(l.b.sentAt.includes(arrival(11)), `the datagram past the hole is not acked at once`);
  const repair = l.a.packets.findIndex((p, i) => i > 10 && p.segments[0]?.seq === hole);
  assert.ok(repair > 11, l.where);
  assert.ok(l.b.sentAt.includes(arrival(repair)), `the repair is not acked at once, ${l.where}`);
  assert.equal(l.a.arq.stats().fastRetransmits, 1, l.where);
});

Deno.test("a chat line stored after its ACK went is said stored at once, and its sender hears of it one path delay later", () => {
  const l = new ArqLink({ seed: SEED, path: { delay: 5 }, durableMarks: true });
  l.send("a", "hi");
  assert.ok(l.run(() => l.b.received.length === 1, 1_000), l.where);
  l.run(() => false, 20);
  assert.deepEqual(l.a.delivered, [], "acknowledged, not yet stored");
  const storedAt = l.now;
  l.b.arq.markDurable(l.b.arq.receiveMark(), l.now);
  assert.equal(l.b.sentAt.at(-1), storedAt, l.where);
  assert.ok(l.run(() => l.a.delivered.length === 1, 1_000), l.where);
  assert.equal(l.now - storedAt, 5, l.where);
});

Deno.test("at 5% random loss a bulk receiver still sends about one ACK for every two datagrams", () => {
  const l = new ArqLink({ seed: SEED, path: { delay: 1, loss: 0.05 } });
  for (let i = 0; i < 2000; i++) l.send("a", full(i));
  assert.ok(l.run(() => l.a.delivered.length === 2000, 60_000), l.where);
  assert.deepEqual(l.b.received, Array.from({ length: 2000 }, (_, i) => full(i)), l.where);
  // What reached B: every datagram of A's less the ones the path dropped.
  const arrived = l.ab.counts.offered - l.ab.counts.randomDrops;
  const acks = acksFromB(l);
  // A hole costs an immediate ACK for the datagram past it and for its repair, no more.
  assert.ok(acks < 0.62 * arrived, `${acks} ACKs for ${arrived} datagrams, ${l.where}`);
});

/** Two Arqs wired to nothing: A is given `messages` full segments, and what leaves at once (the
 * initial window's worth, at least 10) is returned decoded, for B to be fed by hand. */
function batchPair(messages: number): { b: Arq; sent: Packet[]; fromB: () => Packet[] } {
  const out = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
  const arq = (side: "a" | "b") =>
    new Arq({
      srcEpoch: 1,
      dstEpoch: 1,
      output: (d) => out[side].push(d),
      onMessage: () => {},
      onDelivered: () => {},
    });
  const a = arq("a"), b = arq("b");
  const packet = (d: Uint8Array) => (decode(d) as { packet: Packet }).packet;
  for (let i = 0; i < messages; i++) a.send(new TextEncoder().encode(full(i)), i + 1, 0);
  const sent = out.a.splice(0).map(packet);
  assert.ok(sent.length >= 10, `${sent.length} sent`);
  return { b, sent, fromB: () => out.b.map(packet) };
}

Deno.test("datagrams that arrive together (a receive batch) get one ACK, sent after the last", () => {
  const { b, sent, fromB } = batchPair(40);
  sent.forEach((p, i) => {
    b.input(p, 1, i < sent.length - 1);
    if (i < sent.length - 1) {
      assert.equal(fromB().length, 0, `an ACK before the batch ended (${i})`);
    }
  });
  const acks = fromB();
  assert.equal(acks.length, 1);
  const ack = acks[0];
  assert.equal(ack.ack, sent.at(-1)!.segments[0].seq + 1);
  assert.deepEqual(ack.segments, []);
});

Deno.test("within a batch, a datagram past a hole is acknowledged at once, naming the new range", () => {
  const { b, sent, fromB } = batchPair(10);
  const batch = [...sent.slice(0, 3), ...sent.slice(4, 10)]; // the 4th is lost
  batch.forEach((p, i) => b.input(p, 1, i < batch.length - 1));
  const acks = fromB();
  const hole = sent[3].segments[0].seq;
  // The one past the hole at once, with its range; the batch's end for the rest.
  assert.equal(acks.length, 2);
  assert.deepEqual([acks[0].ack, acks[0].sacks], [hole, [[hole + 1, hole + 2]]]);
  assert.deepEqual([acks[1].ack, acks[1].sacks], [hole, [[hole + 1, hole + 7]]]);
});
