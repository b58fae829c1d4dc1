import assert from "node:assert/strict";
import { SimNet } from "./sim.ts";
import { NO_IMPAIRMENT } from "../lib/net/impair.ts";
import { type Packet } from "../lib/protocol/codec.ts";
import { RTO_MAX } from "../lib/protocol/constants.ts";
import { ArqLink, type LinkOptions, testSeed } from "./arq_link.ts";

const SEED = testSeed();

/** A link with a 20 ms RTT, warmed up by 40 messages so the RTT is known and redundancy is off
 * (the clean link has been measured). */
function warmLink(extra: Partial<LinkOptions> = {}): ArqLink {
  const l = new ArqLink({ seed: SEED, path: { delay: 10 }, ...extra });
  for (let i = 0; i < 40; i++) l.at(i * 25, () => l.send("a", `w${i}`));
  assert.ok(l.run(() => l.a.delivered.length === 40, 10_000), l.where);
  l.run(() => false, 200);
  const s = l.a.arq.stats();
  assert.equal(s.lossOut, 0, l.where);
  assert.ok(Math.abs(s.srtt - 20) < 0.1, `srtt ${s.srtt}, ${l.where}`);
  return l;
}

/** Drops the first transmission of each of `seqs` from A. */
function dropOnce(seqs: number[]): (index: number, p: Packet) => boolean {
  const left = new Set(seqs);
  return (_, p) => p.segments.some((s) => left.delete(s.seq));
}

const ms = (t: number) => Math.round(t * 100) / 100;

Deno.test("two datagrams lost in one five-datagram flush are repaired by RACK one RTT plus the reordering window later, not by the probe or the RTO", () => {
  const l = warmLink({ dropFromA: dropOnce([41, 43]) });
  const t0 = l.now;
  const first = l.a.sentAt.length;
  for (let i = 0; i < 5; i++) l.send("a", "x".repeat(1000) + i); // one datagram each
  assert.ok(l.run(() => l.b.received.length === 45, 5_000), l.where);
  const sends = l.a.packets.slice(first).map((p, i) => [
    ms(l.a.sentAt[first + i] - t0),
    p.segments.map((s) => s.seq),
  ]);
  // All five leave at once; 41 and 43 go again when the ACK of 44 (sent with them, later in
  // sequence) has come back (20 ms) and the reordering window (min RTT / 4 = 5 ms) has passed.
  assert.deepEqual(sends, [
    [0, [40]],
    [0, [41]],
    [0, [42]],
    [0, [43]],
    [0, [44]],
    [25, [41]],
    [25, [43]],
  ], l.where);
  assert.deepEqual(l.b.receivedAt.slice(-5).map((t) => ms(t - t0)), [10, 35, 35, 35, 35]);
  const s = l.a.arq.stats();
  assert.deepEqual(
    [s.fastRetransmits, s.tailProbes, s.timeouts, s.spuriousRetransmits],
    [2, 0, 0, 0],
    l.where,
  );
});

Deno.test("RACK still finds a lost first transmission behind a segment whose retransmission went out after it", () => {
  // 41's first two transmissions are lost, 45's first: 45 is lost among segments first sent
  // after 41's retransmission went, and the scan for losses must look past 41.
  const drops = new Map([[41, 2], [45, 1]]);
  const l = warmLink({
    dropFromA: (_, p) =>
      p.segments.some((s) => {
        const left = drops.get(s.seq) ?? 0;
        if (left > 0) drops.set(s.seq, left - 1);
        return left > 0;
      }),
  });
  const t0 = l.now;
  const first = l.a.sentAt.length;
  for (let i = 0; i < 4; i++) l.send("a", "x".repeat(1000) + i); // 40..43, at 0
  l.at(t0 + 22, () => {
    for (let i = 4; i < 10; i++) l.send("a", "x".repeat(1000) + i); // 44..49, at 22
  });
  assert.ok(l.run(() => l.b.received.length === 50, 5_000), l.where);
  const again = (seq: number) =>
    l.a.packets.slice(first).flatMap((p, i) =>
      p.segments[0]?.seq === seq ? [ms(l.a.sentAt[first + i] - t0)] : []
    )[1];
  // 41 goes again at 25 (the ACK of 42 and 43 at 20, plus the reordering window) and is lost
  // again; 45 goes again when the ACK of 46..49 (at 42) has waited out the window from its send
  // (22 + 20 + 5), found past 41, which was resent at 25, after 45 first went.
  assert.deepEqual([again(41), again(45)], [25, 47], l.where);
  assert.deepEqual(
    l.b.received.slice(40),
    Array.from({ length: 10 }, (_, i) => "x".repeat(1000) + i),
  );
});

