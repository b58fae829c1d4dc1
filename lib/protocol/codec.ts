/**
 * The datagram format. All integers are big-endian.
 *
 *   0  magic "CN"        2  version        3  type
 *   4  flags: bit 0 FLAG_ACK; bits 1-3 the sender's receive buffer class k: its peer may keep
 *      MAX_FLIGHT_BYTES·2^k in flight to it (0 from a release that did not say)
 *   5  loss (inbound loss seen by the sender, /255)  6  SACK range count  7  segment count
 *   8  source epoch      12 destination epoch (0 = not known yet)
 *   16 packet number (counts datagrams, for loss estimation)
 *   20 cumulative ACK (next sequence number expected; valid with FLAG_ACK)
 *   24 timestamp: the sender's clock in units of 10 µs (never 0)
 *   28 timestamp echo: the last timestamp received from the peer (0 = none), as RFC 7323
 *   32 durable: every sequence number below it is stored on the sender's disk (with FLAG_ACK);
 *      the ACK says a segment arrived, this says the peer may forget it
 *   36 SACK ranges: start u32, end u32 (exclusive), each
 *   .. segments: seq u32, frg u16 (fragments still to come), length u16, data
 *   -4 CRC32C of everything before it
 *
 * Decoding never throws: a malformed datagram comes back as a reason.
 */
import { crc32c } from "./crc32c.ts";
import { allocBytes, copyBytes } from "../bytes.ts";
import { MAX_DATAGRAM, MAX_PACKET, MAX_SACK_RANGES, SEAL_OVERHEAD } from "./constants.ts";

export const MAGIC = 0x434e;
/** 3: a sealed file stream's trailer carries the sender's SHA-256 (lib/files/transfers.ts). */
export const VERSION = 3;
export const HEADER_SIZE = 36;
export const SACK_SIZE = 8;
export const SEGMENT_HEADER_SIZE = 8;
export const CRC_SIZE = 4;
/** Data bytes one segment may carry, leaving room for a full header and SACK list. */
export const MAX_SEGMENT_DATA = MAX_PACKET - HEADER_SIZE - MAX_SACK_RANGES * SACK_SIZE -
  SEGMENT_HEADER_SIZE - CRC_SIZE;

export const PacketType = { data: 1, hello: 2, bye: 3 } as const;
export type PacketType = typeof PacketType[keyof typeof PacketType];

/** The ack/sack fields are meaningful. */
export const FLAG_ACK = 1;
/** Where the receive buffer class sits in the flags, and its largest value. */
export const BUFFER_CLASS_SHIFT = 1;
export const MAX_BUFFER_CLASS = 7;

export interface Segment {
  seq: number;
  frg: number;
  data: Uint8Array;
}

export interface Packet {
  type: PacketType;
  flags: number;
  loss: number;
  srcEpoch: number;
  dstEpoch: number;
  pn: number;
  ack: number;
  ts: number;
  echo: number;
  durable: number;
  sacks: [number, number][];
  segments: Segment[];
}

export type Decoded = { packet: Packet } | { reason: string };

/**
 * A sealed datagram (with a passphrase): an outer header, then a whole encoded packet (CRC
 * included) encrypted with ChaCha20-Poly1305, whose tag ends the datagram. The header is the AAD.
 *   0 magic "CN"  2 version  3 type 4 (sealed)  4 zeros  8 source epoch  12 destination epoch
 *   16 nonce counter u64  24 ciphertext  -16 tag
 */
export const SEALED = 4;
export const SEALED_HEADER = 24;

export function sealedHeader(src: number, dst: number, counter: bigint): Uint8Array {
  const h = new Uint8Array(SEALED_HEADER);
  const v = new DataView(h.buffer);
  v.setUint16(0, MAGIC);
  h[2] = VERSION;
  h[3] = SEALED;
  v.setUint32(8, src);
  v.setUint32(12, dst);
  v.setBigUint64(16, counter);
  return h;
}

export interface SealedParts {
  src: number;
  dst: number;
  counter: bigint;
  header: Uint8Array;
  body: Uint8Array;
}

export function isSealed(bytes: Uint8Array): boolean {
  return bytes.length > 3 && bytes[3] === SEALED;
}

