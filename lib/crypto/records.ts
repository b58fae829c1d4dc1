/**
 * File streams under a passphrase: the bytes after the stream header travel as ChaCha20-Poly1305
 * records (lib/crypto/aead.ts). Each record is a 4-byte length, then ciphertext and tag; the
 * nonce counter is the record's index, so records cannot be dropped, repeated or reordered without
 * failing, and the length word is the AAD. The key is derived per stream from the session's file
 * key, a random salt and the whole header (lib/crypto/keys.ts streamKey), so a tampered header
 * fails at the first record. Pure: no sockets, only bytes.
 */
import { openInto, sealInto, TAG_BYTES } from "./aead.ts";

/** Plaintext bytes per record: what we write and the most we accept (bounding the receiver's
 * memory). The copy loops' 1 MiB: measured here, 256 KiB records cost the receiver 15% more CPU
 * per byte. */
export const MAX_RECORD = 1 << 20;
export const MAX_BODY = MAX_RECORD + TAG_BYTES;

/** Seals records in order. */
export class RecordSealer {
  #key: Uint8Array;
  #index = 0n;

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** The whole record (length word, ciphertext and tag), in `into` (4 + MAX_BODY bytes will do). */
  seal(plain: Uint8Array, into: Uint8Array): Uint8Array {
    if (plain.length > MAX_RECORD) throw new RangeError("Record larger than MAX_RECORD");
    const word = into.subarray(0, 4);
    new DataView(word.buffer, word.byteOffset).setUint32(0, plain.length + TAG_BYTES);
    const counter = this.#index++;
    const out = into.subarray(4);
    return into.subarray(0, 4 + sealInto(this.#key, { counter, aad: word, plaintext: plain, out }));
  }
}

/** Opens records in order; a record that fails is a reason, never plaintext. */
export class RecordOpener {
  #key: Uint8Array;
  #index = 0n;

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** The body length a length word announces, or a reason if no honest sender writes it. */
  static bodyLength(word: Uint8Array): number | string {
    const n = new DataView(word.buffer, word.byteOffset, 4).getUint32(0);
    return n < TAG_BYTES || n > MAX_BODY ? `bad record length ${n}` : n;
  }

  /** Opens `body` (ciphertext and tag) into `out` (MAX_RECORD bytes will do); the plaintext's
   * length, or a reason. */
  open(word: Uint8Array, body: Uint8Array, out: Uint8Array): number | string {
    const counter = this.#index++;
    return openInto(this.#key, { counter, aad: word, sealed: body, out }) ??
      "a file record failed authentication";
  }
}
