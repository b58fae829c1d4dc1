/**
 * The sending side of file transfers: a file or folder is offered, at most MAX_STREAMS files at a
 * time (lib/files/slots.ts, the rest queued in order), and each accepted file streams to the peer,
 * from the offset the receiver's `.part` holds when its prefix hash matches ours. A stream that
 * breaks is offered again; the slot is held until the receiver's `done` or decline. Each offer
 * carries its group (the file alone, or its folder): while the receiver asks its user about a
 * group (`wait`), the group's files leave their slots until the `agree` (lib/files/consent.ts).
 */
import { createHash } from "node:crypto";
import { basename, resolve } from "node:path";
import { expand, type Expanded, leftOut } from "./expand.ts";
import { bytesText } from "../bytes.ts";
import type { OfferWaitingEvent } from "../events.ts";
import { type FileControl, newTransferId } from "./control.ts";
import { Progress } from "./progress.ts";
import { MAX_STREAMS, Slots } from "./slots.ts";
import {
  encodeHeader,
  hashPrefix,
  pump,
  queuedWriter,
  sealedWriter,
  type StreamHeader,
  watchdog,
  writeAll,
  type Writer,
} from "../net/file_stream.ts";
import { RecordSealer } from "../crypto/records.ts";
import { streamKey } from "../crypto/keys.ts";
import type { FileConn, Route } from "./route.ts";
import type { Clock, TimerId } from "../net/clock.ts";
import { describeFsError, type FileHandle, type Fs, SEEK_START } from "../store/fs.ts";
import {
  folderOf,
  IDLE_MS,
  type OutgoingFile,
  type OutgoingGroup,
  READ_AHEAD,
  RETRY_MS,
  type TransferContext,
  type TransferEvents,
  type TransferOptions,
  tryClose,
  WRITE_DEPTH,
} from "./transfer_common.ts";

interface Outgoing {
  id: string;
  path: string;
  name: string;
  size: number;
  retry?: TimerId;
  waitingForPeer: boolean;
  /** A stream is going: a second accept (the receiver asking again) must not start another. */
  sending?: boolean;
  /** Left by an earlier run (the journal): sending its path again is the same transfer. */
  earlier?: boolean;
  /** The peer restarted while this was streaming to its old incarnation: offered again after. */
  stale?: boolean;
  group: OutgoingGroup;
}

/** A group's files not yet done, and whether the receiver is asking its user about it. */
interface Group {
  g: OutgoingGroup;
  members: Set<Outgoing>;
  awaiting: boolean;
}

