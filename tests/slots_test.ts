/** The transfer queue (lib/files/slots.ts): a few at a time, the rest in the order they came. */
import assert from "node:assert/strict";
import { MAX_OFFERS, MAX_STREAMS, Slots } from "../lib/files/slots.ts";

Deno.test("slots start at most their capacity and hand each freed slot to the first waiting", () => {
  const s = new Slots(2);
  const started: string[] = [];
  const take = (id: string) => s.take(id, () => started.push(id));
  assert.deepEqual(["a", "b", "c", "d", "e"].map(take), [
    "started",
    "started",
    "queued",
    "queued",
    "queued",
  ]);
  assert.deepEqual(started, ["a", "b"]);
  assert.deepEqual([s.active, s.waiting, s.position("c"), s.position("e"), s.position("a")], [
    2,
    3,
    1,
    3,
    0,
  ]);
  s.release("b");
  assert.deepEqual(started, ["a", "b", "c"]);
  s.release("d"); // gives up while waiting: leaves the queue, frees nothing
  assert.deepEqual([s.active, s.waiting], [2, 1]);
  s.release("a");
  s.release("c");
  assert.deepEqual(started, ["a", "b", "c", "e"]);
  assert.deepEqual([s.active, s.waiting], [1, 0]);
});

Deno.test("taking an id twice neither takes a second slot nor loses its place in the queue", () => {
  const s = new Slots(1);
  const log: string[] = [];
  assert.equal(s.take("a", () => log.push("a1")), "started");
  assert.equal(s.take("a", () => log.push("a2")), "holding");
  assert.equal(s.take("b", () => log.push("b1")), "queued");
  assert.equal(s.take("c", () => log.push("c1")), "queued");
  assert.equal(s.take("b", () => log.push("b2")), "waiting");
  assert.deepEqual([s.active, s.waiting, s.position("b")], [1, 2, 1]);
  s.release("a");
  s.release("a"); // released twice: no-op
  assert.deepEqual(log, ["a1", "a2", "b2"]);
  assert.equal(s.holds("b"), true);
});

Deno.test("a start that finishes at once lets the next one start in the same release", () => {
  const s = new Slots(1);
  const log: string[] = [];
  s.take("a", () => log.push("a"));
  for (const id of ["b", "c", "d"]) {
    s.take(id, () => {
      log.push(id);
      if (id !== "d") s.release(id);
    });
  }
  s.release("a");
  assert.deepEqual(log, ["a", "b", "c", "d"]);
  assert.deepEqual([s.active, s.waiting, s.holds("d")], [1, 0, true]);
});

Deno.test("four stream at once per direction and a receiver handles eight offers", () => {
  assert.deepEqual([MAX_STREAMS, MAX_OFFERS], [4, 8]);
  assert.throws(() => new Slots(0), /^RangeError: Cannot make slots: 0 is not a positive/);
});
