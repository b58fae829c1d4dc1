import assert from "node:assert/strict";
import { SimNet } from "./sim.ts";
import { type ImpairSpec, NO_IMPAIRMENT } from "../lib/net/impair.ts";
import { MAX_SEGMENT_DATA } from "../lib/protocol/codec.ts";
import { crc32c } from "../lib/protocol/crc32c.ts";
import { PEER_TIMEOUT } from "../lib/protocol/constants.ts";
import { seededRng } from "../lib/rng.ts";

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 7);

function net(
  impair: Partial<ImpairSpec>,
  extra: { initialSeq?: number; durableMarks?: boolean } = {},
): SimNet {
  return new SimNet({ impair: { ...NO_IMPAIRMENT, seed: SEED, ...impair }, ...extra });
}

function range(n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

/** Sends n messages each way, `gap` ms apart, and checks exactly-once in-order delivery. */
function exchange(n: SimNet, count: number, gap: number, limit = 600_000): void {
  for (let i = 0; i < count; i++) {
    n.at(n.now + i * gap, () => n.send("a", `a${i}`));
    n.at(n.now + i * gap, () => n.send("b", `b${i}`));
  }
  const done = n.run(
    () => n.a.delivered.length === count && n.b.delivered.length === count,
    limit,
  );
  const where = `seed ${SEED}`;
  assert.ok(
    done,
    `${where}: not finished; a got ${n.a.received.length}, b got ${n.b.received.length}`,
  );
  assert.deepEqual(n.b.received, range(count, "a"), where);
  assert.deepEqual(n.a.received, range(count, "b"), where);
  assert.deepEqual(n.a.delivered, range(count, "").map((_, i) => i + 1), where);
  assert.deepEqual(n.b.delivered, range(count, "").map((_, i) => i + 1), where);
}

Deno.test("delivers 10,000 messages exactly once and in order under 30% loss", () => {
  const n = net({ loss: 0.3, delay: 1, jitter: 0.5 });
  exchange(n, 10_000, 0.2);
  // Recovery really happened: retransmissions, and copies carried by the redundancy.
  const s = n.a.session.stats();
  assert.ok(s.retransmits + s.bundled + s.redundant > 1000, JSON.stringify(s));
});

for (const loss of [0, 0.1, 0.3, 0.5]) {
  Deno.test(`delivers exactly once and in order with ${loss * 100}% loss, duplication, reordering, corruption and delay`, () => {
    const n = net({ loss, dup: 0.1, reorder: 0.1, corrupt: 0.05, delay: 20, jitter: 10 });
    exchange(n, 500, 3);
    const s = n.b.session.stats();
    assert.ok(s.corrupt > 0, "corrupted datagrams were counted");
    assert.ok(s.duplicates > 0, "duplicates were suppressed");
  });
}

Deno.test("sequence numbers wrap around 2^32 without loss or reordering", () => {
  const n = net({ loss: 0.2, reorder: 0.1, delay: 5, jitter: 3 }, { initialSeq: 2 ** 32 - 300 });
  exchange(n, 1000, 1);
});

Deno.test("long messages are fragmented and reassembled byte for byte under loss", () => {
  const n = net({ loss: 0.2, dup: 0.05, reorder: 0.1, delay: 10, jitter: 5 });
  const rng = seededRng(SEED);
  const sizes = [
    0,
    1,
    MAX_SEGMENT_DATA - 1,
    MAX_SEGMENT_DATA,
    MAX_SEGMENT_DATA + 1,
    64 * 1024,
    200_000,
  ];
  // Random printable text, including multi-byte characters that may straddle fragments.
  const texts = sizes.map((size) => {
    const chars: string[] = [];
    for (let bytes = 0; bytes < size;) {
      const euro = rng() < 0.1; // 3 bytes in UTF-8
      chars.push(euro ? "€" : String.fromCharCode(97 + rng() * 26));
      bytes += euro ? 3 : 1;
    }
    return chars.join("");
  });
  texts.forEach((t, i) => n.send(i % 2 ? "a" : "b", t));
  assert.ok(n.run(() => n.a.delivered.length + n.b.delivered.length === texts.length, 120_000));
  assert.deepEqual(n.b.received, texts.filter((_, i) => i % 2));
  assert.deepEqual(n.a.received, texts.filter((_, i) => i % 2 === 0));
});

Deno.test("a restarted peer is recognised and every unacknowledged message reaches it", () => {
  const n = net({ loss: 0.1, delay: 10, jitter: 5 });
  for (let i = 0; i < 200; i++) n.at(i * 5, () => n.send("a", `a${i}`));
  n.run(() => n.b.received.length >= 100, 60_000);
  const before = n.b.received.slice();
  n.restart("b", 0xbbbb0002);
  assert.ok(n.run(() => n.a.delivered.length === 200, 120_000), "all delivered after the restart");
  const after = n.b.received;
  // Without a journal, a message the old process showed but never acked may be shown again by the
  // new one; nothing may be lost and the order must hold.
  const resumeAt = before.indexOf(after[0]);
  const start = resumeAt === -1 ? before.length : resumeAt;
  assert.ok(start >= before.length - 32, `resumed at ${start} of ${before.length}`);
  assert.deepEqual([...before.slice(0, start), ...after], range(200, "a"));
  assert.ok(n.a.peerEvents.includes("online:restarted"), n.a.peerEvents.join());
  assert.equal(n.a.session.stats().peerRestarts, 1);
});

Deno.test("a message counts as delivered once the receiver has stored it; ACKs alone stop resends", () => {
  const n = net({ delay: 1 }, { durableMarks: true });
  for (let i = 0; i < 50; i++) n.send("a", `a${i}`);
  assert.ok(n.run(() => n.b.received.length === 50, 10_000));
  // The receiver has not stored anything yet: nothing is delivered, and nothing is sent again.
  n.run(() => false, 2_000);
  assert.deepEqual(n.a.delivered, []);
  assert.equal(n.a.session.pending, 50);
  assert.equal(n.a.session.stats().retransmits, 0);
  const mark = n.b.session.durableMark();
  n.b.session.markDurable(mark, n.now);
  assert.ok(n.run(() => n.a.delivered.length === 50, 1_000), `delivered ${n.a.delivered.length}`);
  assert.deepEqual(n.a.delivered, range(50, "").map((_, i) => i + 1));
  assert.deepEqual(n.b.received, range(50, "a"));
});

Deno.test("only what was received before the mark was taken counts as stored", () => {
  const n = net({ loss: 0.2, delay: 2, jitter: 1 }, { durableMarks: true });
  for (let i = 0; i < 40; i++) n.send("a", `a${i}`);
  n.run(() => n.b.received.length >= 20, 10_000);
  const mark = n.b.session.durableMark();
  const stored = n.b.received.length;
  assert.ok(n.run(() => n.b.received.length === 40, 20_000), `seed ${SEED}`);
  n.b.session.markDurable(mark, n.now);
  n.run(() => false, 2_000);
  assert.deepEqual(n.a.delivered, range(stored, "").map((_, i) => i + 1), `seed ${SEED}`);
  n.b.session.markDurable(n.b.session.durableMark(), n.now);
  assert.ok(n.run(() => n.a.delivered.length === 40, 10_000), `seed ${SEED}`);
});

Deno.test("messages acknowledged but not yet stored go again to a restarted receiver", () => {
  const n = net({ delay: 1 }, { durableMarks: true });
  for (let i = 0; i < 20; i++) n.send("a", `a${i}`);
  assert.ok(n.run(() => n.b.received.length === 20, 10_000));
  n.restart("b", 0xbbbb0002);
  assert.ok(n.run(() => n.b.received.length === 20, 10_000), `got ${n.b.received.length}`);
  assert.deepEqual(n.b.received, range(20, "a"));
  assert.deepEqual(n.a.delivered, []);
  n.b.session.markDurable(n.b.session.durableMark(), n.now);
  assert.ok(n.run(() => n.a.delivered.length === 20, 1_000));
});

Deno.test("a mark taken before the sender restarted means nothing to its new incarnation", () => {
  const n = net({ delay: 1 }, { durableMarks: true });
  for (let i = 0; i < 3; i++) n.send("a", `a${i}`);
  assert.ok(n.run(() => n.b.received.length === 3, 10_000));
  const old = n.b.session.durableMark();
  n.restart("a", 0xaaaa0002);
  for (let i = 0; i < 5; i++) n.send("a", `new${i}`);
  assert.ok(n.run(() => n.b.received.length === 8, 10_000), `got ${n.b.received.length}`);
  // The same sequence numbers exist in the new stream; the old mark must not cover them.
  n.b.session.markDurable(old, n.now);
  n.run(() => false, 1_000);
  assert.deepEqual(n.a.delivered, []);
  n.b.session.markDurable(n.b.session.durableMark(), n.now);
  assert.ok(n.run(() => n.a.delivered.length === 5, 1_000));
});

Deno.test("a peer speaking another protocol version is refused with one clear report", () => {
  const n = net({});
  n.send("a", "hello");
  assert.ok(n.run(() => n.b.received.length === 1, 5_000));
  // What another release sends: our magic, a checksum that holds, another version byte.
  const other = new Uint8Array(40);
  const v = new DataView(other.buffer);
  v.setUint16(0, 0x434e);
  other[2] = 1;
  other[3] = 1;
  v.setUint32(8, 0xcccc0001);
  v.setUint32(36, crc32c(other, 0, 36));
  for (let i = 0; i < 50; i++) n.b.session.input(other, n.now);
  assert.deepEqual(n.b.authFailures, ["peer_version"], "said once for that peer");
  assert.equal(n.b.session.stats().malformed, 0);
  assert.equal(n.b.session.stats().authFailed, 1);
});

/** Records every datagram delivered to one side, so a test can replay them later. */
function tap(n: SimNet, side: "a" | "b"): Uint8Array[] {
  const seen: Uint8Array[] = [];
  const session = n[side].session;
  const input = session.input.bind(session);
  session.input = (d, now) => {
    seen.push(d.slice());
    return input(d, now);
  };
  return seen;
}

Deno.test("datagrams from a retired incarnation are dropped as stale, never delivered", () => {
  const n = net({ delay: 5 });
  const toA = tap(n, "a");
  n.send("b", "from old b");
  n.run(() => n.b.delivered.length === 1, 10_000);
  const old = toA.slice();
  n.restart("b", 0xbbbb0002);
  n.send("b", "from new b");
  n.run(() => n.b.delivered.length === 1 && n.a.peerEvents.includes("online:restarted"), 10_000);
  const stale = n.a.session.stats().stale;
  for (const d of old) n.a.session.input(d, n.now);
  n.run(() => false, 1_000);
  assert.deepEqual(n.a.received, ["from old b", "from new b"]);
  assert.equal(n.a.session.stats().stale - stale, old.length);
  assert.equal(n.a.session.stats().peerRestarts, 1, "an old HELLO does not count as a restart");
});

Deno.test("our own datagrams reflected back are counted and never delivered", () => {
  const n = net({});
  const toB = tap(n, "b");
  n.send("a", "mirror");
  n.run(() => n.a.delivered.length === 1, 5_000);
  for (const d of toB) n.a.session.input(d, n.now);
  assert.deepEqual(n.a.received, []);
  assert.equal(n.a.session.stats().reflected, toB.length);
});

Deno.test("the peer goes offline after silence and messages typed meanwhile arrive when it returns", () => {
  const n = net({ loss: 0.1, delay: 5 });
  n.send("a", "first");
  n.run(() => n.a.delivered.length === 1, 5_000);
  assert.deepEqual(n.a.peerEvents, ["online"]);
  n.up.b = false;
  const downAt = n.now;
  n.run(() => n.a.peerEvents.length === 2, 60_000);
  assert.deepEqual(n.a.peerEvents, ["online", "offline"]);
  assert.ok(n.now - downAt <= PEER_TIMEOUT + 100, `offline after ${n.now - downAt} ms`);
  for (let i = 0; i < 20; i++) n.send("a", `queued${i}`);
  n.run(() => false, 10_000);
  n.up.b = true;
  assert.ok(n.run(() => n.a.delivered.length === 21, 30_000));
  assert.deepEqual(n.b.received, ["first", ...range(20, "queued")]);
  assert.deepEqual(n.a.peerEvents, ["online", "offline", "online"]);
});

Deno.test("keepalives keep the peer online through 50% loss each way", () => {
  const n = net({ loss: 0.5, delay: 2 });
  n.send("a", "hi");
  n.run(() => n.a.delivered.length === 1, 10_000);
  n.run(() => false, 120_000);
  assert.deepEqual(n.a.peerEvents, ["online"]);
  assert.deepEqual(n.b.peerEvents, ["online"]);
});

Deno.test("a peer that says goodbye is shown offline at once", () => {
  const n = net({ delay: 5 });
  n.send("a", "bye soon");
  n.run(() => n.a.delivered.length === 1, 5_000);
  const t = n.now;
  n.b.session.close(n.now);
  n.run(() => n.a.peerEvents.length === 2, 5_000);
  assert.deepEqual(n.a.peerEvents, ["online", "offline"]);
  assert.ok(n.now - t < 20);
});

Deno.test("the RTO follows the measured RTT, on a LAN and on a slow link", () => {
  const lan = net({ delay: 0.05 });
  exchange(lan, 200, 2);
  const fast = lan.a.session.stats();
  assert.ok(fast.srtt < 0.5 && fast.rto < 5, `LAN srtt ${fast.srtt} rto ${fast.rto}`);
  const wan = net({ delay: 40, jitter: 5 });
  exchange(wan, 200, 10);
  const slow = wan.a.session.stats();
  assert.ok(slow.srtt > 70 && slow.srtt < 90, `WAN srtt ${slow.srtt}`);
  assert.ok(slow.rto >= slow.srtt, `WAN rto ${slow.rto}`);
});

Deno.test("a message lost right after connecting is resent within milliseconds, not an initial RTO", () => {
  // Both sides time the handshake (HELLOs echo each other), so the first message does not wait
  // RTO_INITIAL (200 ms) when it is lost. Without that, 38 of these 400 seeded connections took
  // 200 ms or more; with it, 7 (both HELLO echoes and the first ACK lost).
  const slow: number[] = [];
  for (let seed = 1; seed <= 400; seed++) {
    const n = new SimNet({ impair: { ...NO_IMPAIRMENT, seed, loss: 0.2, delay: 0.2 } });
    n.run(() => n.a.peerEvents.includes("online") && n.b.peerEvents.includes("online"), 60_000);
    n.run(() => false, 50);
    const t0 = n.now;
    n.send("a", "first");
    assert.ok(n.run(() => n.b.received.length === 1, 60_000), `seed ${seed}: not delivered`);
    if (n.now - t0 >= 100) slow.push(seed);
  }
  assert.ok(slow.length <= 10, `${slow.length} slow first messages, seeds ${slow.join(" ")}`);
});

Deno.test("redundancy turns on under loss and off on a clean link once loss is measured", () => {
  const clean = net({ delay: 1 });
  exchange(clean, 300, 5);
  // Only datagrams sent before the first loss measurement go twice; then it is off.
  const c = clean.a.session.stats();
  assert.ok(c.redundant < c.datagramsOut / 10, `redundant ${c.redundant} of ${c.datagramsOut}`);
  assert.equal(c.lossOut, 0);
  const before = c.redundant;
  for (let i = 0; i < 300; i++) clean.at(clean.now + i * 5, () => clean.send("a", `more${i}`));
  assert.ok(clean.run(() => clean.a.delivered.length === 600, 60_000));
  assert.equal(clean.b.received.length, 600);
  assert.equal(
    clean.a.session.stats().redundant,
    before,
    "no more copies once the link is known clean",
  );
  const lossy = net({ loss: 0.2, delay: 1 });
  exchange(lossy, 300, 5);
  const s = lossy.a.session.stats();
  assert.ok(s.redundant > 100, `redundant ${s.redundant}`);
  assert.ok(Math.abs(s.lossOut - 0.2) < 0.1, `estimated outbound loss ${s.lossOut}`);
});

Deno.test("one-way p99 latency at 10% loss on a fast link stays within a few RTOs", () => {
  // Virtual time, so the figure is exact for the seed: a protocol property, not a timing test.
  const n = net({ loss: 0.1, delay: 0.1 });
  const sentAt: number[] = [];
  const latency: number[] = [];
  const count = 2000;
  for (let i = 0; i < count; i++) {
    n.at(10 + i * 10, () => {
      sentAt[i] = n.now;
      n.send("a", `m${i}`);
    });
  }
  let seen = 0;
  n.run(() => {
    while (seen < n.b.received.length) latency.push(n.now - sentAt[seen++]);
    return n.b.received.length === count;
  }, 120_000);
  latency.sort((x, y) => x - y);
  const p99 = latency[Math.floor(count * 0.99)];
  assert.ok(p99 < 10, `p99 ${p99} ms`);
});

for (const frozen of ["a", "b"] as const) {
  Deno.test(`a 20 s freeze of ${frozen === "a" ? "the sender" : "the receiver"} leaves both RTT estimates at the path's`, () => {
    const n = net({ delay: 5 });
    exchange(n, 20, 50);
    const before = [n.a.session.stats().srtt, n.b.session.stats().srtt];
    n.freeze(frozen);
    for (let i = 0; i < 3; i++) n.send("a", `during ${i}`);
    n.run(() => false, 20_000);
    n.thaw(frozen);
    assert.ok(n.run(() => n.b.received.length === 23, 30_000), `seed ${SEED}: after the thaw`);
    for (let i = 0; i < 20; i++) n.at(n.now + i * 50, () => n.send("a", `after ${i}`));
    assert.ok(n.run(() => n.a.delivered.length === 43, 30_000), `seed ${SEED}: after`);
    for (const side of [n.a, n.b]) {
      const { srtt, rto } = side.session.stats();
      assert.ok(
        srtt < 3 * Math.max(...before) + 5,
        `seed ${SEED}: srtt ${srtt} (before ${before})`,
      );
      assert.ok(rto < 1_000, `seed ${SEED}: rto ${rto}`);
    }
  });
}
