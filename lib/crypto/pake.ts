/**
 * CPace over ristretto255 (draft-irtf-cfrg-cpace), in its symmetric form: neither peer is the
 * initiator, so each side's share is the same kind of message and the transcript orders the two
 * shares by their bytes.
 *
 * The passphrase picks a secret generator G = hash_to_ristretto255(passphrase); each side sends
 * Y = y·G for a fresh random y, and both get K = y·Y_peer. A recorded or active attacker learns
 * nothing that lets it test passphrases offline: every guess costs one live handshake. Pure.
 */
import { ristretto255, ristretto255_hasher } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concat } from "../bytes.ts";

const Point = ristretto255.Point;
const encoder = new TextEncoder();
const DST = "chatnet/1 CPace ristretto255 generator";
export const SHARE_BYTES = 32;

export interface PakeState {
  scalar: bigint;
  share: Uint8Array;
}

/** A fresh ephemeral share for one process run (forward secrecy: y is never stored). */
export function pakeStart(passphrase: string, random: Uint8Array): PakeState {
  if (random.length < 64) throw new RangeError("pakeStart needs 64 random bytes");
  const g = ristretto255_hasher.hashToCurve(encoder.encode(passphrase), { DST });
  const scalar = Point.Fn.create(bytesToBigLE(random)) || 1n;
  return { scalar, share: g.multiply(scalar).toBytes() };
}

/**
 * The intermediate session key from our state and the peer's share, bound to both epochs; or
 * undefined if the share is not a valid point (or is the identity, which would fix K).
 */
export function pakeFinish(
  state: PakeState,
  peer: { share: Uint8Array; epoch: number },
  ourEpoch: number,
): Uint8Array | undefined {
  let k;
  try {
    const y = Point.fromBytes(peer.share);
    if (y.is0()) return undefined;
    k = y.multiply(state.scalar);
  } catch {
    return undefined;
  }
  if (k.is0()) return undefined;
  const ours = { share: state.share, epoch: ourEpoch };
  const [first, second] = compare(ours.share, peer.share) <= 0 ? [ours, peer] : [peer, ours];
  return sha512(concat([
    encoder.encode("chatnet/1 CPace ISK"),
    k.toBytes(),
    first.share,
    u32(first.epoch),
    second.share,
    u32(second.epoch),
  ]));
}

function bytesToBigLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}
