/**
 * File streams over the reliable UDP session, for when the peer's TCP file port cannot be reached.
 * A stream carries exactly what a TCP connection would (the 64-byte header, the file's bytes, the
 * SHA-256 trailer; lib/net/file_stream.ts), cut into frames of one datagram each, which ride the
 * session's one ordered stream as application messages of kind 3 (lib/app_message.ts). With a
 * passphrase they travel inside the session's sealed datagrams like everything else.
 *
 *   frame: kind 3, type u8, transfer id (8 bytes), stream number u32, then
 *     open: nothing · data: stream bytes · fin: nothing · credit: u64 bytes consumed ·
 *     reset: a reason (UTF-8)
 *
 * Chat goes first. File frames wait in a queue of their own and are handed to the session only
 * when it has nothing unsent (feed()), one datagram at a time, so a chat line typed during a
 * transfer is queued behind at most one file datagram; retransmission, pacing and the window (the
 * session's congestion control) apply to file frames as to any message.
 * Memory stays flat: a sender has at most STREAM_WINDOW bytes past what the receiver has consumed
 * (it reports that in credit frames), and a receiver that is sent more resets the stream.
 */
import { MAX_SEGMENT_DATA } from "../protocol/codec.ts";
import { allocBytes, fromHex, randomId32, toHex } from "../bytes.ts";
import type { Reader, Writer } from "../net/file_stream.ts";
import { KIND_FILE } from "../app_message.ts";

const FrameType = { open: 1, data: 2, fin: 3, credit: 4, reset: 5 } as const;
type FrameType = typeof FrameType[keyof typeof FrameType];
const FRAME_HEADER = 14;
/** Stream bytes in one frame: a frame fills one segment, and so one datagram. */
export const FRAME_DATA = MAX_SEGMENT_DATA - FRAME_HEADER;
/** Bytes a sender may have sent past what the receiver consumed. Over the session's 20-40 MB/s
 * this is 50-100 ms of data, many round trips even with a busy receiver; and it bounds what a
 * receiver buffers (whose disk may be slower than the network). */
export const STREAM_WINDOW = 2 * 2 ** 20;
/** A receiver reports what it consumed each time this much more is consumed. */
const CREDIT_STEP = STREAM_WINDOW / 8;
/** A waiting read is answered once this much is there (or the stream ends, or BATCH_MS passed):
 * answering each 1 KiB frame would make a file write and a copy-loop round of each. */
const READ_BATCH = 128 * 1024;
const BATCH_MS = 2;
/** Reset reasons are labels: kept short. */
const MAX_REASON = 200;

export interface Frame {
  type: FrameType;
  id: string;
  stream: number;
  data?: Uint8Array;
  consumed?: number;
  reason?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeFrame(f: Frame): Uint8Array {
  const body = f.type === FrameType.data
    ? f.data!
    : f.type === FrameType.reset
    ? encoder.encode((f.reason ?? "").slice(0, MAX_REASON))
    : f.type === FrameType.credit
    ? new Uint8Array(8)
    : new Uint8Array();
  const out = new Uint8Array(FRAME_HEADER + body.length);
  out.set(frameHeader(f.type, f.id, f.stream));
  if (f.type === FrameType.credit) {
    new DataView(out.buffer).setBigUint64(FRAME_HEADER, BigInt(f.consumed!));
  } else out.set(body, FRAME_HEADER);
  return out;
}

/** The first FRAME_HEADER bytes of a frame. */
function frameHeader(type: FrameType, id: string, stream: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER);
  h[0] = KIND_FILE;
  h[1] = type;
  h.set(fromHex(id).subarray(0, 8), 2);
  new DataView(h.buffer).setUint32(10, stream);
  return h;
}

/** Whether frame `b` carries the transfer id and stream number of `header` (another frame's). */
function names(b: Uint8Array, header: Uint8Array): boolean {
  for (let i = 2; i < FRAME_HEADER; i++) if (b[i] !== header[i]) return false;
  return true;
}

