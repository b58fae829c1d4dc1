/**
 * What discovery and pairing derive from a code or a pair's secret. Pure.
 *
 * An announcement carries a tag, never the code: the tag of a code is derived from its number
 * alone, so a LAN eavesdropper learns the number (one of 99, as public as wormhole's nameplate)
 * and nothing about the words, which only a live CPace handshake can test. A pair's tag is keyed
 * by the pair's secret, so it tells an onlooker nothing.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "../bytes.ts";

/** Bytes of tag an announcement carries: enough that two pairs never share one by chance. */
export const TAG_BYTES = 16;

const encoder = new TextEncoder();

/** The tag both sides of `N-word-word` announce and look for. */
export function codeTag(number: number): Uint8Array {
  return sha256(encoder.encode(`chatnet/1 discovery code ${number}`)).subarray(0, TAG_BYTES);
}

/** The tag a pair announces and looks for when joining by name. */
export function pairTag(secret: string): Uint8Array {
  return hmac(sha256, encoder.encode(secret), encoder.encode("chatnet/1 discovery pair"))
    .subarray(0, TAG_BYTES);
}

/** The pair's long-term secret, from the first session's file keys (the same two on both sides,
 * one per direction, so sorted): only the two processes that completed CPace know them. Used
 * later as the passphrase of `--join NAME`. */
export function pairSecret(keys: { fileSend: Uint8Array; fileRecv: Uint8Array }): string {
  const [a, b] = [toHex(keys.fileSend), toHex(keys.fileRecv)].sort();
  return toHex(
    hmac(sha256, encoder.encode("chatnet/1 pair secret"), encoder.encode(`${a}${b}`)),
  );
}
