/**
 * With a passphrase, what keeps the session's datagrams sealed: the current peer's keys (each
 * handshake's its own), our nonce counter and the peer's replay window. It seals what goes out
 * and opens what comes in; a counter never wraps and no key ever sees a nonce twice.
 */
import { SEALED_HEADER, sealedHeader, type SealedParts } from "../codec.ts";
import type { SessionKeys } from "../../crypto/keys.ts";
import { open, ReplayWindow, sealInto, TAG_BYTES } from "../../crypto/aead.ts";

const MAX_COUNTER = 2n ** 64n - 1n;

/** A sealed datagram that opened: the datagram inside, and whether it is the newest that peer has
 * sent (its highest counter so far). */
export interface Opened {
  inner: Uint8Array;
  newest: boolean;
}

export class Seal {
  /** Our epoch, named in every sealed header we send. */
  #epoch: number;
  #keys: SessionKeys | undefined;
  #sendCounter = 0n;
  #replay = new ReplayWindow();

  constructor(epoch: number) {
    this.#epoch = epoch;
  }

  /** The current peer's keys, once a handshake proved it. */
  get keys(): SessionKeys | undefined {
    return this.#keys;
  }

  /** Keys of a new handshake, or none (a new peer epoch before one): our counter and the replay
   * window start again under them. */
  rekey(keys: SessionKeys | undefined): void {
    this.#keys = keys;
    this.#sendCounter = 0n;
    this.#replay = new ReplayWindow();
  }

  /** Opens a sealed datagram of the current peer epoch, or says why it opens nothing. */
  open(s: SealedParts): Opened | "stale" | "replayed" | "unauthenticated" {
    const keys = this.#keys;
    if (!keys) return "stale";
    if (!this.#replay.fresh(s.counter)) return "replayed";
    const inner = open(keys.recv, s.counter, s.header, s.body);
    if (!inner) return "unauthenticated";
    const newest = s.counter > this.#replay.highest;
    this.#replay.mark(s.counter);
    return { inner, newest };
  }

  /** Seals a datagram for the peer epoch `dst`; undefined without keys (nothing may go out). */
  seal(datagram: Uint8Array, dst: number): Uint8Array | undefined {
    // A counter never wraps: at 2^64 datagrams under one key we would rather stop than repeat.
    if (!this.#keys || this.#sendCounter === MAX_COUNTER) return undefined;
    const counter = this.#sendCounter++;
    const header = sealedHeader(this.#epoch, dst, counter);
    const out = new Uint8Array(SEALED_HEADER + datagram.length + TAG_BYTES);
    out.set(header);
    const body = out.subarray(SEALED_HEADER);
    sealInto(this.#keys.send, { counter, aad: header, plaintext: datagram, out: body });
    return out;
  }
}
