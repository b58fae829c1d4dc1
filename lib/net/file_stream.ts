/**
 * The TCP side of file transfer: the stream header, and loops that move bytes with one reused
 * 1 MiB buffer, hashing as they go (measured here to match socat; stream piping ran at 0.5-0.8×).
 *
 *   header (64 bytes): magic "CNF1", transfer id (8), offset u64, size u64, flags u8, 3 zeros,
 *     salt (32 bytes; zeros unless sealed)
 *   then size - offset bytes of the file, then its SHA-256 (32 bytes); with a passphrase (flag 1)
 *   those bytes travel as AEAD records (lib/crypto/records.ts).
 */
import type { Hash } from "node:crypto";
import { MAX_BODY, MAX_RECORD, RecordOpener, RecordSealer } from "../crypto/records.ts";
import { fromHex, toHex } from "../bytes.ts";
import { turns } from "../turns.ts";

export const HEADER_BYTES = 64;
export const TRAILER_BYTES = 32;
export const CHUNK = 1 << 20;
const MAGIC = [0x43, 0x4e, 0x46, 0x31]; // "CNF1"

export interface StreamHeader {
  id: string;
  offset: number;
  size: number;
  /** Present when the stream is sealed: the random salt of its key. */
  salt?: Uint8Array;
}

const FLAG_SEALED = 1;

export function encodeHeader(h: StreamHeader): Uint8Array {
  const b = new Uint8Array(HEADER_BYTES);
  const v = new DataView(b.buffer);
  b.set(MAGIC, 0);
  b.set(fromHex(h.id).subarray(0, 8), 4);
  v.setBigUint64(12, BigInt(h.offset));
  v.setBigUint64(20, BigInt(h.size));
  if (h.salt) {
    b[28] = FLAG_SEALED;
    b.set(h.salt.subarray(0, 32), 32);
  }
  return b;
}