Deno.test("on a dark path one tail probe goes, then the RTO alone, doubling up to its 60 s cap", () => {
  const l = warmLink();
  l.ab.dark = l.ba.dark = true;
  const t0 = l.now;
  const first = l.a.sentAt.length;
  l.send("a", "lost one");
  l.send("a", "lost two");
  l.run(() => false, 10 * 60_000);
  const at = l.a.sentAt.slice(first).map((t) => t - t0);
  const seqs = l.a.packets.slice(first).map((p) => p.segments.map((s) => s.seq));
  const gaps = at.slice(1).map((t, i) => t - at[i]);
  const rto = gaps[1];
  // Both new, then the probe repeats the newest one (PTO = 2·SRTT = 40, capped by the RTO, 21),
  // then the RTO, re-armed by the probe, repeats only the oldest, each time twice as late.
  assert.deepEqual(seqs.slice(0, 4), [[40], [41], [41], [40]], l.where);
  assert.ok(Math.abs(rto - 21) < 0.01, `rto ${rto}, ${l.where}`);
  assert.deepEqual(gaps.slice(0, 2).map(ms), [0, ms(rto)]);
  const doubling = gaps.slice(2).map((g) => Math.min(RTO_MAX, ms(g)));
  const expected = Array.from(
    { length: doubling.length },
    (_, i) => Math.min(RTO_MAX, ms(rto * 2 ** i)),
  );
  assert.deepEqual(doubling, expected, l.where);
  // 21 ms doubled 12 times is 43 s; the 13th doubling is capped at 60 s, and the cap holds.
  assert.deepEqual(gaps.slice(-3).map(ms), [RTO_MAX, RTO_MAX, RTO_MAX]);
  assert.ok(seqs.slice(3).every((s) => s.length === 1 && s[0] === 40), l.where);
  const s = l.a.arq.stats();
  assert.equal(s.tailProbes, 1, "one probe per flight");
  assert.equal(s.timeouts, at.length - 3);
  assert.equal(s.backoff, s.timeouts);
  assert.equal(s.rto, RTO_MAX);
});

Deno.test("the peer heard again ends the backoff: everything outstanding goes at once and arrives one RTT after the peer spoke", () => {
  const l = warmLink();
  l.ab.dark = l.ba.dark = true;
  for (let i = 0; i < 20; i++) l.send("a", `dark${i}`);
  l.run(() => false, 5 * 60_000);
  assert.ok(l.a.arq.stats().backoff >= 13, l.where);
  l.ab.dark = l.ba.dark = false;
  const back = l.now;
  l.send("b", "I am back");
  assert.ok(l.run(() => l.b.received.length === 60, 5_000), l.where);
  // B's message reaches A after 10 ms; A resends at once and B has it all 10 ms later.
  assert.equal(ms(l.now - back), 20, l.where);
  assert.deepEqual(l.b.received.slice(40), Array.from({ length: 20 }, (_, i) => `dark${i}`));
  assert.equal(l.a.arq.stats().backoff, 0);
});

Deno.test("a retransmission whose original was only delayed is counted spurious, one whose original was lost is not", () => {
  const path = { delay: 10 };
  const l = warmLink({ path });
  const before = l.a.arq.stats();
  // The path's delay jumps to 100 ms one way: the RTO (21 ms) fires long before the ACK comes.
  path.delay = 100;
  l.send("a", "slow");
  assert.ok(l.run(() => l.a.delivered.length === 41, 5_000), l.where);
  const s = l.a.arq.stats();
  const resent = s.retransmits - before.retransmits;
  assert.ok(resent >= 3, `resent ${resent}, ${l.where}`);
  // Every resend went after the original, whose echo the first ACK carries.
  assert.equal(s.spuriousRetransmits - before.spuriousRetransmits, resent, l.where);
  assert.equal(s.spuriousTimeouts - before.spuriousTimeouts, s.timeouts - before.timeouts);
  assert.equal(s.spuriousRate, s.spuriousRetransmits / s.retransmits);
});

Deno.test("on a dark path the session backs off to at most one datagram a second within 10 s, keepalives included, and the backlog follows the peer's return", () => {
  let fromA: number[] = [];
  const n = new SimNet({
    impair: { ...NO_IMPAIRMENT, seed: SEED, delay: 1 },
    wire: (from) => {
      if (from === "a") fromA.push(n.now);
    },
  });
  n.send("a", "first");
  assert.ok(n.run(() => n.a.delivered.length === 1, 5_000), `seed ${SEED}`);
  n.up.b = false; // b hears nothing from now on: the path is dark
  const darkAt = n.now;
  for (let i = 0; i < 50; i++) n.send("a", `dark${i}`);
  fromA = [];
  n.run(() => false, 60_000);
  // From 10 s on, no two datagrams in any second: any window of 1 s holds at most one.
  const late = fromA.filter((t) => t >= darkAt + 10_000);
  const crowded = late.filter((t, i) => i > 0 && t - late[i - 1] < 1000);
  assert.deepEqual(crowded, [], `seed ${SEED}: ${late.length} datagrams from 10 s to 60 s`);
  assert.ok(late.length >= 45, `keepalives go on: ${late.length}`);
  n.up.b = true;
  const back = n.now;
  n.send("b", "I am back");
  assert.ok(n.run(() => n.a.delivered.length === 51, 5_000), `seed ${SEED}`);
  assert.ok(n.now - back < 50, `backlog took ${n.now - back} ms`);
  assert.deepEqual(n.b.received.slice(-50), Array.from({ length: 50 }, (_, i) => `dark${i}`));
});
