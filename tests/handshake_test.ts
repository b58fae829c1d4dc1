/** The passphrase handshake in virtual time: keys, backoff, attackers, replays, restarts. */
import assert from "node:assert/strict";
import {
  Handshake,
  type HandshakeFailure,
  Kind,
  NONCE_BYTES,
  parseHandshake,
} from "../lib/protocol/handshake.ts";
import { SHARE_BYTES, TAG_BYTES } from "../lib/crypto/cpace.ts";
import {
  AUTH_BACKOFF,
  HANDSHAKE_REPLACE_AFTER,
  HANDSHAKE_TIMEOUT,
  MISMATCH_HOLD,
} from "../lib/protocol/constants.ts";
import { backoffDelay } from "../lib/protocol/backoff.ts";
import { SimNet } from "./sim.ts";
import { NO_IMPAIRMENT } from "../lib/net/impair.ts";
import { decode, encode, isSealed, type Packet, PacketType } from "../lib/protocol/codec.ts";
import { seededRng } from "../lib/rng.ts";
import { concat } from "../lib/bytes.ts";

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 19);

function randomFrom(seed: number) {
  const r = seededRng(seed);
  return (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

interface Side {
  hs: Handshake;
  sent: { payload: Uint8Array; to: number }[];
  established: { peer: number; isk: Uint8Array }[];
  failed: HandshakeFailure[];
}

function side(passphrase: string, epoch: number, seed: number): Side {
  const s = { sent: [], established: [], failed: [] } as unknown as Side;
  s.hs = new Handshake({
    passphrase,
    epoch,
    random: randomFrom(seed),
    send: (payload, to) => s.sent.push({ payload: payload.slice(), to }),
    onEstablished: (peer, isk) => s.established.push({ peer, isk }),
    onFailed: (f) => s.failed.push(f),
  });
  return s;
}

/** Delivers what each side sent to the other until both are quiet. */
function exchange(a: Side, ea: number, b: Side, eb: number, now: number): void {
  for (let round = 0; round < 10; round++) {
    const fromA = a.sent.splice(0), fromB = b.sent.splice(0);
    if (fromA.length + fromB.length === 0) return;
    for (const m of fromA) b.hs.input(m.payload, ea, now);
    for (const m of fromB) a.hs.input(m.payload, eb, now);
  }
}

Deno.test("one passphrase: both sides get the same ISK, and each handshake a new one", () => {
  const a = side("correct horse", 1, SEED), b = side("correct horse", 2, SEED + 1);
  a.hs.open(0);
  exchange(a, 1, b, 2, 0);
  assert.equal(a.established.length, 1);
  assert.equal(b.established.length, 1);
  assert.deepEqual(a.established[0], { peer: 2, isk: b.established[0].isk });
  assert.equal(a.established[0].isk.length, 64);
  b.established[0].peer === 1 || assert.fail("b's peer is a");
  // Again between the same two processes: fresh nonces and scalars, so a new key.
  a.hs.open(1);
  exchange(a, 1, b, 2, 1);
  assert.deepEqual(a.established[1].isk, b.established[1].isk);
  assert.notDeepEqual(a.established[1].isk, a.established[0].isk);
  assert.deepEqual([a.failed, b.failed], [[], []]);
});

Deno.test("both sides opening at once settle on one handshake by nonce order", () => {
  const a = side("pw", 1, SEED + 2), b = side("pw", 2, SEED + 3);
  a.hs.open(0);
  b.hs.open(0);
  exchange(a, 1, b, 2, 0);
  assert.equal(a.established.length, 1);
  assert.equal(b.established.length, 1);
  assert.deepEqual(a.established[0].isk, b.established[0].isk);
});

Deno.test("different passphrases: the answerer fails on the tag, the opener when none comes", () => {
  const a = side("tango-42", 1, SEED), b = side("tango-43", 2, SEED + 1);
  a.hs.open(0);
  exchange(a, 1, b, 2, 0);
  assert.deepEqual(b.failed.map((f) => f.why), ["wrong_tag"]);
  assert.equal(a.failed.length, 0);
  a.hs.tick(HANDSHAKE_TIMEOUT - 1);
  assert.equal(a.failed.length, 0);
  a.hs.tick(HANDSHAKE_TIMEOUT);
  assert.deepEqual(a.failed.map((f) => [f.why, f.count]), [["no_tag", 1]]);
  assert.deepEqual([a.established, b.established], [[], []]);
});

Deno.test("a peer that showed a wrong tag is neither answered nor opened toward until it restarts", () => {
  const a = side("tango-42", 1, SEED), b = side("tango-43", 2, SEED + 1);
  a.hs.open(0);
  exchange(a, 1, b, 2, 0);
  a.hs.tick(HANDSHAKE_TIMEOUT);
  assert.deepEqual([a.failed.length, b.failed.length], [1, 1]);
  // The same two processes for nine more minutes: a retries its INIT, b answers none and opens
  // none, so nobody counts another failure and the free tries stay.
  for (let now = HANDSHAKE_TIMEOUT; now < MISMATCH_HOLD; now += 1000) {
    a.hs.tick(now);
    b.hs.tick(now);
    a.hs.open(now);
    b.hs.open(now);
    exchange(a, 1, b, 2, now);
  }
  assert.deepEqual([a.failed.length, b.failed.length, a.established.length], [1, 1, 0]);
  assert.ok(b.hs.stray > 0, "a's INITs were seen and left unanswered");
  // b's user corrects the passphrase: a new process, answered at once.
  const fixed = side("tango-42", 3, SEED + 2);
  fixed.hs.open(MISMATCH_HOLD);
  exchange(fixed, 3, a, 1, MISMATCH_HOLD);
  assert.deepEqual([fixed.established.length, a.established.length], [1, 1]);
  // Past MISMATCH_HOLD the old epoch gets one more try (counted like any other if it fails).
  const init = concat([Uint8Array.of(Kind.init), randomFrom(SEED)(NONCE_BYTES)]);
  b.hs.input(init, 1, MISMATCH_HOLD - 1);
  assert.deepEqual(b.sent.splice(0), []);
  b.hs.input(init, 1, MISMATCH_HOLD + HANDSHAKE_TIMEOUT);
  assert.deepEqual(b.sent.map((m) => parseHandshake(m.payload)?.kind), [Kind.reply]);
});

/** An attacker that knows the protocol but not the passphrase, against one answering side. */
function attack(victim: Side, attacker: number, now: number, seed: number) {
  const rnd = randomFrom(seed);
  const nonce = rnd(NONCE_BYTES);
  victim.hs.input(concat([Uint8Array.of(Kind.init), nonce]), attacker, now);
  const reply = victim.sent.splice(0).map((m) => parseHandshake(m.payload)!);
  if (reply.length === 0) return "ignored";
  assert.equal(reply.length, 1);
  assert.equal(reply[0].kind, Kind.reply, "a share only, never a tag");
  assert.equal(reply[0].tag, undefined);
  const confirm = concat([
    Uint8Array.of(Kind.confirm),
    nonce,
    reply[0].answererNonce!,
    rnd(SHARE_BYTES + 32).subarray(0, SHARE_BYTES),
    rnd(TAG_BYTES),
  ]);
  victim.hs.input(confirm, attacker, now);
  assert.deepEqual(victim.sent.splice(0), [], "no FINISH for a wrong tag");
  return "answered";
}

Deno.test("backoff: three failures free, then one attempt a minute doubling to an hour, all counted", () => {
  const v = side("4711", 7, SEED);
  const answeredAt: number[] = [];
  let now = 0;
  // An attacker trying every second for two days of virtual time, as a new epoch every time (one
  // epoch that failed is not answered again: see the mismatch test below).
  for (; now < 2 * 86_400_000; now += 1000) {
    v.hs.tick(now);
    if (attack(v, 0x10000 + now / 1000, now, SEED + now) === "answered") answeredAt.push(now);
  }
  const expected = [0, 1000, 2000];
  let t = 2000;
  for (let n = 3;; n++) {
    t = Math.ceil((t + backoffDelay(AUTH_BACKOFF, n)) / 1000) * 1000;
    if (t >= now) break;
    expected.push(t);
  }
  assert.deepEqual(answeredAt.slice(0, 10), expected.slice(0, 10));
  assert.deepEqual(answeredAt, expected);
  assert.equal(expected[3], 2000 + 60_000);
  assert.equal(expected[4] - expected[3], 120_000);
  assert.equal(answeredAt.at(-1)! - answeredAt.at(-2)!, 3_600_000);
  // Every guess was counted and reported, with the running count and the wait.
  assert.equal(v.failed.length, answeredAt.length);
  assert.deepEqual(v.failed.map((f) => f.count), answeredAt.map((_, i) => i + 1));
  assert.equal(v.failed[3].retryIn, 120_000);
  assert.ok(answeredAt.length < 60, `${answeredAt.length} guesses in two days`);
});

Deno.test("an attacker answering our INIT learns one tag, and that guess is counted", () => {
  const v = side("4711", 7, SEED);
  v.hs.open(0);
  const init = parseHandshake(v.sent.splice(0)[0].payload)!;
  const rnd = randomFrom(SEED + 9);
  // A share made from a guess would do; any group element shows the same.
  const attackerShare = side("1234", 9, SEED + 10);
  attackerShare.hs.input(concat([Uint8Array.of(Kind.init), init.openerNonce]), 7, 0);
  const reply = attackerShare.sent.splice(0)[0].payload;
  v.hs.input(reply, 9, 0);
  const confirm = parseHandshake(v.sent.splice(0)[0].payload)!;
  assert.equal(confirm.kind, Kind.confirm);
  // The guess fails on the attacker's side; the victim counts it when no FINISH comes.
  v.hs.input(concat([Uint8Array.of(Kind.finish), init.openerNonce, rnd(16), rnd(64)]), 9, 1);
  v.hs.tick(HANDSHAKE_TIMEOUT);
  assert.deepEqual(v.failed.map((f) => [f.why, f.count]), [["no_tag", 1]]);
  assert.equal(v.hs.stray, 1, "a FINISH for another handshake is a stray");
});

function kinds(s: Side): [Kind, number][] {
  return s.sent.splice(0).map((m) => [m.payload[0] as Kind, m.to]);
}

Deno.test("an answerer whose opener restarted answers the new incarnation after 2 s, not 10", () => {
  const a1 = side("pw", 1, SEED), a2 = side("pw", 3, SEED + 1), b = side("pw", 2, SEED + 2);
  a1.hs.open(0);
  b.hs.input(a1.sent.splice(0)[0].payload, 1, 0);
  assert.deepEqual(kinds(b), [[Kind.reply, 1]]);
  // a1 dies before its CONFIRM; a2 knocks, first too early to cut a live handshake short.
  a2.hs.open(HANDSHAKE_REPLACE_AFTER - 1);
  const init = a2.sent.splice(0)[0].payload;
  b.hs.input(init, 3, HANDSHAKE_REPLACE_AFTER - 1);
  assert.deepEqual([kinds(b), b.hs.stray, b.failed], [[], 1, []]);
  b.hs.input(init, 3, HANDSHAKE_REPLACE_AFTER);
  assert.deepEqual(b.failed, [{ why: "no_tag", count: 1, recent: 1, retryIn: 0 }]);
  assert.deepEqual(b.sent.map((m) => [m.payload[0], m.to]), [[Kind.reply, 3]]);
  exchange(a2, 3, b, 2, HANDSHAKE_REPLACE_AFTER);
  assert.deepEqual(b.established.map((e) => e.peer), [3]);
  assert.deepEqual(a2.established[0], { peer: 2, isk: b.established[0].isk });
  b.hs.tick(HANDSHAKE_TIMEOUT + HANDSHAKE_REPLACE_AFTER);
  assert.equal(b.failed.length, 1, "the replaced handshake was counted once");
});

Deno.test("an opener whose answerer restarted after its REPLY answers the new incarnation after 2 s", () => {
  const a = side("pw", 1, SEED), b1 = side("pw", 2, SEED + 1), b2 = side("pw", 4, SEED + 2);
  a.hs.open(0);
  b1.hs.input(a.sent.splice(0)[0].payload, 1, 0);
  a.hs.input(b1.sent.splice(0)[0].payload, 2, 0);
  assert.deepEqual(kinds(a), [[Kind.confirm, 2]]);
  // b1 dies before it reads the CONFIRM: no FINISH will come. b2 opens.
  b2.hs.open(10);
  const init = b2.sent.splice(0)[0].payload;
  b2.hs.open(HANDSHAKE_REPLACE_AFTER - 1);
  assert.deepEqual(b2.sent.splice(0)[0].payload, init, "the same INIT again");
  a.hs.input(init, 4, HANDSHAKE_REPLACE_AFTER - 1);
  assert.deepEqual([kinds(a), a.hs.stray, a.failed], [[], 1, []]);
  a.hs.input(init, 4, HANDSHAKE_REPLACE_AFTER);
  assert.deepEqual(a.failed.map((f) => [f.why, f.count]), [["no_tag", 1]]);
  exchange(b2, 4, a, 1, HANDSHAKE_REPLACE_AFTER);
  assert.deepEqual(a.established.map((e) => e.peer), [4]);
  assert.deepEqual(b2.established[0], { peer: 1, isk: a.established[0].isk });
});

Deno.test("a forged INIT does not cut short a handshake that is still within 2 s", () => {
  const a = side("pw", 1, SEED), b = side("pw", 2, SEED + 1);
  const rnd = randomFrom(SEED + 3);
  const forged = () => concat([Uint8Array.of(Kind.init), rnd(NONCE_BYTES)]);
  a.hs.open(0);
  b.hs.input(a.sent.splice(0)[0].payload, 1, 0);
  b.hs.input(forged(), 0x666, 1_000);
  a.hs.input(b.sent.splice(0)[0].payload, 2, 1_000);
  a.hs.input(forged(), 0x667, HANDSHAKE_REPLACE_AFTER - 1);
  b.hs.input(a.sent.splice(0)[0].payload, 1, HANDSHAKE_REPLACE_AFTER - 1);
  b.hs.input(forged(), 0x668, HANDSHAKE_REPLACE_AFTER - 1);
  a.hs.input(b.sent.splice(0)[0].payload, 2, HANDSHAKE_REPLACE_AFTER - 1);
  assert.deepEqual(a.established[0], { peer: 2, isk: b.established[0].isk });
  assert.deepEqual([a.failed, b.failed, a.hs.stray, b.hs.stray], [[], [], 1, 1]);
});

Deno.test("INITs from ever new epochs get one scalar per 2 s until the backoff stops them", () => {
  const v = side("4711", 7, SEED);
  const rnd = randomFrom(SEED + 4);
  const repliedAt: number[] = [];
  for (let now = 0; now < 60_000; now += 10) {
    v.hs.tick(now);
    v.hs.input(concat([Uint8Array.of(Kind.init), rnd(NONCE_BYTES)]), 0x70000000 + now, now);
    if (v.sent.splice(0).length) repliedAt.push(now);
  }
  const step = HANDSHAKE_REPLACE_AFTER;
  assert.deepEqual(repliedAt, [0, step, 2 * step]);
  assert.deepEqual(v.failed.map((f) => [f.why, f.count, f.retryIn]), [
    ["no_tag", 1, 0],
    ["no_tag", 2, 0],
    ["no_tag", 3, AUTH_BACKOFF.first],
  ]);
});

// Whole sessions.

function net(secretA = "pw", secretB = "pw", delay = 10) {
  const wire: { from: "a" | "b"; d: Uint8Array; at: number }[] = [];
  const n = new SimNet({
    impair: { ...NO_IMPAIRMENT, seed: SEED, delay },
    secretA,
    secretB,
    wire: (from, d) => wire.push({ from, d, at: n.now }),
  });
  return { n, wire };
}

function helloPayload(d: Uint8Array): Uint8Array | undefined {
  if (isSealed(d)) return undefined;
  const p = decode(d);
  return "packet" in p && p.packet.type === PacketType.hello
    ? p.packet.segments[0]?.data
    : undefined;
}

Deno.test("after either side restarts the two reconnect within 3 RTTs", () => {
  const { n } = net("pw", "pw", 10); // RTT 20 ms
  assert.ok(n.run(() => n.a.session.online && n.b.session.online, 1_000));
  for (const [who, epoch] of [["b", 0xbbbb0002], ["a", 0xaaaa0002]] as const) {
    n.run(() => false, 2_000);
    const from = n.now;
    n.restart(who, epoch);
    assert.ok(
      n.run(() => n.a.session.online && n.b.session.online, 1_000),
      `${who} restarted, seed ${SEED}`,
    );
    assert.ok(n.now - from <= 60, `${who}: back in ${n.now - from} ms`);
    n.send(who, `after ${who}`);
    const other = who === "a" ? n.b : n.a;
    assert.ok(n.run(() => other.received.includes(`after ${who}`), 1_000));
  }
});

Deno.test("replays after 20 restarts of the peer: nothing opens, nothing resets, the session goes on", () => {
  const { n, wire } = net();
  n.send("b", "first");
  assert.ok(n.run(() => n.a.received.length === 1, 2_000));
  n.run(() => false, 1_000);
  const recorded = wire.filter((w) => w.from === "b").map((w) => w.d);
  assert.ok(recorded.some(isSealed) && recorded.some((d) => !isSealed(d)));
  for (let i = 2; i <= 21; i++) {
    n.restart("b", 0xbbbb0000 + i);
    assert.ok(n.run(() => n.a.session.online && n.b.session.online, 2_000), `restart ${i}`);
    n.run(() => false, 100);
  }
  const before = n.a.session.stats();
  const received = n.a.received.slice();
  for (const d of recorded) n.a.session.input(d, n.now);
  n.run(() => false, 2 * HANDSHAKE_TIMEOUT);
  const after = n.a.session.stats();
  assert.deepEqual(n.a.received, received, "nothing opened");
  assert.equal(after.peerRestarts, before.peerRestarts, "nothing reset");
  // Epochs still among the 16 remembered are not even answered; the first one has been forgotten,
  // so its INIT is answered once, and that attempt fails (counted) without adopting anything.
  assert.ok(after.authFailed - before.authFailed <= 1, "one counted attempt at most");
  assert.ok(after.stale > before.stale);
  assert.ok(n.a.session.online);
  n.send("b", "still here");
  assert.ok(n.run(() => n.a.received.at(-1) === "still here", 2_000));
});

Deno.test("an attacker at the peer's address gets nothing to test a guess with, and every try is counted", () => {
  const { n, wire } = net();
  n.send("a", "before");
  assert.ok(n.run(() => n.b.received.length === 1, 2_000));
  const hello = (src: number, data: Uint8Array): Uint8Array => {
    const p: Packet = {
      type: PacketType.hello,
      flags: 0,
      loss: 0,
      srcEpoch: src,
      dstEpoch: 0,
      pn: 0,
      ack: 0,
      ts: 0,
      echo: 0,
      durable: 0,
      sacks: [],
      segments: [{ seq: 0, frg: 0, data }],
    };
    return encode(p);
  };
  const rnd = randomFrom(SEED + 5);
  const seen = wire.length;
  const start = n.now;
  let tries = 0;
  // For 6 hours: a share-only INIT, a CONFIRM with a wrong tag and a replayed HELLO every second.
  for (let t = 0; t < 6 * 3_600_000; t += 1000) {
    n.at(start + t, () => {
      const epoch = 0x70000000 + tries++;
      const nonce = rnd(NONCE_BYTES);
      n.b.session.input(hello(epoch, concat([Uint8Array.of(Kind.init), nonce])), n.now);
      const forged = concat([Uint8Array.of(Kind.confirm), nonce, rnd(16), rnd(32), rnd(64)]);
      n.b.session.input(hello(epoch, forged), n.now);
      n.b.session.input(wire[0].d, n.now);
    });
  }
  n.run(() => false, 6 * 3_600_000 + HANDSHAKE_TIMEOUT);
  const answers = wire.slice(seen).filter((w) => w.from === "b").map((w) => helloPayload(w.d))
    .filter((p) => p !== undefined);
  const kinds = answers.map((p) => p![0]);
  assert.ok(kinds.every((k) => k === Kind.reply), "never a tag, never a FINISH");
  const s = n.b.session.stats();
  assert.equal(s.authFailed, kinds.length, "every handshake answered is a failure counted");
  assert.equal(n.b.authFailures.length, s.authFailed, "and reported");
  // 3 free, then at 1, 3, 7, 15, 31 and 63 minutes, then hourly: 13 in 6 hours.
  assert.ok(s.authFailed >= 10 && s.authFailed <= 14, `${s.authFailed} attempts in 6 hours`);
  assert.equal(s.peerRestarts, 0);
  n.send("a", "after");
  assert.ok(n.run(() => n.b.received.at(-1) === "after", 2_000), "the live session carries on");
});

Deno.test("a mistyped passphrase costs one failure a side, and the corrected restart connects at once", () => {
  const { n } = net("tango-42", "tango-43");
  assert.ok(n.run(() => n.a.authFailures.length > 0 && n.b.authFailures.length > 0, 30_000));
  n.run(() => false, 20_000); // the user reads the message and types the passphrase again
  assert.deepEqual(
    [n.a.session.stats().authFailed, n.b.session.stats().authFailed],
    [1, 1],
    `seed ${SEED}`,
  );
  const from = n.now;
  n.restart("b", 0xbbbb0002, "tango-42");
  assert.ok(n.run(() => n.a.session.online && n.b.session.online, 5_000), `seed ${SEED}`);
  assert.ok(n.now - from <= 100, `online ${n.now - from} ms after the corrected restart`);
});

Deno.test("different passphrases settle into counted backoff, quietly", () => {
  const { n, wire } = net("tango-42", "tango-43");
  n.run(() => false, 3_600_000);
  for (const s of [n.a, n.b]) {
    const failures = s.session.stats().authFailed;
    assert.ok(failures >= 3 && failures <= 12, `${failures} failures in an hour, seed ${SEED}`);
    assert.equal(s.authFailures.length, failures);
  }
  assert.ok(wire.length < 10_000, `${wire.length} datagrams in an hour`);
  assert.deepEqual([n.a.received, n.b.received], [[], []]);
});
