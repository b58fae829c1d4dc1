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

/** Bytes handed out from slabs: a view of a large buffer costs a third of a fresh ArrayBuffer of a
 * kilobyte (0.2 µs against 0.5 to 1.2 µs here, and less work for the collector), and the datagram
 * path makes several a datagram. A slab is never reused: it is freed once no view of it is left,
 * so a view may be kept as long as any Uint8Array. For short-lived or bulk bytes only: one view
 * kept for long keeps its whole slab. */
const SLAB_BYTES = 256 * 1024;
/** Larger requests get buffers of their own. */
const SLAB_MAX = 16 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabAt = 0;

/** `n` zeroed bytes (from a slab when small). */
export function allocBytes(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabAt + n > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabAt = 0;
  }
  const out = slab.subarray(slabAt, slabAt + n);
  // Keeps views 8-byte aligned, so each starts a fresh cache line share and a Float64 fits.
  slabAt += (n + 7) & ~7;
  return out;
}

/** A copy of `bytes` (from a slab when small). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = allocBytes(bytes.length);
  out.set(bytes);
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
/** Reused by utf8Scratch; texts longer than SCRATCH_MAX / 3 get bytes of their own. */
let scratch = new Uint8Array(16 * 1024);
const SCRATCH_MAX = 1024 * 1024;

/** The UTF-8 bytes of `text`, in a buffer that the next call reuses: for bytes used at once (a
 * write, a checksum). TextEncoder.encode allocates every time and costs a slower call into the
 * runtime; with journal records, history lines and events it was a quarter of a sender's CPU in a
 * burst of chat messages (profiled). */
export function utf8Scratch(text: string): Uint8Array {
  // UTF-8 takes at most three bytes per UTF-16 code unit.
  const most = text.length * 3;
  if (most > scratch.length) {
    if (most > SCRATCH_MAX) return encoder.encode(text);
    scratch = new Uint8Array(most);
  }
  return scratch.subarray(0, encoder.encodeInto(text, scratch).written);
}

/** Writes all of `data` (a single writeSync may take only part of it). `w` must not keep the bytes
 * it is handed: text goes through utf8Scratch's reused buffer. */
export function writeAllSync(w: { writeSync(p: Uint8Array): number }, data: string | Uint8Array) {
  let bytes = typeof data === "string" ? utf8Scratch(data) : data;
  while (bytes.length > 0) bytes = bytes.subarray(w.writeSync(bytes));
}

/** "2 empty folders and 1 link": the counts that are not zero, each singular or plural, joined
 * with "and" ("" when all are zero). */
export function countsText(items: [n: number, one: string, many: string][]): string {
  return items.filter(([n]) => n > 0)
    .map(([n, one, many]) => n === 1 ? `1 ${one}` : `${n.toLocaleString("en")} ${many}`)
    .join(" and ");
}

/** A byte count for people: "1,048,494 bytes". */
export function bytesText(n: number): string {
  return `${n.toLocaleString("en")} bytes`;
}
