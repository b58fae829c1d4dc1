import assert from "node:assert/strict";
import { crc32c } from "../lib/protocol/crc32c.ts";
import {
  decode,
  encode,
  HEADER_SIZE,
  MAX_SEGMENT_DATA,
  type Packet,
  PacketType,
  SACK_SIZE,
} from "../lib/protocol/codec.ts";
import { MAX_DATAGRAM, MAX_PACKET, SEAL_OVERHEAD } from "../lib/protocol/constants.ts";
import { seqAdd, seqDiff, seqLess } from "../lib/protocol/seq.ts";
import { seededRng } from "../lib/rng.ts";
import { decodeApp, encodeText } from "../lib/app_message.ts";
import { utf8Scratch } from "../lib/bytes.ts";

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 20261122);

function sample(): Packet {
  return {
    type: PacketType.data,
    flags: 1,
    loss: 17,
    srcEpoch: 0xdeadbeef,
    dstEpoch: 0x01020304,
    pn: 0xffffffff,
    ack: 0xfffffff0,
    ts: 123456,
    echo: 654321,
    durable: 0xffffffe0,
    sacks: [[0xfffffff2, 0xfffffff5], [3, 9]],
    segments: [
      { seq: 0xfffffff1, frg: 2, data: new TextEncoder().encode("héllo") },
      { seq: 0, frg: 0, data: new Uint8Array(0) },
    ],
  };
}

Deno.test("crc32c matches the standard check value", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c eight bytes a step agrees with one byte a step at every alignment and length", () => {
  const slow = (b: Uint8Array, start: number, end: number) => {
    let crc = 0xffffffff;
    for (let i = start; i < end; i++) {
      crc ^= b[i];
      for (let k = 0; k < 8; k++) crc = crc & 1 ? 0x82f63b78 ^ (crc >>> 1) : crc >>> 1;
    }
    return (crc ^ 0xffffffff) >>> 0;
  };
  const bytes = new Uint8Array(1200).map((_, i) => (i * 7919 + (i >> 3)) & 0xff);
  for (let start = 0; start < 9; start++) {
    for (let end = start; end < start + 40; end++) {
      assert.equal(crc32c(bytes, start, end), slow(bytes, start, end), `${start}..${end}`);
    }
    assert.equal(crc32c(bytes, start), slow(bytes, start, bytes.length), `${start}..`);
  }
});

Deno.test("encode then decode gives the same packet", () => {
  const p = sample();
  const d = decode(encode(p));
  assert.ok("packet" in d, JSON.stringify(d));
  assert.deepEqual(d.packet, p);
});

Deno.test("a full segment fits one datagram, sealed or not", () => {
  const p = {
    ...sample(),
    sacks: Array.from({ length: 8 }, (_, i) => [i, i + 1] as [number, number]),
  };
  p.segments = [{ seq: 1, frg: 0, data: new Uint8Array(MAX_SEGMENT_DATA) }];
  const bytes = encode(p);
  assert.equal(bytes.length, MAX_PACKET);
  assert.equal(bytes.length + SEAL_OVERHEAD, MAX_DATAGRAM);
  assert.ok("packet" in decode(bytes));
});

Deno.test("every single-bit flip is detected and never decodes", () => {
  const bytes = encode(sample());
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    const copy = bytes.slice();
    copy[bit >> 3] ^= 1 << (bit & 7);
    const d = decode(copy);
    assert.ok("reason" in d, `bit ${bit} flipped still decoded`);
  }
});

Deno.test("random, truncated and multi-bit-flipped datagrams never throw and never decode", () => {
  const rng = seededRng(SEED);
  const valid = encode(sample());
  for (let i = 0; i < 20_000; i++) {
    let bytes: Uint8Array;
    const kind = i % 3;
    if (kind === 0) {
      bytes = new Uint8Array(Math.floor(rng() * 1400));
      for (let j = 0; j < bytes.length; j++) bytes[j] = rng() * 256;
    } else if (kind === 1) {
      bytes = valid.subarray(0, Math.floor(rng() * valid.length));
    } else {
      bytes = valid.slice();
      const flips = 1 + Math.floor(rng() * 8);
      for (let f = 0; f < flips; f++) bytes[Math.floor(rng() * bytes.length)] ^= 1 + rng() * 255;
    }
    const d = decode(bytes);
    assert.ok("reason" in d, `seed ${SEED}, case ${i}: garbage decoded as a packet`);
  }
});

Deno.test("a datagram with a valid checksum but inconsistent lengths is rejected", () => {
  const bytes = encode(sample());
  // Claim a longer first segment, then fix up the checksum so only the structure is wrong.
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segAt = HEADER_SIZE + 2 * SACK_SIZE;
  v.setUint16(segAt + 6, 500);
  v.setUint32(bytes.length - 4, crc32c(bytes, 0, bytes.length - 4));
  const d = decode(bytes);
  assert.ok("reason" in d);
  assert.equal(d.reason, "segment longer than datagram");
});

Deno.test("sequence comparison survives wraparound", () => {
  assert.ok(seqLess(0xfffffff0, 5));
  assert.ok(!seqLess(5, 0xfffffff0));
  assert.equal(seqDiff(3, 0xfffffffe), 5);
  assert.equal(seqAdd(0xffffffff, 2), 1);
  assert.equal(seqDiff(0x7fffffff, 0), 0x7fffffff);
});

Deno.test("text messages carry any UTF-8 text and any name, exactly as TextEncoder would", () => {
  const texts = ["", "hi", "héllo", "日本語", "😀 ok", "lone \ud800 surrogate", "x".repeat(5000)];
  for (const name of ["ann", "bö", "ann"]) {
    for (const text of texts) {
      const bytes = encodeText({ origin: 7, id: 9, name, text });
      const m = decodeApp(bytes);
      assert.deepEqual(m, {
        kind: "text",
        origin: 7,
        id: 9,
        name,
        text: text.replace("\ud800", "\ufffd"),
      });
      const expected = new TextEncoder().encode(text);
      assert.deepEqual(bytes.subarray(bytes.length - expected.length), expected);
    }
  }
});

Deno.test("a text message carries the time it was written; kind 1 without one still decodes", () => {
  const sentAt = Date.UTC(2026, 10, 22, 21, 25, 7, 250);
  const bytes = encodeText({ origin: 7, id: 9, name: "ann", text: "queued", sentAt });
  assert.equal(bytes[0], 3);
  assert.deepEqual(decodeApp(bytes), {
    kind: "text",
    origin: 7,
    id: 9,
    name: "ann",
    text: "queued",
    sentAt,
  });
  // Kind 1: origin 7, id 9, name "ann", text "old": no time.
  const old = new Uint8Array([1, 0, 0, 0, 7, 0, 0, 0, 9, 3, 97, 110, 110, 111, 108, 100]);
  assert.deepEqual(decodeApp(old), { kind: "text", origin: 7, id: 9, name: "ann", text: "old" });
  assert.equal(decodeApp(new Uint8Array([3, 0, 0])), "application message too short");
  assert.equal(decodeApp(new Uint8Array(0)), "application message too short");
});

Deno.test("utf8Scratch gives TextEncoder's bytes, short or long, and reuses its buffer", () => {
  const e = new TextEncoder();
  for (const text of ["", "abc", "é😀\udc00", "y".repeat(20_000), "z".repeat(400_000)]) {
    assert.deepEqual(utf8Scratch(text), e.encode(text));
  }
  const a = utf8Scratch("first");
  utf8Scratch("again");
  assert.equal(new TextDecoder().decode(a), "again");
});
