/**
 * File transfers in both directions. Negotiation rides the reliable chat stream (offer → accept
 * or decline → done); bytes ride TCP (lib/net/file_stream.ts) or, when TCP cannot connect, the
 * UDP session (lib/files/route.ts, udp_stream.ts). A transfer that breaks is offered
 * again, and the receiver resumes from its `.part` once the sender has checked the prefix hash.
 */
import { createHash, type Hash } from "node:crypto";
import { basename, join, relative, resolve, sep } from "node:path";
import type { ChatEvent } from "../events.ts";
import { type FileControl, newTransferId } from "./control.ts";
import { numbered, safeRelativePath } from "./names.ts";
import { sameIp } from "../net/address.ts";
import { Progress } from "./progress.ts";
import {
  decodeHeader,
  encodeHeader,
  fileWriter,
  hashPrefix,
  HEADER_BYTES,
  pump,
  queuedWriter,
  type Reader,
  readExactly,
  sealedReader,
  sealedWriter,
  type StreamHeader,
  TRAILER_BYTES,
  watchdog,
  writeAll,
  type Writer,
} from "../net/file_stream.ts";
import { RecordOpener, RecordSealer } from "../crypto/records.ts";
import { streamKey } from "../crypto/keys.ts";
import { toHex } from "../bytes.ts";
import { type FileConn, type FilesMode, Route } from "./route.ts";
import type { UdpFiles, UdpInStream } from "./udp_stream.ts";
import { type Clock, denoClock, type TimerId } from "../net/clock.ts";
import { denoTcp, type Tcp, type TcpConn, type TcpListener } from "../net/tcp.ts";
import {
  denoFs,
  describeFsError,
  type FileHandle,
  type Fs,
  fsError,
  SEEK_START,
} from "../store/fs.ts";

export interface TransferOptions {
  downloads: string;
  /** Our TCP port for incoming files, told to the peer in every accept. */
  filePort: number;
  peerIp: string;
  maxFileSize: number;
  sendControl: (c: FileControl) => void;
  emit: (e: ChatEvent) => void;
  isPeerOnline: () => boolean;
  /** With a passphrase: the current session's file keys (undefined until the peer proved it). */
  streamKeys?: () => { send: Uint8Array; recv: Uint8Array } | undefined;
  /** A file starts being sent (`active`), or its transfer ended: for the journal. */
  onOutgoing?: (f: OutgoingFile, active: boolean) => void;
  /** How bytes go out (default tcp); `udp` carries them over the session for auto and udp. */
  files?: FilesMode;
  udp?: UdpFiles;
  /** The effects (lib/effects.ts); Deno's by default. */
  clock?: Clock;
  fs?: Fs;
  tcp?: Tcp;
}

export interface OutgoingFile {
  id: string;
  /** Absolute, so a restarted process finds it again. */
  path: string;
  name: string;
  size: number;
}

/** A connection must send its header this soon, and no stream may stall longer than IDLE_MS.
 * A stalled stream is cheap to replace: the file is offered again and resumes from its .part on
 * a fresh connection, whose retransmission timer has not backed off. */
const HEADER_MS = 10_000;
const IDLE_MS = 10_000;
/** Connections still sending their header at once; more are closed on arrival. */
const MAX_UNIDENTIFIED = 32;
/** Received bytes between background fdatasyncs (see earlyWriteback). */
const WRITEBACK_BYTES = 64 * 2 ** 20;
/** Chunks a copy may have queued for writing at once (file_stream.ts pump). With one at a time, a
 * sender could not seal a chunk while the one before was still going out, and a receiver waited on
 * each write to its file (0.3 to 3 ms per MiB here); its writes now run on the event loop until the
 * disk turns slow (fileWriter), and then through this queue. */
export const WRITE_DEPTH = 4;
/** Chunks a sender may be reading from its file at once: with one, it waited on the read (0.6 ms
 * per MiB) while both cores were busy. */
export const READ_AHEAD = 2;
/** A broken transfer is offered again after this long (once the peer is online). */
const RETRY_MS = 1_000;

interface Outgoing {
  id: string;
  path: string;
  name: string;
  size: number;
  retry?: TimerId;
  waitingForPeer: boolean;
  /** A stream is going: a second accept (the receiver asking again) must not start another. */
  sending?: boolean;
}

