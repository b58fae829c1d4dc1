/** Codes, passphrases and the discovery exchange, in virtual time (pure parts only). */
import assert from "node:assert/strict";
import { CODE_NUMBERS, newCode, newSecret, parseCode, WORDS } from "../lib/crypto/words.ts";
import { codeTag, pairSecret, pairTag } from "../lib/crypto/pairing.ts";
import { decodeAnnouncement, Discovery, encodeAnnouncement } from "../lib/protocol/discovery.ts";
import { parseCli } from "../lib/cli/args.ts";

/** A seeded byte source (xorshift32), so a failure names its seed. */
function seeded(seed: number) {
  let x = seed || 1;
  return (n: number) =>
    Uint8Array.from({ length: n }, () => {
      x ^= x << 13, x ^= x >>> 17, x ^= x << 5;
      return x & 0xff;
    });
}

Deno.test("the word list has 256 distinct lowercase words, 8 bits each", () => {
  assert.equal(WORDS.length, 256);
  assert.equal(new Set(WORDS).size, 256);
  for (const w of WORDS) assert.match(w, /^[a-z]{3,9}$/);
});

Deno.test("a code is number-word-word with at least 16 bits and parses back to itself", () => {
  assert.ok(Math.log2(CODE_NUMBERS) + 16 >= 16);
  const random = seeded(7);
  const numbers = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const c = newCode(random);
    assert.match(c.text, /^\d{1,2}-[a-z]+-[a-z]+$/, `seed 7, code ${i}`);
    assert.deepEqual(parseCode(` ${c.text.toUpperCase()} `), c);
    numbers.add(c.number);
  }
  assert.equal(numbers.size, CODE_NUMBERS, "every number 1-99 occurs (seed 7)");
  assert.ok(!numbers.has(0) && !numbers.has(100));
});

Deno.test("a code with an unknown word or number is refused with the reason; a name is not a code", () => {
  assert.equal(parseCode("alice"), undefined);
  assert.equal(
    parseCode("7-crossbow-laddder"),
    'Cannot use code "7-crossbow-laddder": "laddder" is not one of the code words',
  );
  assert.equal(
    parseCode("0-crossbow-ladder"),
    'Cannot use code "0-crossbow-ladder": its number must be 1-99',
  );
  assert.deepEqual(parseCode("7-crossbow-ladder"), { text: "7-crossbow-ladder", number: 7 });
});

Deno.test("a new secret is eight words, 64 bits, and differs run to run", () => {
  const a = newSecret(seeded(1)), b = newSecret(seeded(2));
  assert.equal(a.split("-").length, 8);
  assert.ok(a.split("-").every((w) => WORDS.includes(w)));
  assert.notEqual(a, b);
});

Deno.test("the tag of a code depends on its number only, never carries the words, and a pair's tag on its secret", () => {
  assert.deepEqual(codeTag(7), codeTag(7));
  assert.notDeepEqual(codeTag(7), codeTag(8));
  const text = new TextDecoder().decode(codeTag(7));
  assert.ok(!text.includes("crossbow"));
  assert.notDeepEqual(pairTag("a".repeat(64)), pairTag("b".repeat(64)));
  const k1 = new Uint8Array(32).fill(1), k2 = new Uint8Array(32).fill(2);
  assert.equal(
    pairSecret({ fileSend: k1, fileRecv: k2 }),
    pairSecret({ fileSend: k2, fileRecv: k1 }),
  );
  assert.match(pairSecret({ fileSend: k1, fileRecv: k2 }), /^[0-9a-f]{64}$/);
});

Deno.test("an announcement round-trips; truncated, foreign or oversized ones are reasons", () => {
  const a = {
    tag: codeTag(3),
    nonce: new Uint8Array(8).fill(9),
    heard: new Uint8Array(8),
    port: 40000,
    name: "alice",
  };
  const d = encodeAnnouncement(a);
  assert.deepEqual(decodeAnnouncement(d), a);
  assert.equal(decodeAnnouncement(d.subarray(0, 10)), "too short");
  assert.equal(decodeAnnouncement(d.subarray(0, d.length - 1)), "bad name length");
  const other = d.slice();
  other[0] = 0;
  assert.equal(decodeAnnouncement(other), "not an announcement");
});

