/**
 * AES-256-GCM for datagrams, and the replay window. The nonce is 4 zero bytes and a 64-bit
 * counter that only goes up; the key is new for every pair of epochs (lib/crypto/keys.ts), and
 * every process run has fresh ephemeral keys, so a nonce never repeats under one key, restarts
 * included. node:crypto's AES-GCM is native and synchronous, which keeps the protocol core a
 * synchronous state machine (WebCrypto would make every datagram a promise).
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

export const TAG_BYTES = 16;

function nonce(counter: bigint): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, counter);
  return n;
}

export function seal(
  key: Uint8Array,
  counter: bigint,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const c = createCipheriv("aes-256-gcm", key, nonce(counter));
  c.setAAD(aad);
  const body = c.update(plaintext);
  c.final();
  const out = new Uint8Array(body.length + TAG_BYTES);
  out.set(body, 0);
  out.set(c.getAuthTag(), body.length);
  return out;
}

/** The plaintext, or undefined if the tag does not verify. */
export function open(
  key: Uint8Array,
  counter: bigint,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined {
  if (sealed.length < TAG_BYTES) return undefined;
  try {
    const d = createDecipheriv("aes-256-gcm", key, nonce(counter));
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const body = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    d.final();
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  } catch {
    return undefined;
  }
}

/** Datagrams within this many counters of the newest may arrive late (reordering); older ones
 * are refused. 4096 covers a full send window of reordering. */
export const REPLAY_WINDOW = 4096;

/** Remembers which counters were seen, as IPsec and WireGuard do: the highest, and a bitmap of
 * the REPLAY_WINDOW below it. */
export class ReplayWindow {
  #highest = -1n;
  #seen = new Uint8Array(REPLAY_WINDOW / 8);

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
