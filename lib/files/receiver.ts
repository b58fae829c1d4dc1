/**
 * The receiving side's streams: a connection to our file port (or a stream over the UDP session)
 * names in its header a transfer the offers (lib/files/offers.ts) accepted, and its bytes go to
 * that file's `.part`, opened only while the stream runs, checked against the sender's SHA-256
 * and renamed into place. A stream that breaks keeps its `.part`, and the file resumes from it.
 */
import { createHash } from "node:crypto";
import { sameIp } from "../net/address.ts";
import { Progress } from "./progress.ts";
import {
  decodeHeader,
  fileWriter,
  HEADER_BYTES,
  pump,
  type Reader,
  readExactly,
  sealedReader,
  type StreamHeader,
  TRAILER_BYTES,
  watchdog,
} from "../net/file_stream.ts";
import { RecordOpener } from "../crypto/records.ts";
import { streamKey } from "../crypto/keys.ts";
import { toHex } from "../bytes.ts";
import type { Route } from "./route.ts";
import type { UdpInStream } from "./udp_stream.ts";
import type { Clock } from "../net/clock.ts";
import type { TcpConn } from "../net/tcp.ts";
import { describeFsError, type FileHandle, type Fs, fsError, SEEK_START } from "../store/fs.ts";
import { formatBytes } from "../ui/format.ts";
import { claimName, earlyWriteback } from "./part_files.ts";
import type { Incoming, Offers } from "./offers.ts";
import {
  folderOf,
  HEADER_MS,
  IDLE_MS,
  RETRY_MS,
  type TransferContext,
  type TransferEvents,
  type TransferOptions,
  tryClose,
  WRITE_DEPTH,
} from "./transfer_common.ts";

/** How long a refused stream is held open after its decline is sent (a few round trips). */
const REFUSE_LINGER_MS = 1_000;

/** Connections still sending their header at once; more are closed on arrival. */
const MAX_UNIDENTIFIED = 32;

export class Receiver {
  #o: TransferOptions;
  #clock: Clock;
  #fs: Fs;
  #route: Route;
  #events: TransferEvents;
  #offers: Offers;
  #unidentified = 0;
  #closed = false;
  counts = { refused: 0, badHeader: 0, overloaded: 0 };

