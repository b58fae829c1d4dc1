/** Byte helpers shared by the protocol, the crypto and the interfaces. Pure, apart from drawing
 * random bytes from WebCrypto. */

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The bytes of an even-length hex string (callers pass only hex they made or checked). */
export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from({ length: hex.length >> 1 }, (_, i) => parseInt(hex.substr(2 * i, 2), 16));
}

/** `n` random bytes as hex: transfer ids, the web token. */
export function randomHex(n: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(n)));
}

/** A random 32-bit id that is never 0 (0 means "not known yet" on the wire): epochs, origins. */
export function randomId32(): number {
  const [n] = crypto.getRandomValues(new Uint32Array(1));
  return n || 1;
}

/** Compares without an early exit, so timing does not tell how much of a secret matched. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const encoder = new TextEncoder();

/** Writes all of `data` (a single writeSync may take only part of it). */
export function writeAllSync(w: { writeSync(p: Uint8Array): number }, data: string | Uint8Array) {
  let bytes = typeof data === "string" ? encoder.encode(data) : data;
  while (bytes.length > 0) bytes = bytes.subarray(w.writeSync(bytes));
}