interface Incoming {
  id: string;
  name: string;
  size: number;
  dir: string;
  base: string;
  partPath: string;
  offset: number;
  hash: Hash;
  file: FileHandle;
  /** Bumped when the transfer is offered again, so a stale connection's ending is ignored. */
  generation: number;
  conn?: { close(): void };
}

export class Transfers {
  #o: TransferOptions;
  #listener: TcpListener;
  #clock: Clock;
  #fs: Fs;
  #tcp: Tcp;
  #out = new Map<string, Outgoing>();
  #in = new Map<string, Incoming>();
  /** .part paths reserved by offers being handled or transfers in progress. */
  #parts = new Set<string>();
  /** Transfers whose offer is being handled. */
  #offering = new Set<string>();
  /** Space reserved by offers accepted but not yet in #in. */
  #holding = new Map<string, number>();
  #unidentified = 0;
  #closed = false;
  /** Settles once the transfers an earlier run left are known (resume). */
  #resumed: Promise<void> = Promise.resolve();
  #route: Route;
  counts = { refused: 0, badHeader: 0, overloaded: 0 };

  constructor(options: TransferOptions, listener: TcpListener) {
    this.#o = options;
    this.#listener = listener;
    options.udp?.onIncoming((s) => this.#onUdpStream(s).catch(() => {}));
    this.#clock = options.clock ?? denoClock;
    this.#fs = options.fs ?? denoFs;
    this.#tcp = options.tcp ?? denoTcp;
    this.#route = new Route({
      mode: options.files ?? "tcp",
      peerIp: options.peerIp,
      tcp: this.#tcp,
      clock: this.#clock,
      udp: options.udp,
      onFallback: (why, port) =>
        this.#error(
          "tcp_unreachable",
          `Cannot connect to the peer's file port ${port} over TCP (${why}): files go over the ` +
            "chat's UDP session from now on",
        ),
    });
  }

  /** The peer moved to `ip` (an authenticated migration): connections to its file port go there,
   * and only that address may connect to ours. Transfers over the session follow by themselves. */
  movePeer(ip: string): void {
    this.#route.peerIp = ip;
  }

  /** Transfers not yet finished, in either direction. */
  get active(): number {
    return this.#out.size + this.#in.size;
  }

  /** Accepts TCP connections until closed. */
  async serve(): Promise<void> {
    while (!this.#closed) {
      let conn: TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        if (this.#closed) return;
        continue;
      }
      this.#onConnection(conn).catch(() => {});
    }
  }

  /** Offers files and folders (a folder's files keep their paths relative to it). */
  async send(paths: string[]): Promise<void> {
    for (const p of paths) {
      let files: { path: string; name: string; size: number }[];
      try {
        files = await expand(this.#fs, p);
      } catch (e) {
        this.#error("file_not_found", `Cannot send ${p}: ${describeFsError(e)}`);
        continue;
      }
      for (const f of files) {
        const t: Outgoing = { id: newTransferId(), ...f, waitingForPeer: false };
        this.#out.set(t.id, t);
        this.#o.onOutgoing?.({ id: t.id, path: t.path, name: t.name, size: t.size }, true);
        this.#o.sendControl({ op: "offer", id: t.id, name: t.name, size: t.size });
      }
    }
  }

  onControl(c: FileControl): void {
    switch (c.op) {
      case "offer":
        this.#onOffer(c).catch((e) =>
          this.#decline(c.id, `cannot store ${c.name}: ${describeFsError(e)}`)
        );
        return;
      case "accept":
        this.#onAccept(c).catch(() => {});
        return;
      case "decline": {
        const t = this.#out.get(c.id);
        if (!t) return this.#withdrawn(c.id);
        this.#end(t);
        this.#error("declined", `The peer declined ${t.name}: ${c.reason}`, t);
        return;
      }
      case "done": {
        const t = this.#out.get(c.id);
        if (!t) return;
        this.#end(t);
        if (c.ok) {
          this.#o.emit({
            type: "file_sent",
            id: t.id,
            name: t.name,
            path: t.path,
            size: t.size,
            sha256: c.sha256,
          });
        } else {
          this.#error("transfer_failed", `The peer could not verify ${t.name}: ${c.reason}`, t);
        }
      }
    }
  }

  /** Files an earlier run was sending: offered again once the peer is online, and the receiver
   * resumes from its .part. A file that is gone or changed size is given up with an error. */
  resume(files: OutgoingFile[]): Promise<void> {
    this.#resumed = this.#resume(files);
    return this.#resumed;
  }

  async #resume(files: OutgoingFile[]): Promise<void> {
    for (const f of files) {
      const t: Outgoing = { ...f, waitingForPeer: true };
      try {
        const size = (await this.#fs.stat(f.path)).size;
        if (size !== f.size) throw new Error(`its size changed from ${f.size} to ${size} bytes`);
      } catch (e) {
        this.#o.onOutgoing?.(f, false);
        this.#error("file_not_found", `Cannot resume sending ${f.path}: ${describeFsError(e)}`, t);
        continue;
      }
      this.#out.set(t.id, t);
    }
    if (this.#o.isPeerOnline()) this.onPeerOnline();
  }

  #end(t: Outgoing): void {
    this.#out.delete(t.id);
    this.#clock.clearTimer(t.retry);
    this.#o.onOutgoing?.({ id: t.id, path: t.path, name: t.name, size: t.size }, false);
  }

  /** The peer is back: offer again whatever broke while it was away. A new incarnation of the
   * peer knows none of our transfers, so every one not streaming now is offered again (one that
   * went out whole before it died would otherwise wait for a "done" that never comes). */
  onPeerOnline(restarted = false): void {
    for (const t of this.#out.values()) {
      if (t.waitingForPeer || (restarted && !t.sending)) {
        t.waitingForPeer = false;
        this.#clock.clearTimer(t.retry);
        this.#o.sendControl({ op: "offer", id: t.id, name: t.name, size: t.size });
      }
    }
    // And what we accepted and are not receiving now: a stream that never reached us (it was
    // written whole into a path that went dark) is sent again, and what a restarted sender forgot
    // (its journal could not be written) is declined; either would wait here with a .part for ever.
    for (const t of this.#in.values()) this.#askAgain(t);
  }

  close(): void {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const t of this.#out.values()) this.#clock.clearTimer(t.retry);
    for (const t of this.#in.values()) {
      t.conn?.close();
      tryClose(t.file);
    }
  }

  // ---- sending ----

  async #onAccept(c: Extract<FileControl, { op: "accept" }>): Promise<void> {
    if (!this.#out.has(c.id)) await this.#resumed;
    const t = this.#out.get(c.id);
    if (!t) {
      // Ended here (its "done" came first) or forgotten by a restart: the receiver must not keep
      // waiting for it with a .part.
      return this.#o.sendControl({ op: "decline", id: c.id, reason: "no such transfer" });
    }
    if (t.sending) return;
    t.sending = true;
    this.#clock.clearTimer(t.retry);
    let file: FileHandle | undefined, conn: FileConn | undefined;
    let dog: ReturnType<typeof watchdog> | undefined;
    try {
      file = await this.#fs.open(t.path, { read: true });
      const hash = createHash("sha256");
      let offset = Math.min(c.offset, t.size);
      // Resume only if the receiver's prefix is byte-for-byte ours.
      if (offset > 0) {
        const same = await hashPrefix(file, offset, hash) &&
          hash.copy().digest("hex") === c.prefix;
        if (!same) {
          offset = 0;
          await file.seek(0, SEEK_START);
          hash.destroy();
        }
      }
      const sha = offset > 0 ? hash : createHash("sha256");
      const route = await this.#route.connect(t.id, c.port);
      conn = route.conn;
      const watch = dog = watchdog(conn, IDLE_MS, this.#clock);
      this.#start(t, "send", offset, route.via);
      const progress = new Progress(t.size, offset, this.#clock.now());
      const h = { id: t.id, offset, size: t.size };
      // Over the session, the session's own AEAD seals every datagram.
      const { header, out } = route.via === "udp"
        ? { header: encodeHeader(h), out: conn }
        : this.#outgoingStream(conn, h);
      await writeAll(conn, header);
      const failed = await pump({
        from: file,
        to: out,
        bytes: t.size - offset,
        hash: sha,
        depth: WRITE_DEPTH,
        ahead: READ_AHEAD,
        clock: this.#clock,
        onBytes: (n) => {
          watch.touch();
          this.#progress(t, "send", progress.add(n, this.#clock.now()));
        },
      });
      if (failed) throw new Error(`${t.path} changed while it was being sent`);
      await writeAll(out, new Uint8Array(sha.digest()));
      dog.stop();
      await conn.closeWrite();
    } catch (e) {
      if (!this.#out.has(t.id) || this.#closed) return;
      this.#o.emit({
        type: "error",
        code: "transfer_interrupted",
        message: `Transfer of ${t.name} interrupted (${describeFsError(e)}); it will resume`,
        id: t.id,
        name: t.name,
      });
      this.#scheduleRetry(t);
    } finally {
      // On every path: a watchdog left running closes the connection again later (and threw).
      dog?.stop();
      t.sending = false;
      if (file) tryClose(file);
      if (conn) tryClose(conn);
    }
  }

  /** The header and where the bytes go: the connection itself, or sealed records on it. */
  #outgoingStream(conn: Writer, h: StreamHeader): { header: Uint8Array; out: Writer } {
    if (!this.#o.streamKeys) return { header: encodeHeader(h), out: queuedWriter(conn) };
    const keys = this.#o.streamKeys();
    if (!keys) throw new Error("the encrypted session is not established yet");
    const header = encodeHeader({ ...h, salt: crypto.getRandomValues(new Uint8Array(32)) });
    const key = streamKey(keys.send, header.subarray(32), header);
    return { header, out: sealedWriter(conn, new RecordSealer(key)) };
  }

  #scheduleRetry(t: Outgoing): void {
    this.#clock.clearTimer(t.retry);
    t.retry = this.#clock.setTimer(() => {
      if (!this.#out.has(t.id)) return;
      if (this.#o.isPeerOnline()) {
        this.#o.sendControl({ op: "offer", id: t.id, name: t.name, size: t.size });
      } else t.waitingForPeer = true;
    }, RETRY_MS);
  }

  // ---- receiving ----

  /** One offer of a transfer at a time: a copy that comes while the first is being handled (the
   * session carried it over to our new incarnation, and the sender offered it again) is answered
   * by the first one's accept, rather than taking a second .part that the first then orphans. */
  async #onOffer(c: Extract<FileControl, { op: "offer" }>): Promise<void> {
    if (this.#offering.has(c.id)) return;
    this.#offering.add(c.id);
    try {
      await this.#handleOffer(c);
    } finally {
      this.#offering.delete(c.id);
    }
  }

  async #handleOffer(c: Extract<FileControl, { op: "offer" }>): Promise<void> {
    const parts = safeRelativePath(c.name);
    if (typeof parts === "string") return this.#decline(c.id, `unsafe name: ${parts}`);
    if (c.size > this.#o.maxFileSize) {
      return this.#decline(c.id, `${c.size} bytes is over the ${this.#o.maxFileSize}-byte limit`);
    }
    const old = this.#in.get(c.id);
    if (old) {
      // Offered again (the connection broke): drop the old stream, keep the .part.
      old.generation++;
      old.conn?.close();
      tryClose(old.file);
      this.#in.delete(c.id);
      this.#parts.delete(old.partPath);
    }
    const root = resolve(this.#o.downloads);
    const dir = join(root, ...parts.slice(0, -1));
    const base = parts[parts.length - 1];
    // Reserved before the first await, so two offers of one name never share a .part.
    const partPath = this.#reservePart(dir, base, c.id);
    let file: FileHandle | undefined;
    try {
      await this.#fs.mkdir(dir, { recursive: true });
      if (!inside(await this.#fs.realPath(root), await this.#fs.realPath(dir))) {
        this.#parts.delete(partPath);
        return this.#decline(c.id, "unsafe name: it leads outside the downloads folder");
      }
      file = await this.#fs.open(partPath, { read: true, write: true, create: true });
      let offset = (await file.stat()).size;
      if (offset > c.size) {
        await file.truncate(0);
        offset = 0;
      }
      // Checked and reserved in one step (no await between): bytes the transfers in progress will
      // still write count as used, so two offers cannot both take the same free space.
      const free = await this.#fs.freeSpace(dir);
      if (free - this.#reserved() < c.size - offset) {
        tryClose(file);
        this.#parts.delete(partPath);
        // Declined for good (the sender gives up on a decline): its .part must not stay.
        await this.#fs.remove(partPath).catch(() => {});
        return this.#decline(c.id, "not enough disk space");
      }
      this.#holding.set(c.id, c.size - offset);
      const hash = createHash("sha256");
      if (!await hashPrefix(file, offset, hash)) throw new Error("the partial file shrank");
      const t: Incoming = {
        id: c.id,
        name: parts.join("/"),
        size: c.size,
        dir,
        base,
        partPath,
        offset,
        hash,
        file,
        generation: (old?.generation ?? 0) + 1,
      };
      this.#holding.delete(c.id);
      this.#in.set(c.id, t);
      this.#o.sendControl({
        op: "accept",
        id: c.id,
        offset,
        prefix: hash.copy().digest("hex"),
        port: this.#o.filePort,
      });
    } catch (e) {
      this.#holding.delete(c.id);
      if (file) tryClose(file);
      this.#parts.delete(partPath);
      throw e;
    }
  }

  /** Accepts `t` again from what its .part holds, unless a stream for it is going. */
  #askAgain(t: Incoming): void {
    if (this.#in.get(t.id) !== t || t.conn || this.#closed) return;
    const again = { op: "offer" as const, id: t.id, name: t.name, size: t.size };
    this.#onOffer(again).catch((e) =>
      this.#decline(t.id, `cannot store ${t.name}: ${describeFsError(e)}`)
    );
  }

  /** The sender no longer has a transfer we accepted: it is over, and its .part goes. */
  #withdrawn(id: string): void {
    const t = this.#in.get(id);
    if (!t) return;
    t.generation++;
    t.conn?.close();
    tryClose(t.file);
    this.#in.delete(id);
    this.#parts.delete(t.partPath);
    this.#fs.remove(t.partPath).catch(() => {});
  }

  /** Bytes the incoming transfers accepted so far have still to write. */
  #reserved(): number {
    let n = 0;
    for (const t of this.#in.values()) n += t.size - t.offset;
    for (const held of this.#holding.values()) n += held;
    return n;
  }

  /** `name.part`, unless another transfer is using it: then `name.<id>.part`. */
  #reservePart(dir: string, base: string, id: string): string {
    const plain = join(dir, `${base}.part`);
    const path = this.#parts.has(plain) ? join(dir, `${base}.${id}.part`) : plain;
    this.#parts.add(path);
    return path;
  }

  async #onConnection(conn: TcpConn): Promise<void> {
    const from = conn.remoteAddr;
    if (!sameIp(from.hostname, this.#route.peerIp)) {
      this.counts.refused++;
      return tryClose(conn);
    }
    if (this.#unidentified >= MAX_UNIDENTIFIED) {
      this.counts.overloaded++;
      return tryClose(conn);
    }
    this.#unidentified++;
    const dog = watchdog(conn, HEADER_MS, this.#clock);
    const head = new Uint8Array(HEADER_BYTES);
    let ok = false;
    try {
      ok = await readExactly(conn, head);
    } catch { /* closed by the watchdog or the peer */ }
    this.#unidentified--;
    dog.stop();
    const found = this.#identify(ok ? head : undefined);
    // With a passphrase only sealed streams are taken, and only under this session's key.
    const keys = this.#o.streamKeys?.();
    const h = found?.h;
    if (!found || !h || Boolean(h.salt) !== Boolean(this.#o.streamKeys) || (h.salt && !keys)) {
      this.counts.badHeader++;
      return tryClose(conn);
    }
    const source = h.salt
      ? sealedReader(conn, new RecordOpener(streamKey(keys!.recv, h.salt, head)))
      : conn;
    const sealed = Boolean(h.salt);
    await this.#receive(found.t, { offset: h.offset, conn, source, sealed, via: "tcp" });
  }

  /** A stream over the UDP session: the same header, unsealed (the session seals each datagram,
   * and with a passphrase proves every byte is the peer's, in order, as sealed records do). */
  async #onUdpStream(s: UdpInStream): Promise<void> {
    const dog = watchdog(s, HEADER_MS, this.#clock);
    const head = new Uint8Array(HEADER_BYTES);
    const ok = await readExactly(s, head).catch(() => false);
    dog.stop();
    const found = this.#identify(ok ? head : undefined);
    if (!found || found.h.salt || found.h.id !== s.id) {
      this.counts.badHeader++;
      return s.close();
    }
    const sealed = this.#o.streamKeys !== undefined;
    const offset = found.h.offset;
    await this.#receive(found.t, { offset, conn: s, source: s, sealed, via: "udp" });
  }

  /** The transfer a stream's header names, if it is one we expect and not already streaming. */
  #identify(head: Uint8Array | undefined): { h: StreamHeader; t: Incoming } | undefined {
    const h = head ? decodeHeader(head) : "no header";
    const t = typeof h === "string" ? undefined : this.#in.get(h.id);
    if (
      typeof h === "string" || !t || t.conn || h.size !== t.size ||
      (h.offset !== t.offset && h.offset !== 0)
    ) return undefined;
    return { h, t };
  }

  async #receive(
    t: Incoming,
    { offset, conn, source, sealed, via }: {
      offset: number;
      conn: { close(): void };
      source: Reader;
      sealed: boolean;
      via: "tcp" | "udp";
    },
  ): Promise<void> {
    const generation = t.generation;
    t.conn = conn;
    const dog = watchdog(conn, IDLE_MS, this.#clock);
    try {
      if (offset !== t.offset) {
        // The sender's file differs from our prefix: start over.
        await t.file.truncate(0);
        await t.file.seek(0, SEEK_START);
        t.hash = createHash("sha256");
        t.offset = 0;
      }
      this.#start(t, "receive", offset, via);
      const writeback = earlyWriteback(this.#fs, t.partPath);
      const progress = new Progress(t.size, offset, this.#clock.now());
      // A sealed stream's records prove every byte is the sender's, in order, and its trailer
      // (sealed too) is the sender's SHA-256 of the whole file: the receiver, which has the more
      // work of the two (opening and the page-cache copy), does not hash it again.
      const failed = await pump({
        from: source,
        to: fileWriter(t.file, undefined, this.#clock),
        bytes: t.size - offset,
        hash: sealed ? undefined : t.hash,
        depth: WRITE_DEPTH,
        clock: this.#clock,
        onBytes: (n) => {
          dog.touch();
          this.#progress(t, "receive", progress.add(n, this.#clock.now()));
          writeback.add(n);
        },
      }).finally(() => writeback.done());
      const trailer = new Uint8Array(TRAILER_BYTES);
      if (failed || !await readExactly(source, trailer)) {
        throw new Error("the connection ended early");
      }
      dog.stop();
      this.#in.delete(t.id);
      await this.#finish(t, { trailer, sealed }).catch((e) => {
        // Everything arrived but could not be stored: say so, so the sender does not wait.
        tryClose(t.file);
        this.#error("transfer_failed", `Cannot store ${t.name}: ${describeFsError(e)}`, t);
        this.#o.sendControl({
          op: "done",
          id: t.id,
          ok: false,
          sha256: "",
          reason: describeFsError(e),
        });
      }).finally(() => this.#parts.delete(t.partPath));
    } catch (e) {
      dog.stop();
      if (t.generation !== generation || this.#closed) return;
      // Keep the .part: the sender offers again and we resume from here.
      t.conn = undefined;
      await t.file.syncData().catch(() => {});
      this.#o.emit({
        type: "error",
        code: "transfer_interrupted",
        message: `Receiving ${t.name} was interrupted (${describeFsError(e)}); it will resume`,
        id: t.id,
        name: t.name,
      });
      // The sender may think it finished (everything fit in socket buffers): ask again, as if it
      // had offered the file anew, so it resumes from what the .part holds.
      this.#clock.setTimer(() => this.#askAgain(t), RETRY_MS);
    } finally {
      tryClose(conn);
    }
  }

  /** `trailer` is the sender's SHA-256: checked against ours, or for a sealed stream (whose
   * records were checked) taken as it is. */
  async #finish(t: Incoming, o: { trailer: Uint8Array; sealed: boolean }): Promise<void> {
    const claimed = toHex(o.trailer);
    const sha256 = o.sealed ? claimed : t.hash.digest("hex");
    if (sha256 !== claimed) {
      tryClose(t.file);
      await this.#fs.remove(t.partPath).catch(() => {});
      this.#error(
        "hash_mismatch",
        `${t.name} arrived corrupted (SHA-256 mismatch); it was discarded`,
        t,
      );
      this.#o.sendControl({ op: "done", id: t.id, ok: false, sha256, reason: "SHA-256 mismatch" });
      return;
    }
    await t.file.syncData();
    tryClose(t.file);
    const path = await claimName(this.#fs, t.dir, t.base);
    await this.#fs.rename(t.partPath, path);
    this.#o.emit({ type: "file_received", id: t.id, name: t.name, path, size: t.size, sha256 });
    this.#o.sendControl({ op: "done", id: t.id, ok: true, sha256 });
  }

  // ---- shared ----

  #decline(id: string, why: string): void {
    this.#o.sendControl({ op: "decline", id, reason: why });
    this.#error("declined", `Declined an incoming file: ${why}`);
  }

  #start(
    t: { id: string; name: string; size: number },
    direction: "send" | "receive",
    offset: number,
    via: "tcp" | "udp",
  ) {
    this.#o.emit({
      type: "file_start",
      id: t.id,
      name: t.name,
      size: t.size,
      offset,
      direction,
      via,
    });
  }

  #progress(
    t: { id: string; name: string },
    direction: "send" | "receive",
    r: ReturnType<Progress["add"]>,
  ): void {
    if (r) this.#o.emit({ type: "progress", id: t.id, name: t.name, direction, ...r });
  }

  #error(code: string, message: string, t?: { id: string; name: string }): void {
    this.#o.emit({ type: "error", code, message, ...(t ? { id: t.id, name: t.name } : {}) });
  }
}

