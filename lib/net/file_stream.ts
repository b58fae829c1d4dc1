/**
 * The TCP side of file transfer: the stream header, and a copy loop that moves bytes through a
 * small ring of reused 1 MiB buffers, hashing as it goes (a read/write loop like it matched socat
 * here; stream piping ran at 0.5-0.8×).
 *
 *   header (64 bytes): magic "CNF1", transfer id (8), offset u64, size u64, flags u8, 3 zeros,
 *     salt (32 bytes; zeros unless sealed)
 *   then size - offset bytes of the file, then the sender's SHA-256 of the whole file (32 bytes);
 *   with a passphrase (flag 1) those bytes travel as AEAD records (lib/crypto/records.ts).
 */
import type { Hash } from "node:crypto";
import {
  MAX_BODY,
  MAX_RECORD,
  RECORD_BYTES,
  RecordOpener,
  RecordSealer,
} from "../crypto/records.ts";
import { TAG_BYTES } from "../crypto/aead.ts";
import { fromHex, toHex } from "../bytes.ts";
import { type Clock, denoClock } from "./clock.ts";

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
export function watchdog(
  conn: { close(): void },
  ms: number,
  clock: Clock = denoClock,
): { touch(): void; stop(): void } {
  const close = () => conn.close();
  let timer = clock.setTimer(close, ms);
  return {
    touch() {
      clock.clearTimer(timer);
      timer = clock.setTimer(close, ms);
    },
    stop: () => clock.clearTimer(timer),
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
export async function hashPrefix(file: Reader, length: number, hash: Hash): Promise<boolean> {
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

/** Runs whole writes one after another on a stream whose writes may be partial (a socket), so a
 * copy loop may keep several in flight (Pump.depth). Each resolves once all its bytes are written;
 * after a failed one, the rest fail too. The caller keeps each buffer until its write resolves. */
export function queuedWriter(to: Writer): Writer {
  let last: Promise<unknown> = Promise.resolve();
  return {
    write(p) {
      const done = last.then(() => writeAll(to, p));
      last = done;
      return done.then(() => p.length);
    },
  };
}

/** A write into the page cache that takes longer than this (ms) means the kernel is holding the
 * writer back for a slower disk (dirty-page throttling pauses a writer for up to 200 ms). */
const SLOW_WRITE_MS = 20;

/** Writes the file being received. Writes run on the event loop: one of 1 MiB into the page cache
 * took 0.3 ms here, and Deno's asynchronous write (a hand-off to its thread pool and a dup of the
 * descriptor each time) cost the receiver 0.05 to 0.2 ms more CPU per MiB, 4 to 9% of sealed
 * throughput over loopback. Once a write is slow, the rest go through the thread pool, one after
 * another, so that a slow disk cannot hold up the chat. */
export function fileWriter(
  file: Writer & { writeSync(p: Uint8Array): number },
  slowMs = SLOW_WRITE_MS,
  clock: Clock = denoClock,
): Writer & { readonly slow: boolean } {
  let slow: Writer | undefined;
  return {
    get slow() {
      return slow !== undefined;
    },
    write(p) {
      if (slow) return slow.write(p);
      const start = clock.now();
      for (let rest = p; rest.length > 0;) rest = rest.subarray(file.writeSync(rest));
      if (clock.now() - start > slowMs) slow = queuedWriter(file);
      return Promise.resolve(p.length);
    },
  };
}

/** Writes chunks as sealed records of RECORD_BYTES, in order. Each chunk is sealed when it is
 * handed over, into one buffer of a small pool, and goes out in one write while the chunks before
 * it are still being written. */
export function sealedWriter(to: Writer, sealer: RecordSealer): Writer {
  const queue = queuedWriter(to);
  const free: Uint8Array[] = [];
  const sealedSize = (n: number) => n + Math.ceil(n / RECORD_BYTES) * (4 + TAG_BYTES);
  return {
    async write(p) {
      const size = sealedSize(p.length);
      let buf = free.pop();
      if (!buf || buf.length < size) buf = new Uint8Array(Math.max(size, sealedSize(CHUNK)));
      let at = 0;
      for (let o = 0; o < p.length; o += RECORD_BYTES) {
        at += sealer.seal(p.subarray(o, o + RECORD_BYTES), buf.subarray(at)).length;
      }
      try {
        await queue.write(buf.subarray(0, at));
      } finally {
        free.push(buf);
      }
      return p.length;
    },
  };
}

/** Reads sealed records and hands out their plaintext; a record that fails throws. It reads as
 * much as the socket has into a buffer of its own, and opens whole records from there straight
 * into the caller's buffer, as many as fit (the copy loops ask for 1 MiB); a record larger than
 * the caller asked for opens into a spare buffer and is handed out in parts. */
export function sealedReader(from: Reader, opener: RecordOpener): Reader {
  const buf = new Uint8Array(2 * (4 + MAX_BODY));
  let start = 0, end = 0, spare: Uint8Array | undefined, rest: Uint8Array = new Uint8Array();
  /** The body length of the next record if it is all in the buffer. */
  const whole = (): number | undefined => {
    if (end - start < 4) return undefined;
    const n = RecordOpener.bodyLength(buf.subarray(start, start + 4));
    if (typeof n === "string") throw new Error(n);
    return end - start >= 4 + n ? n : undefined;
  };
  const open = (n: number, out: Uint8Array): number => {
    const at = start + 4;
    const got = opener.open(buf.subarray(start, at), buf.subarray(at, at + n), out);
    if (typeof got === "string") throw new Error(got);
    start = at + n;
    return got;
  };
  return {
    async read(p) {
      if (rest.length === 0) {
        let n;
        while ((n = whole()) === undefined) {
          if (buf.length - start < 4 + MAX_BODY) {
            buf.copyWithin(0, start, end);
            [start, end] = [0, end - start];
          }
          const got = await from.read(buf.subarray(end));
          if (got === null) {
            if (start === end) return null;
            throw new Error("the stream ended inside a record");
          }
          end += got;
        }
        if (p.length >= n - TAG_BYTES) {
          let filled = open(n, p);
          while ((n = whole()) !== undefined && filled + n - TAG_BYTES <= p.length) {
            filled += open(n, p.subarray(filled));
          }
          return filled;
        }
        spare ??= new Uint8Array(MAX_RECORD);
        rest = spare.subarray(0, open(n, spare));
      }
      const n = Math.min(p.length, rest.length);
      p.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return n;
    },
  };
}

/** A copy loop whose reads and writes are always ready keeps the event loop from polling the
 * UDP socket: while a 1 GiB file moved at full speed, chat datagrams sat unread for up to 200 ms.
 * A turn (lib/net/turns.ts) at least this often (ms) lets them in; a socket turn costs 10 µs, so at
 * most 1% of the copy. Measured with 100 messages each way during sealed transfers: p50 9-22 ms
 * and up to 130 ms with no turns; timer turns every 10 ms, p50 7-8 ms and p99 36-61; socket turns
 * every 10 ms, p50 7-8 and p99 21-38; every 4 ms, 5-6 and 15-25; every chunk, 3-4 and 11-16, at
 * the same file throughput. */
const TURN_MS = 1;

export interface Pump {
  from: Reader;
  to: Writer;
  bytes: number;
  /** Fed every byte, unless absent. */
  hash?: Hash;
  onBytes: (n: number) => void;
  /** Writes in flight at once (default 1). More only for a writer that runs its writes in order,
   * each in one piece: a queuedWriter, a sealedWriter, or a file (Deno runs one handle's operations
   * one after another; a short write then fails the copy, since the writes queued behind it have
   * already gone). */
  depth?: number;
  /** Reads in flight at once (default 1). More only for a reader that serves them in order: a
   * file. */
  ahead?: number;
  /** Its turns of the event loop come from here (the real clock by default). */
  clock?: Clock;
}

/** Moves exactly `bytes` from one side to the other, hashing them; returns a reason on failure.
 * Up to `ahead` reads are in flight while a chunk is hashed and handed to the writer, and up to
 * `depth` writes, so no stage waits for another that has buffers to spare. */
export async function pump(p: Pump): Promise<string | undefined> {
  const depth = p.depth ?? 1, ahead = p.ahead ?? 1;
  // `ahead` being read, one being hashed, `depth` being written: chunk i is in bufs[i % length].
  const bufs = Array.from({ length: ahead + 1 + depth }, () => new Uint8Array(CHUNK));
  const put = depth === 1 ? writeAll : async (w: Writer, chunk: Uint8Array) => {
    if (await w.write(chunk) !== chunk.length) throw new Error("a write was cut short");
  };
  const reads: { n: Promise<number | null>; asked: number }[] = [];
  const writes: Promise<void>[] = [];
  let asked = 0, issued = 0;
  const readMore = () => {
    while (reads.length < ahead && asked < p.bytes) {
      const size = Math.min(CHUNK, p.bytes - asked);
      const n = p.from.read(bufs[issued++ % bufs.length].subarray(0, size));
      n.catch(() => {}); // awaited below; a copy that fails first must not leave it unhandled
      reads.push({ n, asked: size });
      asked += size;
    }
  };
  const turn = (p.clock ?? denoClock).turns(TURN_MS, { socket: true });
  try {
    readMore();
    for (let left = p.bytes, i = 0; left > 0; i++) {
      const read = reads.shift()!;
      const n = await read.n;
      if (n === null) return "the stream ended early";
      asked -= read.asked - n; // a short read: the rest is asked for again
      const chunk = bufs[i % bufs.length].subarray(0, n);
      left -= n;
      readMore();
      p.hash?.update(chunk);
      // The turn runs while the oldest write finishes.
      await Promise.all([turn.take(), writes.length === depth ? writes.shift() : undefined]);
      const w = put(p.to, chunk);
      w.catch(() => {}); // awaited above or below
      writes.push(w);
      p.onBytes(n);
    }
  } finally {
    turn.stop();
    await Promise.all(writes);
  }
  return undefined;
}
