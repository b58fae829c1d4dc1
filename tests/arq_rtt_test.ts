import assert from "node:assert/strict";
import { elapsed, RttEstimator, stampedBefore, timestamp } from "../lib/protocol/arq/rtt.ts";
import { Sender } from "../lib/protocol/arq/sender.ts";
import { ackPacket } from "./arq_link.ts";
import { RTO_INITIAL, RTO_MAX, RTO_MIN } from "../lib/protocol/constants.ts";

Deno.test("before any sample the RTO is the initial one and the probe timeout equals it", () => {
  const r = new RttEstimator();
  assert.equal(r.srtt, 0);
  assert.equal(r.rto, RTO_INITIAL);
  assert.equal(r.pto(), RTO_INITIAL);
  assert.equal(r.min, Infinity);
});

Deno.test("the first sample sets SRTT to R and RTTVAR to R/2, so the RTO is 3R (RFC 6298 2.2)", () => {
  const r = new RttEstimator();
  r.sample(10);
  assert.equal(r.srtt, 10);
  assert.equal(r.rttvar, 5);
  assert.equal(r.rto, 30);
  assert.equal(r.min, 10);
  assert.equal(r.latest, 10);
});

Deno.test("later samples move SRTT by 1/8 and RTTVAR by 1/4 of the error (RFC 6298 2.3)", () => {
  const r = new RttEstimator();
  r.sample(10);
  r.sample(20);
  // RTTVAR first, from the old SRTT: 0.75·5 + 0.25·|10 - 20|; then SRTT: 0.875·10 + 0.125·20.
  assert.equal(r.rttvar, 6.25);
  assert.equal(r.srtt, 11.25);
  assert.equal(r.rto, 11.25 + 4 * 6.25);
  assert.equal(r.min, 10);
  assert.equal(r.latest, 20);
});

Deno.test("a steady RTT converges: the variance term gives way to the clock granularity", () => {
  const r = new RttEstimator();
  for (let i = 0; i < 200; i++) r.sample(40);
  assert.equal(r.srtt, 40);
  assert.ok(r.rttvar < 1e-9, `rttvar ${r.rttvar}`);
  // RTO = SRTT + max(G, 4·RTTVAR) with G = 1 ms.
  assert.equal(r.rto, 41);
});

Deno.test("the RTO never goes below RTO_MIN, even for a loopback RTT", () => {
  const r = new RttEstimator();
  r.sample(0.05);
  assert.equal(r.rto, RTO_MIN);
  for (let i = 0; i < 50; i++) r.sample(0.05);
  assert.equal(r.rto, RTO_MIN);
});

Deno.test("the RTO is capped at RTO_MAX, and samples of a minute or more are ignored as foreign", () => {
  const r = new RttEstimator();
  r.sample(59_000);
  assert.equal(r.rto, RTO_MAX);
  const s = new RttEstimator();
  s.sample(60_001);
  s.sample(-1);
  assert.equal(s.srtt, 0);
  assert.equal(s.rto, RTO_INITIAL);
});

Deno.test("the probe timeout is 2·SRTT (RFC 8985 7.2), at most the RTO and at least two clock granules", () => {
  const r = new RttEstimator();
  for (let i = 0; i < 200; i++) r.sample(40);
  // 2·SRTT = 80 but the RTO is 41: the probe may not come after the RTO would.
  assert.equal(r.pto(), 41);
  const j = new RttEstimator();
  j.sample(10); // RTO 30, 2·SRTT 20
  assert.equal(j.pto(), 20);
  const lan = new RttEstimator();
  lan.sample(0.1);
  assert.equal(lan.pto(), 2);
});

Deno.test("an echo from an ACK of nothing new seeds the estimator only before the first sample", () => {
  const r = new RttEstimator();
  r.seed(RTO_INITIAL + 5); // later than the initial RTO: may be stale, so not taken
  assert.equal(r.srtt, 0);
  r.seed(8);
  assert.equal(r.srtt, 8);
  r.seed(2);
  assert.equal(r.srtt, 8, "once sampled, seeds are ignored");
});

Deno.test("timestamps count 10 µs ticks and elapsed time survives their 2^32 wraparound", () => {
  assert.equal(timestamp(1.234), 123);
  assert.equal(timestamp(0), 1, "0 is reserved for none");
  const wrap = 2 ** 32 / 100; // ms at which the tick counter wraps
  const before = timestamp(wrap - 3);
  assert.ok(before > 2 ** 32 - 400, `before ${before}`);
  assert.equal(elapsed(before, wrap + 2), 5);
  assert.ok(stampedBefore(before, timestamp(wrap + 2)));
  assert.ok(!stampedBefore(timestamp(wrap + 2), before));
  assert.ok(!stampedBefore(before, before));
});

/** Sent at T0; before any sample the probe goes at T0 + RTO_INITIAL (the PTO is the RTO). */
const T0 = 1000;
const RESENT = T0 + RTO_INITIAL;

/** A sender with one segment sent at T0 and resent by the tail probe at RESENT. */
function resentByRto(): Sender {
  const s = new Sender(0, () => {});
  s.enqueue(new Uint8Array(10), 1);
  const seg = s.peekNew()!;
  s.takeNew();
  s.transmit(seg, T0);
  assert.deepEqual(s.due(RESENT - 0.01), []);
  const due = s.due(RESENT);
  assert.deepEqual(due.map((d) => [d.seq, d.why]), [[0, "probe"]]);
  s.transmit(due[0], RESENT);
  return s;
}

Deno.test("Karn's ambiguity is settled by the echo: an ACK of the retransmission times the retransmission", () => {
  const s = resentByRto();
  s.onAck(ackPacket(1, timestamp(RESENT)), RESENT + 30);
  assert.equal(s.rtt.srtt, 30, "timed from the resend, not from the original (230 ms)");
  assert.equal(s.counters.spuriousRetransmits, 0);
});

Deno.test("an ACK that echoes the original times the original and marks the resend spurious (Eifel, RFC 3522)", () => {
  const s = resentByRto();
  s.onAck(ackPacket(1, timestamp(T0)), RESENT + 30);
  assert.equal(s.rtt.srtt, RTO_INITIAL + 30);
  assert.equal(s.counters.spuriousRetransmits, 1);
  assert.equal(s.counters.spuriousTimeouts, 0, "the probe is no timeout");
  assert.equal(s.counters.tailProbes, 1);
});