/** A frame, or why it is not one. */
export function decodeFrame(b: Uint8Array): Frame | string {
  if (b.length < FRAME_HEADER || b[0] !== KIND_FILE) return "short file frame";
  const type = b[1] as FrameType;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const head = { type, id: toHex(b.subarray(2, 10)), stream: v.getUint32(10) };
  const body = b.subarray(FRAME_HEADER);
  switch (type) {
    case FrameType.open:
    case FrameType.fin:
      return body.length === 0 ? head : "file frame with trailing bytes";
    case FrameType.data:
      return body.length > 0 && body.length <= FRAME_DATA ? { ...head, data: body } : "bad data";
    case FrameType.credit: {
      if (body.length !== 8) return "bad credit";
      const consumed = v.getBigUint64(FRAME_HEADER);
      if (consumed > BigInt(Number.MAX_SAFE_INTEGER)) return "bad credit";
      return { ...head, consumed: Number(consumed) };
    }
    case FrameType.reset:
      return { ...head, reason: decoder.decode(body).slice(0, MAX_REASON) };
    default:
      return `unknown file frame type ${type}`;
  }
}

function streamOf(b: Uint8Array): number {
  return ((b[10] << 24) | (b[11] << 16) | (b[12] << 8) | b[13]) >>> 0;
}

/** What the channel needs of the session. */
export interface SessionPort {
  /** Queues a message on the reliable stream, behind whatever is queued. */
  send(message: Uint8Array): void;
  /** Segments queued and not yet transmitted. */
  unsent(): number;
  /** Transmits what the window and pacing let go now. */
  flush(): void;
}

/** The sending end: a Writer whose writes resolve once their bytes are handed to the session. */
export interface UdpOutStream extends Writer {
  closeWrite(): Promise<void>;
  close(): void;
}

/** The receiving end: a Reader of the stream's bytes. */
export interface UdpInStream extends Reader {
  readonly id: string;
  close(): void;
}

export interface ChannelOptions {
  port: SessionPort;
  /** How the read batch waits: the clock's timer (default setTimeout). */
  later?: (fn: () => void, ms: number) => void;
}

export class UdpFiles {
  #o: ChannelOptions;
  #out: OutStream[] = [];
  #next = 0;
  #in = new Map<number, InStream>();
  #onIncoming: (s: UdpInStream) => void = (s) => s.close();
  #feeding = false;
  counts = { malformed: 0, unknown: 0, overrun: 0 };

  constructor(options: ChannelOptions) {
    this.#o = options;
  }

  /** Streams opened by the peer are handed here. */
  onIncoming(handler: (s: UdpInStream) => void): void {
    this.#onIncoming = handler;
  }

  /** Opens a stream for transfer `id` towards the peer. */
  open(id: string): UdpOutStream {
    const s = new OutStream(this, id, randomId32());
    this.#out.push(s);
    this.send({ type: FrameType.open, id, stream: s.stream });
    return s;
  }

  /** Streams either way still open. */
  get streams(): number {
    return this.#out.length + this.#in.size;
  }

