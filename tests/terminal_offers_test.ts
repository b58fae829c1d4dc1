/** --accept ask in the terminal: the question, the answers (y/n, /accept N, /decline N), the list
 * of pending offers above the prompt, and what the sender sees; exact output. */
import assert from "node:assert/strict";
import { keys, setup } from "./terminal_fixture.ts";
import type { OfferEvent } from "../lib/events.ts";

const GIB = 2 ** 30;

function offer(id: string, name: string, files: number, size: number): OfferEvent {
  return { type: "offer", id, name, files, size, sender: "alice" };
}

Deno.test("an offer is asked above the line being typed, waits in a line over the prompt, and y answers it", () => {
  const t = setup();
  t.ui.onKeys(keys("hel"));
  t.take();
  t.pendingOffers.add("g1");
  t.ui.onEvent(offer("g1", "holiday/", 312, 1.8 * GIB));
  assert.equal(
    t.take(),
    "\r\x1b[2Kalice offers holiday/ (312 files, 1.8 GiB). Accept? [y/N] (offer 1)\r\n" +
      "\r\x1b[2K? offer 1 waits: holiday/ (312 files, 1.8 GiB) from alice; y or n answers it\r\n" +
      "\r\x1b[2K● > hel\r\x1b[7C",
  );
  // The typed line is still there, and is sent as it was.
  t.ui.onKeys(keys("lo\r"));
  assert.deepEqual(t.sent, ["hello"]);
  assert.deepEqual(t.answers, []);
  t.take();
  t.ui.onKeys(keys("y\r"));
  assert.deepEqual(t.answers, [["g1", true]]);
  assert.deepEqual(t.sent, ["hello"], "the y is an answer, not a message");
  t.take();
  t.ui.onEvent({ type: "offer_closed", id: "g1", name: "holiday/", outcome: "accepted" });
  // Up over the offers line, clear, the answer's line, and the prompt with no offers line.
  assert.equal(
    t.take(),
    "\r\x1b[2K\x1b[1A\r\x1b[J\r\x1b[2K✓ Accepted offer 1, holiday/ (312 files, 1.8 GiB) from alice\r\n" +
      "\r\x1b[2K● > \r\x1b[4C",
  );
  // No offer waits: y is a message again.
  t.ui.onKeys(keys("y\r"));
  assert.deepEqual(t.sent, ["hello", "y"]);
});

Deno.test("/accept N and /decline N answer any pending offer, n the latest; /offers lists them", () => {
  const t = setup({ columns: 140 });
  for (const id of ["g1", "g2", "g3"]) t.pendingOffers.add(id);
  t.ui.onEvent(offer("g1", "holiday/", 312, 1.8 * GIB));
  t.ui.onEvent(offer("g2", "notes.txt", 1, 1200));
  t.ui.onEvent(offer("g3", "b.txt", 1, 10));
  assert.match(
    t.take(),
    /\r\x1b\[2K\? 3 offers wait: 1 holiday\/ \(312 files, 1\.8 GiB\), 2 notes\.txt \(1\.2 KiB\), 3 b\.txt \(10 B\); y or n answers 3, \/accept N or \/decline N any\r\n\r\x1b\[2K● > \r\x1b\[4C$/,
  );
  t.ui.onKeys(keys("/offers\r"));
  assert.equal(
    t.take(),
    "\r\x1b[2K\x1b[1A\r\x1b[J\r\x1b[2Koffer 1: alice offers holiday/ (312 files, 1.8 GiB)\r\n" +
      "\r\x1b[2K? 3 offers wait: 1 holiday/ (312 files, 1.8 GiB), 2 notes.txt (1.2 KiB), 3 b.txt " +
      "(10 B); y or n answers 3, /accept N or /decline N any\r\n\r\x1b[2K● > \r\x1b[4C" +
      "\r\x1b[2K\x1b[1A\r\x1b[J\r\x1b[2Koffer 2: alice offers notes.txt (1.2 KiB)\r\n" +
      "\r\x1b[2K? 3 offers wait: 1 holiday/ (312 files, 1.8 GiB), 2 notes.txt (1.2 KiB), 3 b.txt " +
      "(10 B); y or n answers 3, /accept N or /decline N any\r\n\r\x1b[2K● > \r\x1b[4C" +
      "\r\x1b[2K\x1b[1A\r\x1b[J\r\x1b[2Koffer 3: alice offers b.txt (10 B)\r\n" +
      "\r\x1b[2K? 3 offers wait: 1 holiday/ (312 files, 1.8 GiB), 2 notes.txt (1.2 KiB), 3 b.txt " +
      "(10 B); y or n answers 3, /accept N or /decline N any\r\n\r\x1b[2K● > \r\x1b[4C" +
      "\r\x1b[2K\x1b[1A\r\x1b[J\r\x1b[2K? 3 offers wait: 1 holiday/ (312 files, 1.8 GiB), 2 " +
      "notes.txt (1.2 KiB), 3 b.txt (10 B); y or n answers 3, /accept N or /decline N any\r\n" +
      "\r\x1b[2K● > \r\x1b[4C",
  );
  t.ui.onKeys(keys("/decline 1\r"));
  t.ui.onKeys(keys("/accept 2\r"));
  t.ui.onKeys(keys("N\r"));
  assert.deepEqual(t.answers, [["g1", false], ["g2", true], ["g3", false]]);
  t.take();
  t.ui.onKeys(keys("/accept 7\r"));
  assert.match(
    t.take(),
    /\r\x1b\[2KNo offer 7 is waiting for an answer: \/offers lists them\r\n/,
  );
  t.ui.onKeys(keys("/accept\r"));
  assert.match(
    t.take(),
    /\r\x1b\[2KUsage: \/accept N \(the offer's number; \/offers lists them\)\r\n/,
  );
  // Answered meanwhile (in the web window, say): the peer no longer has it.
  t.ui.onKeys(keys("/accept 1\r"));
  assert.match(t.take(), /\r\x1b\[2KThat offer is no longer waiting for an answer\r\n/);
  t.ui.onEvent({ type: "offer_closed", id: "g1", name: "holiday/", outcome: "declined" });
  t.ui.onEvent({ type: "offer_closed", id: "g2", name: "notes.txt", outcome: "withdrawn" });
  const closed = t.take();
  assert.match(
    closed,
    /\r\x1b\[2K✗ Declined offer 1, holiday\/ \(312 files, 1\.8 GiB\) from alice; they are told\r\n/,
  );
  assert.match(closed, /\r\x1b\[2Kalice withdrew offer 2, notes\.txt \(1\.2 KiB\)\r\n/);
  assert.match(
    closed,
    /\? offer 3 waits: b\.txt \(10 B\) from alice; y or n answers it\r\n\r\x1b\[2K● > \r\x1b\[4C$/,
  );
});

Deno.test("the sender sees that the peer is asked, and who declined", () => {
  const t = setup();
  t.ui.onEvent({ type: "offer_waiting", id: "g1", name: "holiday/", files: 312, size: 1.8 * GIB });
  assert.equal(
    t.take(),
    "\r\x1b[2K⋯ The peer is asked whether to accept holiday/ (312 files, 1.8 GiB)\r\n" +
      "\r\x1b[2K● > \r\x1b[4C",
  );
  t.ui.onEvent({
    type: "error",
    code: "declined",
    message: "Cannot send holiday/ (312 files): declined by bob",
    id: "g1",
    name: "holiday/",
  });
  assert.equal(
    t.take(),
    "\r\x1b[2Kerror: Cannot send holiday/ (312 files): declined by bob\r\n\r\x1b[2K● > \r\x1b[4C",
  );
});