export function decodeHeader(b: Uint8Array): StreamHeader | string {
  if (b.length !== HEADER_BYTES) return "short header";
  if (MAGIC.some((m, i) => b[i] !== m)) return "bad magic";
  const sealed = b[28] === FLAG_SEALED;
  if (b.subarray(sealed ? 29 : 28, sealed ? 32 : 64).some((x) => x !== 0)) {
    return "bad header padding";
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const offset = v.getBigUint64(12), size = v.getBigUint64(20);
  if (size > BigInt(Number.MAX_SAFE_INTEGER) || offset > size) return "bad offset or size";
  const id = toHex(b.subarray(4, 12));
  const h = { id, offset: Number(offset), size: Number(size) };
  return sealed ? { ...h, salt: b.slice(32, 64) } : h;
}

/** Closes a connection that sees no progress for `ms`; `touch()` on every read or write. */
export function watchdog(conn: Deno.Conn, ms: number): { touch(): void; stop(): void } {
  let timer = setTimeout(() => conn.close(), ms);
  return {
    touch() {
      clearTimeout(timer);
      timer = setTimeout(() => conn.close(), ms);
    },
    stop: () => clearTimeout(timer),
  };
}

/** Writes every byte (a single write may take only part of the buffer). */
export async function writeAll(w: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  while (data.length > 0) data = data.subarray(await w.write(data));
}

/** Fills `buf` completely; false if the stream ends first. */
export async function readExactly(r: Reader, buf: Uint8Array): Promise<boolean> {
  for (let got = 0; got < buf.length;) {
    const n = await r.read(buf.subarray(got));
    if (n === null) return false;
    got += n;
  }
  return true;
}

/** Feeds `length` bytes of `file` from its current position into `hash`; false if it is shorter. */
export async function hashPrefix(file: Deno.FsFile, length: number, hash: Hash): Promise<boolean> {
  const buf = new Uint8Array(CHUNK);
  for (let left = length; left > 0;) {
    const n = await file.read(buf.subarray(0, Math.min(CHUNK, left)));
    if (n === null) return false;
    hash.update(buf.subarray(0, n));
    left -= n;
  }
  return true;
}

export interface Reader {
  read(p: Uint8Array): Promise<number | null>;
}
export interface Writer {
  write(p: Uint8Array): Promise<number>;
}

/** Writes chunks as sealed records of at most MAX_RECORD, in order, each in one write. */
export function sealedWriter(to: Writer, sealer: RecordSealer): Writer {
  return {
    async write(p) {
      for (let o = 0; o < p.length; o += MAX_RECORD) {
        await writeAll(to, sealer.seal(p.subarray(o, o + MAX_RECORD)));
      }
      return p.length;
    },
  };
}

/** Reads sealed records and hands out their plaintext; a record that fails throws. Records are
 * opened into two buffers in turn, so a view stays valid while the next record is read. */
export function sealedReader(from: Reader, opener: RecordOpener): ViewReader {
  const word = new Uint8Array(4), body = new Uint8Array(MAX_BODY);
  const plain = [new Uint8Array(MAX_RECORD), new Uint8Array(MAX_RECORD)];
  let rest: Uint8Array = new Uint8Array(), turn = 0;
  const view = async (max: number): Promise<Uint8Array | null> => {
    if (rest.length === 0) {
      if (!await readExactly(from, word)) return null;
      const n = RecordOpener.bodyLength(word);
      if (typeof n === "string") throw new Error(n);
      if (!await readExactly(from, body.subarray(0, n))) {
        throw new Error("the stream ended inside a record");
      }
      turn ^= 1;
      const got = opener.open(word, body.subarray(0, n), plain[turn]);
      if (typeof got === "string") throw new Error(got);
      rest = plain[turn].subarray(0, got);
    }
    const out = rest.subarray(0, max);
    rest = rest.subarray(out.length);
    return out;
  };
  return {
    view,
    async read(p) {
      const got = await view(p.length);
      if (got) p.set(got);
      return got && got.length;
    },
  };
}

/** A reader that can also lend out its own bytes (no copy), valid until the call after next. */
export interface ViewReader extends Reader {
  view(max: number): Promise<Uint8Array | null>;
}

/** A copy loop whose reads and writes are always ready keeps the event loop from polling the
 * UDP socket: while a 1 GiB file moved at full speed, chat datagrams sat unread for up to 200 ms.
 * A timer turn (lib/turns.ts) at least this often (ms) lets them in. Measured with 100 messages
 * each way during sealed transfers: p50 9-22 ms and up to 130 ms before; with a turn every 10 ms,
 * p50 9 ms and none over 41 ms (every 5 ms: 6 ms and none over 40, but file throughput looked
 * 5-10% lower). */
const TURN_MS = 10;

export interface Pump {
  from: Reader | ViewReader;
  to: Writer;
  bytes: number;
  /** Fed every byte, unless absent. */
  hash?: Hash;
  onBytes: (n: number) => void;
}

/** Moves exactly `bytes` from one side to the other, hashing them; returns a reason on failure.
 * Two buffers alternate (or a ViewReader lends its own), so the next read is in flight while the
 * last chunk is written. */
export async function pump(p: Pump): Promise<string | undefined> {
  const bufs = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)];
  let writing: Promise<void> = Promise.resolve();
  const turn = turns(TURN_MS);
  try {
    for (let left = p.bytes, i = 0; left > 0; i ^= 1) {
      const max = Math.min(CHUNK, left);
      const chunk = "view" in p.from
        ? await p.from.view(max)
        : await p.from.read(bufs[i].subarray(0, max)).then((n) =>
          n === null ? n : bufs[i].subarray(0, n)
        );
      if (chunk === null) return "the stream ended early";
      const n = chunk.length;
      p.hash?.update(chunk);
      await turn.take();
      await writing;
      writing = writeAll(p.to, chunk);
      // Handled here so a failed write cannot be an unhandled rejection; awaited above.
      writing.catch(() => {});
      left -= n;
      p.onBytes(n);
    }
  } finally {
    await writing;
  }
  return undefined;
}