Deno.test("two sides with one tag find each other; a third with another tag and their own echoes are ignored", () => {
  const mk = (tag: Uint8Array, n: number, port: number) =>
    new Discovery({ tag, nonce: new Uint8Array(8).fill(n), port, name: `p${n}`, now: 0 });
  const a = mk(codeTag(7), 1, 1001), b = mk(codeTag(7), 2, 1002), c = mk(codeTag(8), 3, 1003);
  const ip = { 0: "10.0.0.1", 1: "10.0.0.2", 2: "10.0.0.3" } as Record<number, string>;
  const all = [a, b, c];
  // The group: everything sent reaches everyone, the sender included (multicast loopback).
  for (let now = 0; now < 5000 && !(a.done && b.done); now += 10) {
    all.forEach((d, i) => {
      for (const x of d.tick(now)) for (const r of all) r.input(x, { ip: ip[i] }, now);
    });
  }
  assert.deepEqual(a.found, { ip: "10.0.0.2", port: 1002, name: "p2" });
  assert.deepEqual(b.found, { ip: "10.0.0.1", port: 1001, name: "p1" });
  assert.equal(c.found, undefined);
  assert.ok(a.done && b.done);
  assert.ok(c.counts.otherTags > 0 && a.counts.own > 0);
});

Deno.test("a side that starts late still tells the first it was heard, so both are done within a round trip", () => {
  const mk = (n: number, now: number) =>
    new Discovery({
      tag: codeTag(7),
      nonce: new Uint8Array(8).fill(n),
      port: 1000 + n,
      name: `p${n}`,
      now,
    });
  const a = mk(1, 0);
  let b: Discovery | undefined;
  const doneAt: Record<string, number> = {};
  for (let now = 0; now < 5000 && !(doneAt.a && doneAt.b); now += 10) {
    if (now === 600) b = mk(2, now);
    const sides = [a, b].filter((d): d is Discovery => d !== undefined);
    sides.forEach((d, i) => {
      for (const x of d.tick(now)) {
        for (const r of sides) r.input(x, { ip: `10.0.0.${i + 1}` }, now);
      }
    });
    if (a.done) doneAt.a ??= now;
    if (b?.done) doneAt.b ??= now;
  }
  assert.ok(doneAt.a !== undefined && doneAt.b !== undefined);
  // b hears a's next announcement (at 750 ms), answers at once; a lingers no further.
  assert.ok(doneAt.a - 600 < 500 && doneAt.b - 600 < 500, JSON.stringify(doneAt));
});

Deno.test("announcements back off: at 0, 250, 750, 1750, 3750, 5750 ms", () => {
  const d = new Discovery({ tag: codeTag(1), nonce: new Uint8Array(8), port: 1, name: "", now: 0 });
  const at: number[] = [];
  for (let now = 0; now <= 6000; now++) if (d.tick(now).length) at.push(now);
  assert.deepEqual(at, [0, 250, 750, 1750, 3750, 5750]);
});

Deno.test("--invite and --join parse; with an address or a passphrase they are refused", () => {
  const join = parseCli(["--join", "7-crossbow-ladder"]);
  assert.ok(typeof join !== "string");
  assert.deepEqual(join.discover, { kind: "code", code: { text: "7-crossbow-ladder", number: 7 } });
  assert.equal(join.waitMs, 30_000);
  const invite = parseCli(["--invite", "--wait", "5"]);
  assert.ok(typeof invite !== "string");
  assert.deepEqual([invite.discover, invite.waitMs, invite.port], [{ kind: "invite" }, 5000, 0]);
  const pair = parseCli(["--join", "alice"]);
  assert.ok(typeof pair !== "string" && pair.discover?.kind === "pair");
  assert.equal(
    parseCli(["--join", "alice", "--peer", "h:1"]),
    "Cannot use --join with a peer address: it finds the peer itself",
  );
  assert.equal(
    parseCli(["--invite"], { secret: "x" }),
    "Cannot use --invite with a passphrase (CHATNET_SECRET, --secret-file, --ask-secret): the code is the passphrase",
  );
  assert.equal(
    parseCli(["--wait", "3", "1", "h", "2"]),
    "Cannot use --wait without --invite or --join",
  );
});