  constructor(c: TransferContext, offers: Offers) {
    this.#o = c.o;
    this.#clock = c.clock;
    this.#fs = c.fs;
    this.#route = c.route;
    this.#events = c.events;
    this.#offers = offers;
    c.o.udp?.onIncoming((s) => this.#onUdpStream(s).catch(() => {}));
  }

  async onConnection(conn: TcpConn): Promise<void> {
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
    const t = typeof h === "string" ? undefined : this.#offers.get(h.id);
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
    this.#clock.clearTimer(t.acceptTimer);
    const dog = watchdog(conn, IDLE_MS, this.#clock);
    try {
      if (offset !== t.offset) {
        // The sender's file differs from our prefix: start over.
        t.hash = createHash("sha256");
        t.offset = 0;
      }
      const file = t.file = await this.#fs.open(t.partPath, {
        read: true,
        write: true,
        create: true,
      });
      const had = (await file.stat()).size;
      if (had < t.offset) throw new Error("the partial file shrank");
      if (had > t.offset) await file.truncate(t.offset);
      await file.seek(t.offset, SEEK_START);
      this.#events.start(t, "receive", offset, via);
      const writeback = earlyWriteback(this.#fs, t.partPath);
      const progress = new Progress(t.size, offset, this.#clock.now());
      // A sealed stream's records prove every byte is the sender's, in order, and its trailer
      // (sealed too) is the sender's SHA-256 of the whole file: the receiver, which has the more
      // work of the two (opening and the page-cache copy), does not hash it again.
      const failed = await pump({
        from: source,
        to: fileWriter(file, undefined, this.#clock),
        bytes: t.size - offset,
        hash: sealed ? undefined : t.hash,
        depth: WRITE_DEPTH,
        clock: this.#clock,
        onBytes: (n) => {
          dog.touch();
          this.#events.progress(t, "receive", progress.add(n, this.#clock.now()));
          writeback.add(n);
        },
      }).finally(() => writeback.done());
      const trailer = new Uint8Array(TRAILER_BYTES);
      if (failed || !await readExactly(source, trailer)) {
        throw new Error("the connection ended early");
      }
      dog.stop();
      this.#offers.arrived(t);
      await this.#finish(t, file, { trailer, sealed }).catch((e) => {
        // Everything arrived but could not be stored: say so, so the sender does not wait.
        tryClose(file);
        this.#events.incomingError(
          "transfer_failed",
          `Cannot store ${t.name}: ${describeFsError(e)}`,
          t,
        );
        this.#o.sendControl({
          op: "done",
          id: t.id,
          ok: false,
          sha256: "",
          reason: describeFsError(e),
        });
      }).finally(() => this.#offers.ended(t));
    } catch (e) {
      dog.stop();
      if (t.generation !== generation || this.#closed) return;
      // The downloads folder itself refuses (full, read-only, not ours): trying again every
      // second would only say so again. Declined once, plainly, on both sides.
      const kind = fsError(e);
      if (kind === "full" || kind === "read_only" || kind === "denied") {
        return await this.#refuse(
          t,
          kind === "full"
            ? `the disk filled up (${formatBytes(await this.#free(t))} free in ${t.dir}, ` +
              `${formatBytes(t.size)} needed); free space and send it again`
            : `${describeFsError(e)} in ${t.dir}`,
        );
      }
      // Keep the .part: the sender offers again and we resume from here.
      t.conn = undefined;
      const file = t.file;
      t.file = undefined;
      await file?.syncData().catch(() => {});
      if (file) tryClose(file);
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

  /** Ends a transfer for good: its .part goes, and the sender is told why (it gives up). */
  async #refuse(t: Incoming, why: string): Promise<void> {
    const file = t.file;
    t.file = undefined;
    t.conn = undefined;
    if (file) tryClose(file);
    this.#o.sendControl({ op: "decline", id: t.id, reason: `cannot store ${t.name}: ${why}` });
    this.#events.incomingError("declined", `Declined ${t.name}: ${why}`, t);
    // The stream stays open a moment, so the sender hears the decline before a broken pipe (which
    // it would report as an interruption to resume).
    await new Promise<void>((r) => this.#clock.setTimer(r, REFUSE_LINGER_MS));
    this.#offers.withdrawn(t.id);
  }

  #free(t: Incoming): Promise<number> {
    return this.#fs.freeSpace(t.dir).catch(() => 0);
  }

  /** The peer is back: what we accepted and are not receiving now is accepted again. A stream
   * that never reached us (written whole into a path that went dark) is then sent again, and what
   * a restarted sender forgot (its journal could not be written) is declined; either would wait
   * here with a .part for ever (seeds 595, 986). */
  onPeerOnline(): void {
    for (const t of this.#offers.all()) this.#askAgain(t);
  }

  /** Accepts `t` again from what its .part holds, unless a stream for it is going. */
  #askAgain(t: Incoming): void {
    if (this.#offers.get(t.id) !== t || t.conn || this.#closed) return;
    this.#offers.take({ op: "offer", id: t.id, name: t.name, size: t.size });
  }

  /** `trailer` is the sender's SHA-256: checked against ours, or for a sealed stream (whose
   * records were checked) taken as it is. */
  async #finish(
    t: Incoming,
    file: FileHandle,
    o: { trailer: Uint8Array; sealed: boolean },
  ): Promise<void> {
    const claimed = toHex(o.trailer);
    const sha256 = o.sealed ? claimed : t.hash.digest("hex");
    if (sha256 !== claimed) {
      tryClose(file);
      await this.#fs.remove(t.partPath).catch(() => {});
      this.#events.incomingError(
        "hash_mismatch",
        `${t.name} arrived corrupted (SHA-256 mismatch); it was discarded`,
        t,
      );
      this.#o.sendControl({ op: "done", id: t.id, ok: false, sha256, reason: "SHA-256 mismatch" });
      return;
    }
    await file.syncData();
    tryClose(file);
    const path = await claimName(this.#fs, t.dir, t.base);
    await this.#fs.rename(t.partPath, path);
    this.#o.emit({
      type: "file_received",
      id: t.id,
      name: t.name,
      path,
      size: t.size,
      sha256,
      ...folderOf(t),
    });
    this.#o.sendControl({ op: "done", id: t.id, ok: true, sha256 });
  }

  close(): void {
    this.#closed = true;
  }
}