export function parseSealed(bytes: Uint8Array): SealedParts | { reason: string } {
  if (bytes.length < SEALED_HEADER + SEAL_OVERHEAD - SEALED_HEADER) return { reason: "too short" };
  if (bytes.length > MAX_DATAGRAM) return { reason: "too long" };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint16(0) !== MAGIC) return { reason: "bad magic" };
  if (bytes[2] !== VERSION) return { reason: `unsupported version ${bytes[2]}` };
  if (v.getUint32(4) !== 0) return { reason: "bad sealed header" };
  return {
    src: v.getUint32(8),
    dst: v.getUint32(12),
    counter: v.getBigUint64(16),
    header: bytes.subarray(0, SEALED_HEADER),
    body: bytes.subarray(SEALED_HEADER),
  };
}

export function encodedSize(sackCount: number, segments: readonly Segment[]): number {
  let size = HEADER_SIZE + sackCount * SACK_SIZE + CRC_SIZE;
  for (const s of segments) size += SEGMENT_HEADER_SIZE + s.data.length;
  return size;
}

export function encode(p: Packet): Uint8Array {
  if (p.sacks.length > MAX_SACK_RANGES || p.segments.length > 255) {
    throw new RangeError("Cannot encode packet: too many SACK ranges or segments");
  }
  const out = allocBytes(encodedSize(p.sacks.length, p.segments));
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint16(0, MAGIC);
  out[2] = VERSION;
  out[3] = p.type;
  out[4] = p.flags;
  out[5] = p.loss;
  out[6] = p.sacks.length;
  out[7] = p.segments.length;
  v.setUint32(8, p.srcEpoch);
  v.setUint32(12, p.dstEpoch);
  v.setUint32(16, p.pn);
  v.setUint32(20, p.ack);
  v.setUint32(24, p.ts);
  v.setUint32(28, p.echo);
  v.setUint32(32, p.durable);
  let o = HEADER_SIZE;
  for (const [start, end] of p.sacks) {
    v.setUint32(o, start);
    v.setUint32(o + 4, end);
    o += SACK_SIZE;
  }
  for (const s of p.segments) {
    v.setUint32(o, s.seq);
    v.setUint16(o + 4, s.frg);
    v.setUint16(o + 6, s.data.length);
    out.set(s.data, o + SEGMENT_HEADER_SIZE);
    o += SEGMENT_HEADER_SIZE + s.data.length;
  }
  v.setUint32(o, crc32c(out, 0, o));
  return out;
}

/** Decodes one datagram. Segment data is copied, so the caller may reuse its buffer. */
export function decode(bytes: Uint8Array): Decoded {
  if (bytes.length < HEADER_SIZE + CRC_SIZE) return { reason: "too short" };
  if (bytes.length > MAX_DATAGRAM) return { reason: "too long" };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - CRC_SIZE;
  if (v.getUint32(end) !== crc32c(bytes, 0, end)) return { reason: "bad checksum" };
  if (v.getUint16(0) !== MAGIC) return { reason: "bad magic" };
  if (bytes[2] !== VERSION) return { reason: `unsupported version ${bytes[2]}` };
  const type = bytes[3];
  if (type < PacketType.data || type > PacketType.bye) return { reason: `unknown type ${type}` };
  const sackCount = bytes[6];
  if (sackCount > MAX_SACK_RANGES) return { reason: "too many SACK ranges" };
  let o = HEADER_SIZE;
  if (o + sackCount * SACK_SIZE > end) return { reason: "truncated SACK list" };
  const sacks: [number, number][] = [];
  for (let i = 0; i < sackCount; i++, o += SACK_SIZE) {
    sacks.push([v.getUint32(o), v.getUint32(o + 4)]);
  }
  const segments: Segment[] = [];
  for (let i = 0; i < bytes[7]; i++) {
    if (o + SEGMENT_HEADER_SIZE > end) return { reason: "truncated segment header" };
    const len = v.getUint16(o + 6);
    const start = o + SEGMENT_HEADER_SIZE;
    if (start + len > end) return { reason: "segment longer than datagram" };
    segments.push({
      seq: v.getUint32(o),
      frg: v.getUint16(o + 4),
      data: copyBytes(bytes.subarray(start, start + len)),
    });
    o = start + len;
  }
  if (o !== end) return { reason: "trailing bytes" };
  return {
    packet: {
      type: type as PacketType,
      flags: bytes[4],
      loss: bytes[5],
      srcEpoch: v.getUint32(8),
      dstEpoch: v.getUint32(12),
      pn: v.getUint32(16),
      ack: v.getUint32(20),
      ts: v.getUint32(24),
      echo: v.getUint32(28),
      durable: v.getUint32(32),
      sacks,
      segments,
    },
  };
}
