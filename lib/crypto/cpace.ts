/**
 * CPace-RISTR255-SHA512 as specified by draft-irtf-cfrg-cpace-21 (CPACE_DRAFT), checked against
 * that revision's test vectors (Appendix B.3) in tests/crypto_test.ts.
 *
 * - The generator is the element derivation (RFC 9496) of SHA-512 of the generator string
 *   lv_cat(DSI, PRS, zero padding, CI, sid) (sections 8.1, 8.3).
 * - A share is Y = y·g for a fresh scalar y, which must never be reused (section 10.9): a scalar
 *   lives in one handshake (lib/protocol/handshake.ts) and nowhere else.
 * - K = y·Y_peer, refused when the share does not decode or K is the identity (section 8.3).
 * - ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript) (section 7.2), with either the
 *   initiator-responder or the ordered ("symmetric") transcript (section 6.3).
 * - Key confirmation as section 10.4 suggests: mac_key = SHA-512("CPaceMac" || sid || ISK) and
 *   each side's tag is HMAC-SHA512(mac_key, lv_cat(Y, AD)) over its own message.
 *
 * K never leaves this file (section 10.3). Pure.
 */
import { ristretto255, ristretto255_hasher } from "@noble/curves/ed25519.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concat, sameBytes } from "../bytes.ts";

/** The revision implemented, and whose test vectors we pass. */
export const CPACE_DRAFT = "draft-irtf-cfrg-cpace-21";

const Point = ristretto255.Point;
type RistrettoPoint = InstanceType<typeof Point>;
const encoder = new TextEncoder();
/** G.DSI for ristretto255 (section 8.3). */
const DSI = encoder.encode("CPaceRistretto255");
/** SHA-512's input block size, H.s_in_bytes (section 6.2). */
const S_IN_BYTES = 128;
export const SHARE_BYTES = 32;
export const TAG_BYTES = 64;

/** LEB128 length, then the bytes (Appendix A.1.1). */
export function prependLen(data: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = data.length;
  do {
    len.push(n < 128 ? n : (n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  } while (n > 0);
  return concat([Uint8Array.from(len), data]);
}

export function lvCat(...parts: Uint8Array[]): Uint8Array {
  return concat(parts.map(prependLen));
}

/** True if a sorts after b (Appendix A.3.1). */
export function lexicographicallyLarger(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return a.length > b.length;
}

/** Ordered concatenation: "oc", then the larger string first (Appendix A.3.2). */
export function oCat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [x, y] = lexicographicallyLarger(a, b) ? [a, b] : [b, a];
  return concat([encoder.encode("oc"), x, y]);
}

export function generatorString(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  const zpad = Math.max(0, S_IN_BYTES - 1 - prependLen(prs).length - prependLen(DSI).length);
  return lvCat(DSI, prs, new Uint8Array(zpad), ci, sid);
}

/** G.calculate_generator (section 8.3). */
export function calculateGenerator(
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array,
): RistrettoPoint {
  return ristretto255_hasher.deriveToCurve!(sha512(generatorString(prs, ci, sid)));
}

/** A scalar from 64 random bytes, reduced modulo the group order: the oversample-and-reduce
 * sampling section 10.7 allows (bias below 2^-250). Zero, at odds of 2^-252, becomes 1. */
export function sampleScalar(random: Uint8Array): bigint {
  if (random.length !== 64) throw new RangeError("sampleScalar needs 64 random bytes");
  return scalarFromBytes(random);
}

/** A little-endian scalar, as the draft's vectors write them. */
export function scalarFromBytes(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return Point.Fn.create(n) || 1n;
}

/** G.scalar_mult: the encoded share y·g. */
export function scalarMult(y: bigint, g: RistrettoPoint): Uint8Array {
  return g.multiply(y).toBytes();
}

/** G.scalar_mult_vfy, with G.I (a share that does not decode, or an identity result) as
 * undefined: the caller must abort then. */
export function scalarMultVfy(y: bigint, share: Uint8Array): Uint8Array | undefined {
  try {
    const k = Point.fromBytes(share).multiply(y);
    return k.is0() ? undefined : k.toBytes();
  } catch {
    return undefined;
  }
}

export function transcriptIr(
  ya: Uint8Array,
  ada: Uint8Array,
  yb: Uint8Array,
  adb: Uint8Array,
): Uint8Array {
  return concat([lvCat(ya, ada), lvCat(yb, adb)]);
}

export function transcriptOc(
  ya: Uint8Array,
  ada: Uint8Array,
  yb: Uint8Array,
  adb: Uint8Array,
): Uint8Array {
  return oCat(lvCat(ya, ada), lvCat(yb, adb));
}

/** The intermediate session key from sid, K and the transcript (section 7.2). */
export function deriveIsk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Uint8Array {
  const dsiIsk = concat([DSI, encoder.encode("_ISK")]);
  return sha512(concat([lvCat(dsiIsk, sid, k), transcript]));
}

/** A side's key-confirmation tag over its own message (section 10.4). */
export function confirmTag(
  sid: Uint8Array,
  isk: Uint8Array,
  own: { share: Uint8Array; ad: Uint8Array },
): Uint8Array {
  const macKey = sha512(concat([encoder.encode("CPaceMac"), sid, isk]));
  return hmac(sha512, macKey, lvCat(own.share, own.ad));
}

/** Compares a received tag with the expected one without an early exit. */
export function tagMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return sameBytes(expected, received);
}