/** Every WRITEBACK_BYTES received, starts an fdatasync in the background (one at a time), so the
 * disk writes while the network reads and the fsync before the rename finds little left to do. It
 * runs on a handle of its own: Deno runs one handle's operations one after another, so a sync on
 * the handle being written would stop the writes until the disk caught up. */
function earlyWriteback(fs: Fs, path: string): { add(n: number): void; done(): Promise<void> } {
  let since = 0;
  let running: Promise<void> | undefined;
  let handle: Promise<FileHandle> | undefined;
  return {
    add(n) {
      since += n;
      if (since < WRITEBACK_BYTES || running) return;
      since = 0;
      handle ??= fs.open(path, { read: true });
      running = handle.then((f) => f.syncData()).catch(() => {}).finally(() => running = undefined);
    },
    async done() {
      await running;
      const f = await handle?.catch(() => undefined);
      if (f) tryClose(f);
    },
  };
}

/** A file, or every regular file under a folder, with the names the peer will see. */
async function expand(
  fs: Fs,
  path: string,
): Promise<{ path: string; name: string; size: number }[]> {
  const info = await fs.stat(path);
  if (info.isFile) return [{ path: resolve(path), name: basename(resolve(path)), size: info.size }];
  if (!info.isDirectory) throw new Error("not a file or folder");
  const top = resolve(path);
  const prefix = basename(top);
  const out: { path: string; name: string; size: number }[] = [];
  const walk = async (dir: string) => {
    const entries = [];
    for await (const e of fs.readDir(dir)) entries.push(e);
    entries.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory) await walk(full);
      else if (e.isFile) {
        out.push({
          path: full,
          name: `${prefix}/${relative(top, full).split(sep).join("/")}`,
          size: (await fs.stat(full)).size,
        });
      }
    }
  };
  await walk(top);
  return out;
}

/** Claims the first free name among "x.ext", "x (1).ext", … by creating it exclusively. */
async function claimName(fs: Fs, dir: string, base: string): Promise<string> {
  for (let n = 0;; n++) {
    const candidate = join(dir, numbered(base, n));
    try {
      (await fs.open(candidate, { write: true, createNew: true })).close();
      return candidate;
    } catch (e) {
      if (fsError(e) !== "exists") throw e;
    }
  }
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function tryClose(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}
