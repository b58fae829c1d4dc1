/**
 * ChaCha20-Poly1305 (RFC 8439) for datagrams and file records, and the replay window. The nonce
 * is 4 zero bytes and a 64-bit counter that only goes up; the key is new for every handshake
 * (lib/protocol/handshake.ts, lib/crypto/keys.ts) and for every file stream, so a nonce never
 * repeats under one key, restarts and re-adoptions included.
 *
 * Two implementations give the same bytes: node:crypto's, always there, and the host's OpenSSL
 * through FFI (lib/native/openssl_aead.ts), which main.ts switches to with `useAead` when it loads
 * and passes its self-test. Both are native and synchronous, which keeps the protocol core a
 * synchronous state machine (WebCrypto would make every datagram a promise). Measured here, per
 * 1,120-byte datagram and per MiB: node:crypto 7 us and 0.9 ms, OpenSSL 2.6 us and 0.28 ms;
 * node:crypto's AES-256-GCM took 11 us and 5 ms, WebCrypto's 1.6 ms per MiB.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

export const TAG_BYTES = 16;
const CIPHER = "chacha20-poly1305";

export interface SealOptions {
  counter: bigint;
  aad: Uint8Array;
  plaintext: Uint8Array;
  /** Receives the ciphertext, then the tag: at least `plaintext.length + TAG_BYTES` bytes. */
  out: Uint8Array;
}

export interface OpenOptions {
  counter: bigint;
  aad: Uint8Array;
  /** Ciphertext, then the tag. */
  sealed: Uint8Array;
  /** Receives the plaintext: at least `sealed.length - TAG_BYTES` bytes. */
  out: Uint8Array;
}

/** One implementation of the cipher. */
export interface Aead {
  /** What /stats shows, e.g. "node:crypto" or "OpenSSL 3.0.19". */
  readonly name: string;
  /** Seals into `o.out`; returns the bytes written. */
  sealInto(key: Uint8Array, o: SealOptions): number;
  /** Opens into `o.out`; the plaintext's length, or undefined if the tag does not verify (and
   * then `o.out` holds nothing to use). */
  openInto(key: Uint8Array, o: OpenOptions): number | undefined;
}

/** The 12-byte nonce for `counter`, written into `into`. */
export function nonce(counter: bigint, into = new Uint8Array(12)): Uint8Array {
  new DataView(into.buffer, into.byteOffset, 12).setBigUint64(4, counter);
  return into;
}

/** node:crypto returns what each `update` produces in a new buffer. Fed in pieces this size,
 * those stay small buffers that malloc recycles, and a file record is assembled in one reused
 * buffer: no 1 MiB allocation per record. */
const PIECE = 64 * 1024;

function nodeSeal(key: Uint8Array, o: SealOptions): number {
  const length = o.plaintext.length;
  const c = createCipheriv(CIPHER, key, nonce(o.counter), { authTagLength: TAG_BYTES });
  c.setAAD(o.aad, { plaintextLength: length });
  for (let at = 0; at < length; at += PIECE) {
    o.out.set(c.update(o.plaintext.subarray(at, at + PIECE)), at);
  }
  c.final();
  o.out.set(c.getAuthTag(), length);
  return length + TAG_BYTES;
}

function nodeOpen(key: Uint8Array, o: OpenOptions): number | undefined {
  const length = o.sealed.length - TAG_BYTES;
  if (length < 0) return undefined;
  // A programmer's error, not a forgery: the catch below must not make it look like one.
  if (o.out.length < length) throw new RangeError("Bad open lengths");
  try {
    const d = createDecipheriv(CIPHER, key, nonce(o.counter), { authTagLength: TAG_BYTES });
    d.setAAD(o.aad, { plaintextLength: length });
    d.setAuthTag(o.sealed.subarray(length));
    for (let at = 0; at < length; at += PIECE) {
      o.out.set(d.update(o.sealed.subarray(at, Math.min(at + PIECE, length))), at);
    }
    d.final();
    return length;
  } catch {
    return undefined;
  }
}

export const nodeAead: Aead = { name: "node:crypto", sealInto: nodeSeal, openInto: nodeOpen };

let active: Aead = nodeAead;

/** Makes `aead` the implementation every later seal and open uses (set once, at start). */
export function useAead(aead: Aead): void {
  active = aead;
}

/** The implementation in use. */
export function aeadName(): string {
  return active.name;
}

/** Seals `plaintext` into `out` (ciphertext, then the tag); returns the bytes written. */
export function sealInto(key: Uint8Array, o: SealOptions): number {
  return active.sealInto(key, o);
}

/** Opens `sealed` into `out`; the plaintext's length, or undefined if the tag does not verify. */
export function openInto(key: Uint8Array, o: OpenOptions): number | undefined {
  return active.openInto(key, o);
}

/** The plaintext in a new buffer, or undefined if the tag does not verify. */
export function open(
  key: Uint8Array,
  counter: bigint,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined {
  const out = new Uint8Array(Math.max(0, sealed.length - TAG_BYTES));
  return openInto(key, { counter, aad, sealed, out }) === undefined ? undefined : out;
}

/** Datagrams within this many counters of the newest may arrive late (reordering); older ones
 * are refused. 4096 covers a full send window of reordering. */
export const REPLAY_WINDOW = 4096;

/** Remembers which counters were seen, as IPsec and WireGuard do: the highest, and a bitmap of
 * the REPLAY_WINDOW below it. */
export class ReplayWindow {
  #highest = -1n;
  #seen = new Uint8Array(REPLAY_WINDOW / 8);

  /** The highest counter marked (-1 before any). */
  get highest(): bigint {
    return this.#highest;
  }

  /** Whether `counter` is new; check before opening, mark after it opened. */
  fresh(counter: bigint): boolean {
    if (counter > this.#highest) return true;
    if (this.#highest - counter >= BigInt(REPLAY_WINDOW)) return false;
    const i = Number(counter % BigInt(REPLAY_WINDOW));
    return (this.#seen[i >> 3] & (1 << (i & 7))) === 0;
  }

  mark(counter: bigint): void {
    if (counter > this.#highest) {
      const gap = counter - this.#highest;
      if (gap >= BigInt(REPLAY_WINDOW)) this.#seen.fill(0);
      else {
        for (let c = this.#highest + 1n; c < counter; c++) this.#clear(c);
      }
      this.#highest = counter;
    }
    const i = Number(counter % BigInt(REPLAY_WINDOW));
    this.#seen[i >> 3] |= 1 << (i & 7);
  }

  #clear(c: bigint): void {
    const i = Number(c % BigInt(REPLAY_WINDOW));
    this.#seen[i >> 3] &= ~(1 << (i & 7));
  }
}
