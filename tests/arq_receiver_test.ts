import assert from "node:assert/strict";
import { Receiver } from "../lib/protocol/arq/receiver.ts";
import { MAX_SEGMENT_DATA } from "../lib/protocol/codec.ts";
import { RECEIVE_WINDOW } from "../lib/protocol/constants.ts";
import { seqAdd } from "../lib/protocol/seq.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const TOP = 2 ** 32 - 3; // three below the wrap

function receiver(start = TOP): { r: Receiver; got: string[] } {
  const got: string[] = [];
  const r = new Receiver(start, (d) => got.push(dec.decode(d)));
  return { r, got };
}

function seg(seq: number, text: string, frg = 0) {
  return { seq: seq >>> 0, frg, data: enc.encode(text) };
}

Deno.test("segments reordered across 2^32 are delivered in sequence order exactly once", () => {
  const { r, got } = receiver();
  const order = [4, 1, 0, 3, 2, 5, 1, 4]; // offsets from TOP; 1 and 4 twice
  for (const o of order) r.onSegment(seg(seqAdd(TOP, o), `m${o}`));
  assert.deepEqual(got, ["m0", "m1", "m2", "m3", "m4", "m5"]);
  assert.equal(r.next, seqAdd(TOP, 6));
  assert.equal(r.next, 3, "wrapped past 2^32");
  assert.equal(r.duplicates, 2);
});

Deno.test("SACK ranges across the wrap name the newest arrival first, then the lowest holes", () => {
  const { r } = receiver();
  for (const o of [2, 3, 6, 9, 10]) r.onSegment(seg(seqAdd(TOP, o), "x"));
  r.onSegment(seg(seqAdd(TOP, 6), "x")); // a duplicate is not a new arrival
  assert.deepEqual(r.sackRanges(), [
    [seqAdd(TOP, 9), seqAdd(TOP, 11)],
    [seqAdd(TOP, 2), seqAdd(TOP, 4)],
    [seqAdd(TOP, 6), seqAdd(TOP, 7)],
  ]);
  assert.equal(r.next, TOP, "nothing in order yet");
});

Deno.test("fragments are reassembled byte for byte, in order, whatever order they arrive in", () => {
  const { r, got } = receiver();
  const text = "abcdefghij".repeat(Math.ceil(2.5 * MAX_SEGMENT_DATA / 10)).slice(
    0,
    2.5 * MAX_SEGMENT_DATA,
  );
  const parts = [0, 1, 2].map((i) => text.slice(i * MAX_SEGMENT_DATA, (i + 1) * MAX_SEGMENT_DATA));
  r.onSegment(seg(seqAdd(TOP, 2), parts[2], 0));
  r.onSegment(seg(seqAdd(TOP, 3), "after", 0));
  r.onSegment(seg(seqAdd(TOP, 0), parts[0], 2));
  assert.deepEqual(got, []);
  r.onSegment(seg(seqAdd(TOP, 1), parts[1], 1));
  assert.deepEqual(got, [text, "after"]);
});

Deno.test("a segment a whole receive window ahead is refused and counted, one just inside is kept", () => {
  const { r, got } = receiver();
  r.onSegment(seg(seqAdd(TOP, RECEIVE_WINDOW), "too far"));
  assert.equal(r.outOfWindow, 1);
  r.onSegment(seg(seqAdd(TOP, RECEIVE_WINDOW - 1), "last"));
  assert.equal(r.outOfWindow, 1);
  for (let o = 0; o < RECEIVE_WINDOW - 1; o++) r.onSegment(seg(seqAdd(TOP, o), ""));
  assert.equal(got.length, RECEIVE_WINDOW);
  assert.equal(got[RECEIVE_WINDOW - 1], "last");
});

Deno.test("a segment from before the cumulative point is a duplicate, never delivered again, and asks for an ACK at once", () => {
  const { r, got } = receiver(5);
  r.onSegment(seg(5, "a"));
  assert.equal(r.takeDisorder(), false, "in order");
  r.onSegment(seg(4, "old"));
  assert.equal(r.takeDisorder(), true, "a duplicate is ACKed again at once");
  r.onSegment(seg(5, "a"));
  assert.deepEqual(got, ["a"]);
  assert.equal(r.duplicates, 2);
  assert.equal(r.takeDisorder(), true);
});

Deno.test("a segment past a gap, and one below the highest received, each ask for an ACK at once; the next in line above a hole does not", () => {
  const { r, got } = receiver(5);
  r.onSegment(seg(7, "c"));
  assert.equal(r.takeDisorder(), true, "past a gap");
  r.onSegment(seg(8, "d"));
  assert.equal(r.takeDisorder(), false, "next after the highest, with the hole still open");
  r.onSegment(seg(5, "a"));
  assert.equal(r.takeDisorder(), true, "a hole partly filled");
  r.onSegment(seg(6, "b"));
  assert.equal(r.takeDisorder(), true, "the hole filled");
  r.onSegment(seg(9, "e"));
  assert.equal(r.takeDisorder(), false, "in order");
  assert.deepEqual(got, ["a", "b", "c", "d", "e"]);
});