  /** A file frame from the peer. */
  onFrame(bytes: Uint8Array): void {
    // The bulk of them, taken without decoding: data for a stream we have.
    if (bytes[1] === FrameType.data && bytes.length > FRAME_HEADER && bytes[0] === KIND_FILE) {
      const s = this.#in.get(streamOf(bytes));
      if (s && bytes.length <= FRAME_HEADER + FRAME_DATA && names(bytes, s.header)) {
        if (!s.push(bytes.subarray(FRAME_HEADER))) {
          this.counts.overrun++;
          s.close("sent past its window");
        }
        return;
      }
    }
    const f = decodeFrame(bytes);
    if (typeof f === "string") return void this.counts.malformed++;
    if (f.type === FrameType.credit || f.type === FrameType.reset) {
      const s = this.#out.find((s) => s.stream === f.stream && s.id === f.id);
      if (!s) return void this.counts.unknown++;
      if (f.type === FrameType.credit) s.onCredit(f.consumed!);
      else s.fail(new Error(`the peer closed the stream: ${f.reason}`));
      return this.feed();
    }
    if (f.type === FrameType.open) {
      if (this.#in.has(f.stream)) return void this.counts.malformed++;
      const s = new InStream(this, f.id, f.stream, this.#o.later ?? setTimeout);
      this.#in.set(f.stream, s);
      return this.#onIncoming(s);
    }
    const s = this.#in.get(f.stream);
    if (!s || s.id !== f.id) {
      this.counts.unknown++;
      // A stream we no longer have (closed, or from before a restart): tell the sender to stop.
      if (f.type === FrameType.data) {
        this.send({ type: FrameType.reset, id: f.id, stream: f.stream, reason: "unknown stream" });
      }
      return;
    }
    if (f.type === FrameType.fin) return s.end();
    if (!s.push(f.data!)) {
      this.counts.overrun++;
      s.close("sent past its window");
    }
  }

  /** Hands file frames to the session while it has nothing unsent: called after every datagram
   * and timer of the session, and when a stream gets bytes or credit. */
  feed(): void {
    if (this.#feeding) return;
    this.#feeding = true;
    try {
      const port = this.#o.port;
      while (this.#out.length > 0 && port.unsent() === 0) {
        const s = this.#pick();
        if (!s) return;
        const f = s.take();
        if (f[1] === FrameType.fin) this.dropOut(s);
        port.send(f);
        if (port.unsent() > 0) port.flush();
      }
    } finally {
      this.#feeding = false;
    }
  }

  /** The peer went away or came back as a new process: every stream fails, as a TCP connection
   * would, and each transfer is offered again (resuming from its .part). */
  reset(reason: string): void {
    for (const s of [...this.#out]) s.fail(new Error(reason));
    for (const s of [...this.#in.values()]) s.fail(new Error(reason));
  }

  /** Round robin among the streams with something to send now. */
  #pick(): OutStream | undefined {
    for (let i = 0; i < this.#out.length; i++) {
      const s = this.#out[(this.#next + i) % this.#out.length];
      if (s.ready()) {
        this.#next = (this.#next + i + 1) % this.#out.length;
        return s;
      }
    }
    return undefined;
  }

  // ---- for the streams ----

  send(f: Frame): void {
    this.#o.port.send(encodeFrame(f));
  }

  dropOut(s: OutStream): void {
    const i = this.#out.indexOf(s);
    if (i >= 0) this.#out.splice(i, 1);
  }

  dropIn(s: InStream): void {
    if (this.#in.get(s.stream) === s) this.#in.delete(s.stream);
  }
}

interface Chunk {
  data: Uint8Array;
  at: number;
  resolve: (n: number) => void;
  reject: (e: Error) => void;
}

class OutStream implements UdpOutStream {
  #ch: UdpFiles;
  #chunks: Chunk[] = [];
  /** Stream bytes handed to the session, and how far the receiver lets us go. */
  #sent = 0;
  #limit = STREAM_WINDOW;
  #fin = false;
  #error: Error | undefined;
  /** The header of its data frames. */
  #header: Uint8Array;

  constructor(channel: UdpFiles, readonly id: string, readonly stream: number) {
    this.#ch = channel;
    this.#header = frameHeader(FrameType.data, id, stream);
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#fin) return Promise.reject(new Error("the stream is closed for writing"));
    if (p.length === 0) return Promise.resolve(0);
    const done = new Promise<number>((resolve, reject) => {
      this.#chunks.push({ data: p, at: 0, resolve, reject });
    });
    this.#ch.feed();
    return done;
  }

  /** The FIN goes after the last byte; the stream then closes itself. */
  closeWrite(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    this.#fin = true;
    this.#ch.feed();
    return Promise.resolve();
  }

  /** After closeWrite the queued bytes and the FIN still go; before it, the stream is reset. */
  close(): void {
    if (this.#fin || this.#error) return;
    this.fail(new Error("the stream was closed"));
    this.#ch.send({ type: FrameType.reset, id: this.id, stream: this.stream, reason: "closed" });
  }

  ready(): boolean {
    if (this.#error) return false;
    if (this.#chunks.length > 0) return this.#sent < this.#limit;
    return this.#fin;
  }

  /** The next frame, encoded: up to FRAME_DATA bytes (copied: the writer reuses its buffer once
   * its write resolves, and the session keeps the bytes until they are acknowledged), or the FIN. */
  take(): Uint8Array {
    const c = this.#chunks[0];
    if (!c) return encodeFrame({ type: FrameType.fin, id: this.id, stream: this.stream });
    const n = Math.min(FRAME_DATA, c.data.length - c.at, this.#limit - this.#sent);
    const frame = allocBytes(FRAME_HEADER + n);
    frame.set(this.#header);
    frame.set(c.data.subarray(c.at, c.at + n), FRAME_HEADER);
    c.at += n;
    this.#sent += n;
    if (c.at === c.data.length) {
      this.#chunks.shift();
      c.resolve(c.data.length);
    }
    return frame;
  }

  onCredit(consumed: number): void {
    if (consumed <= this.#sent) this.#limit = Math.max(this.#limit, consumed + STREAM_WINDOW);
  }

  fail(e: Error): void {
    if (this.#error) return;
    this.#error = e;
    for (const c of this.#chunks.splice(0)) c.reject(e);
    this.#ch.dropOut(this);
  }
}

class InStream implements UdpInStream {
  #ch: UdpFiles;
  #later: (fn: () => void, ms: number) => void;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #consumed = 0;
  #credited = 0;
  #ended = false;
  #error: Error | undefined;
  #waiting:
    | { p: Uint8Array; resolve: (n: number | null) => void; reject: (e: Error) => void }
    | undefined;
  #timer = false;
  /** The header of its data frames. */
  readonly header: Uint8Array;

  constructor(
    channel: UdpFiles,
    readonly id: string,
    readonly stream: number,
    later: (fn: () => void, ms: number) => void,
  ) {
    this.#ch = channel;
    this.#later = later;
    this.header = frameHeader(FrameType.data, id, stream);
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#waiting) return Promise.reject(new Error("one read at a time"));
    return new Promise((resolve, reject) => {
      this.#waiting = { p, resolve, reject };
      this.#answer(false);
    });
  }

  /** Closes the stream from this end: the sender is told to stop. */
  close(reason = "closed"): void {
    if (this.#ended && this.#queued === 0) return this.#ch.dropIn(this);
    if (this.#error) return;
    this.fail(new Error("the stream was closed"));
    this.#ch.send({ type: FrameType.reset, id: this.id, stream: this.stream, reason });
  }

  /** False if the sender went past its window. */
  push(data: Uint8Array): boolean {
    if (this.#error || this.#ended) return true;
    this.#queue.push(data);
    this.#queued += data.length;
    if (this.#consumed + this.#queued > this.#credited + STREAM_WINDOW) return false;
    this.#answer(false);
    return true;
  }

  end(): void {
    this.#ended = true;
    this.#answer(false);
  }

  fail(e: Error): void {
    if (this.#error) return;
    this.#error = e;
    this.#queue = [];
    this.#queued = 0;
    this.#ch.dropIn(this);
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.reject(e);
  }

  /** Answers the waiting read if there is enough, the stream ended, or (`timed`) the batch wait
   * is over; otherwise starts that wait. */
  #answer(timed: boolean): void {
    const w = this.#waiting;
    if (!w) return;
    if (this.#error) return this.fail(this.#error);
    const enough = this.#queued >= Math.min(w.p.length, READ_BATCH);
    if (!enough && !this.#ended && !(timed && this.#queued > 0)) {
      if (this.#queued > 0 && !this.#timer) {
        this.#timer = true;
        this.#later(() => {
          this.#timer = false;
          this.#answer(true);
        }, BATCH_MS);
      }
      return;
    }
    this.#waiting = undefined;
    if (this.#queued === 0) {
      this.#ch.dropIn(this);
      return w.resolve(null);
    }
    let n = 0;
    while (n < w.p.length && this.#queue.length > 0) {
      const head = this.#queue[0];
      const k = Math.min(head.length, w.p.length - n);
      w.p.set(head.subarray(0, k), n);
      n += k;
      if (k === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(k);
    }
    this.#queued -= n;
    this.#consumed += n;
    if (this.#consumed - this.#credited >= CREDIT_STEP) {
      this.#credited = this.#consumed;
      this.#ch.send({
        type: FrameType.credit,
        id: this.id,
        stream: this.stream,
        consumed: this.#consumed,
      });
    }
    w.resolve(n);
  }
}
