/**
 * The key schedule: from one handshake's CPace session key (ISK) to one key per direction for
 * datagrams, one per direction for file streams and the fingerprint people compare (key
 * confirmation is the handshake's own, lib/crypto/cpace.ts). Every
 * label names the sending epoch first, so the two directions never share a key, and a new epoch on
 * either side means new keys. Pure.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

export interface SessionKeys {
  /** AEAD keys for datagrams we send and receive. */
  send: Uint8Array;
  recv: Uint8Array;
  /** Keys that file-stream keys are derived from, per direction. */
  fileSend: Uint8Array;
  fileRecv: Uint8Array;
  /** Twelve digits both sides show, to compare by voice. */
  fingerprint: string;
}

const encoder = new TextEncoder();
const SALT = encoder.encode("chatnet/1 keys");

export function deriveKeys(isk: Uint8Array, ourEpoch: number, peerEpoch: number): SessionKeys {
  const key = (label: string, len = 32) => hkdf(sha256, isk, SALT, encoder.encode(label), len);
  const dir = (from: number, to: number) => `${hex32(from)}>${hex32(to)}`;
  const fp = key("fingerprint", 8);
  const digits = (new DataView(fp.buffer).getBigUint64(0) % 10n ** 12n).toString().padStart(
    12,
    "0",
  );
  return {
    send: key(`data ${dir(ourEpoch, peerEpoch)}`),
    recv: key(`data ${dir(peerEpoch, ourEpoch)}`),
    fileSend: key(`file ${dir(ourEpoch, peerEpoch)}`),
    fileRecv: key(`file ${dir(peerEpoch, ourEpoch)}`),
    fingerprint: digits.replace(/(\d{4})(\d{4})(\d{4})/, "$1 $2 $3"),
  };
}

/** A key for one file stream: the direction's file key, the stream's random salt and header. */
export function streamKey(fileKey: Uint8Array, salt: Uint8Array, header: Uint8Array): Uint8Array {
  return hkdf(sha256, fileKey, salt, header, 32);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, "0");
}