export class Sender {
  #o: TransferOptions;
  #clock: Clock;
  #fs: Fs;
  #route: Route;
  #events: TransferEvents;
  #out = new Map<string, Outgoing>();
  #groups = new Map<string, Group>();
  /** Files we send that are offered or streaming; the rest wait their turn. */
  #sending = new Slots(MAX_STREAMS);
  /** Settles once the transfers an earlier run left are known (resume). */
  #resumed: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(c: TransferContext) {
    this.#o = c.o;
    this.#clock = c.clock;
    this.#fs = c.fs;
    this.#route = c.route;
    this.#events = c.events;
  }

  /** Files not yet done. */
  get active(): number {
    return this.#out.size;
  }

  /** Offers files and folders (a folder's files keep their paths relative to it). */
  async send(paths: string[]): Promise<void> {
    // What an earlier run left is known first: sending that file again is the same transfer (a
    // retried --send after a timeout), not a second copy at the peer.
    await this.#resumed;
    for (const p of paths) {
      let found: Expanded;
      try {
        found = await expand(this.#fs, p);
      } catch (e) {
        this.#events.error("file_not_found", `Cannot send ${p}: ${describeFsError(e)}`);
        continue;
      }
      const { files } = found;
      const left = leftOut(found);
      if (!files.length) {
        const none = left ? `; ${left}` : "";
        this.#events.error("file_not_found", `Cannot send ${p}: it holds no files${none}`);
        continue;
      }
      if (left) this.#events.error("not_sent", `Sending ${p}, but ${left}`);
      const one = files.length === 1 && !files[0].name.includes("/");
      const group: OutgoingGroup = {
        id: newTransferId(),
        name: one ? files[0].name : `${basename(resolve(p))}/`,
        files: files.length,
        size: files.reduce((n, f) => n + f.size, 0),
      };
      for (const f of files) {
        // Only against what an earlier run left: twice in one run is twice on purpose.
        const left = [...this.#out.values()].some((o) =>
          o.earlier && o.path === f.path && o.size === f.size
        );
        if (left) continue;
        const t: Outgoing = { id: newTransferId(), ...f, waitingForPeer: false, group };
        this.#add(t);
        this.#o.onOutgoing?.(outgoingFile(t), true);
        this.#queue(t, () => this.#offer(t));
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
      // Waits for the peer only once its turn has come (#queue).
      const group = f.group ?? { id: f.id, name: f.name, files: 1, size: f.size };
      const t: Outgoing = { ...f, waitingForPeer: false, group, earlier: true };
      try {
        const size = (await this.#fs.stat(f.path)).size;
        if (size !== f.size) throw new Error(`its size changed from ${f.size} to ${size} bytes`);
      } catch (e) {
        this.#o.onOutgoing?.(f, false);
        this.#events.error(
          "file_not_found",
          `Cannot resume sending ${f.path}: ${describeFsError(e)}`,
          t,
        );
        continue;
      }
      this.#add(t);
      this.#queue(t, () => this.#offerWhenOnline(t));
    }
  }

  #offerWhenOnline(t: Outgoing): void {
    if (this.#o.isPeerOnline()) this.#offer(t);
    else t.waitingForPeer = true;
  }

  #add(t: Outgoing): void {
    this.#out.set(t.id, t);
    const g = this.#groups.get(t.group.id) ??
      { g: t.group, members: new Set<Outgoing>(), awaiting: false };
    g.members.add(t);
    this.#groups.set(t.group.id, g);
  }

  /** `start` runs once `t` may stream (now, or when a file before it is done); not while the
   * receiver is asking about its group: it then gives its slot up at once. */
  #queue(t: Outgoing, start: () => void): void {
    const run = () => {
      if (this.#groups.get(t.group.id)?.awaiting) this.#sending.release(t.id);
      else start();
    };
    if (this.#sending.take(t.id, run) !== "queued") return;
    this.#o.emit({
      type: "file_queued",
      id: t.id,
      name: t.name,
      size: t.size,
      direction: "send",
      position: this.#sending.waiting,
    });
  }

  #offer(t: Outgoing): void {
    const group = { ...t.group, from: this.#o.name ?? "" };
    this.#o.sendControl({ op: "offer", id: t.id, name: t.name, size: t.size, group });
  }

  #end(t: Outgoing): void {
    this.#out.delete(t.id);
    const g = this.#groups.get(t.group.id);
    g?.members.delete(t);
    if (g && g.members.size === 0) this.#groups.delete(t.group.id);
    this.#sending.release(t.id);
    this.#clock.clearTimer(t.retry);
    this.#o.onOutgoing?.(outgoingFile(t), false);
  }

  /** Our offers the receiver's user is being asked about, oldest first. */
  waiting(): OfferWaitingEvent[] {
    return [...this.#groups.values()].filter((g) => g.awaiting).map((g) => ({
      type: "offer_waiting",
      ...g.g,
    }));
  }

  /** The receiver asks its user about group `id`: its files leave their slots (and the queue)
   * until the answer. An unknown group is withdrawn, so the receiver stops asking about it. */
  async onWait(id: string): Promise<void> {
    if (!this.#groups.has(id)) await this.#resumed;
    const g = this.#groups.get(id);
    if (!g) return this.#o.sendControl({ op: "decline", id, reason: "no such transfer" });
    if (g.awaiting) return;
    g.awaiting = true;
    for (const t of g.members) {
      // A file already streaming (accepted before) goes on.
      if (t.sending) continue;
      this.#clock.clearTimer(t.retry);
      t.waitingForPeer = false;
      this.#sending.release(t.id);
    }
    this.#o.emit({ type: "offer_waiting", ...g.g });
  }

  /** The receiver's user accepted group `id`: its files take their turns again. */
  async onAgree(id: string): Promise<void> {
    if (!this.#groups.has(id)) await this.#resumed;
    const g = this.#groups.get(id);
    if (!g) return this.#o.sendControl({ op: "decline", id, reason: "no such transfer" });
    if (!g.awaiting) return;
    g.awaiting = false;
    for (const t of g.members) {
      if (!t.sending) this.#queue(t, () => this.#offerWhenOnline(t));
    }
  }

  /** The peer is back: offer again whatever broke while it was away. A new incarnation of the
   * peer knows none of our transfers, so every one not streaming now is offered again (one that
   * went out whole before it died would otherwise wait for a "done" that never comes). */
  onPeerOnline(restarted = false): void {
    // What the receiver was asking about: answered while we were apart, or lost with it?
    for (const g of this.#groups.values()) {
      if (g.awaiting) this.#o.sendControl({ op: "ask", ...g.g, from: this.#o.name ?? "" });
    }
    for (const t of this.#out.values()) {
      // Those still waiting their turn are offered when it comes.
      if (!this.#sending.holds(t.id)) continue;
      // One streaming now goes to the old incarnation, which cannot answer "done": offered again
      // once its stream ends (seed 8386: a frozen sender streamed the dead peer's accepts).
      if (restarted && t.sending) t.stale = true;
      else if (t.waitingForPeer || restarted) {
        t.waitingForPeer = false;
        this.#clock.clearTimer(t.retry);
        this.#offer(t);
      }
    }
  }

  async onAccept(c: Extract<FileControl, { op: "accept" }>): Promise<void> {
    if (!this.#out.has(c.id)) await this.#resumed;
    const t = this.#out.get(c.id);
    if (!t) {
      // Ended here (its "done" came first) or forgotten by a restart: the receiver must not keep
      // waiting for it with a .part.
      return this.#o.sendControl({ op: "decline", id: c.id, reason: "no such transfer" });
    }
    // An accept of a file still waiting its turn (an offer an earlier run made): it is offered
    // again when its turn comes.
    if (t.sending || !this.#sending.holds(t.id)) return;
    t.sending = true;
    this.#clock.clearTimer(t.retry);
    let file: FileHandle | undefined, conn: FileConn | undefined;
    let dog: ReturnType<typeof watchdog> | undefined;
    try {
      file = await this.#fs.open(t.path, { read: true }).catch((e) => {
        throw new SourceGone(`it was deleted or moved (${describeFsError(e)})`);
      });
      const now = (await file.stat()).size;
      if (now !== t.size) {
        throw new SourceGone(`its size changed from ${bytesText(t.size)} to ${bytesText(now)}`);
      }
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
      this.#events.start(t, "send", offset, route.via);
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
          this.#events.progress(t, "send", progress.add(n, this.#clock.now()));
        },
      });
      if (failed) throw new SourceGone("it changed while it was being sent");
      await writeAll(out, new Uint8Array(sha.digest()));
      dog.stop();
      await conn.closeWrite();
    } catch (e) {
      if (!this.#out.has(t.id) || this.#closed) return;
      // Trying again cannot help: the file is given up on both sides, and the user told why.
      if (e instanceof SourceGone) return this.#giveUp(t, e.message);
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
      if (t.stale && this.#out.has(t.id) && !this.#closed) {
        t.stale = false;
        this.#clock.clearTimer(t.retry);
        this.#offer(t);
      }
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
      if (!this.#out.has(t.id) || !this.#sending.holds(t.id)) return;
      if (this.#o.isPeerOnline()) this.#offer(t);
      else t.waitingForPeer = true;
    }, RETRY_MS);
  }

  /** `t` cannot be sent as offered (its file is gone or changed): ended here, withdrawn at the
   * receiver (whose .part goes), and said. */
  #giveUp(t: Outgoing, why: string): void {
    this.#end(t);
    this.#o.sendControl({ op: "decline", id: t.id, reason: `the sender's copy: ${why}` });
    this.#events.error("transfer_failed", `Cannot send ${t.name}: ${why}; send it again`, t);
  }

  /** The peer declined one of ours (a file, or a whole group): false if it is none of ours (a
   * transfer it receives). */
  onDecline(c: Extract<FileControl, { op: "decline" }>): boolean {
    const t = this.#out.get(c.id);
    if (t) {
      this.#end(t);
      this.#events.error("declined", `The peer declined ${t.name}: ${c.reason}`, t);
      return true;
    }
    const g = this.#groups.get(c.id);
    if (!g) return false;
    for (const m of [...g.members]) this.#end(m);
    this.#events.error(
      "declined",
      `Cannot send ${g.g.name}${g.g.files === 1 ? "" : ` (${g.g.files} files)`}: ${c.reason}`,
      g.g,
    );
    return true;
  }

  onDone(c: Extract<FileControl, { op: "done" }>): void {
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
        ...folderOf(t),
      });
    } else {
      this.#events.error("transfer_failed", `The peer could not verify ${t.name}: ${c.reason}`, t);
    }
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#out.values()) this.#clock.clearTimer(t.retry);
  }
}

/** The file being sent is not the one offered any more (gone, or changed): permanent. */
class SourceGone extends Error {}

function outgoingFile(t: Outgoing): OutgoingFile {
  return { id: t.id, path: t.path, name: t.name, size: t.size, group: t.group };
}
