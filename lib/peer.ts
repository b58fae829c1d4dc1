/**
 * The running peer: one Session fed by one UdpLink, driven by one timer, plus the file transfers
 * on a TCP listener. It turns commands into protocol messages and protocol callbacks into
 * ChatEvents for whichever interface listens.
 */
import { type AuthFailure, type DurableMark, Session } from "./protocol/session.ts";
import { authFailedMessage, weakPassphraseWarning } from "./auth_report.ts";
import { aeadName } from "./crypto/aead.ts";
import { MAX_MESSAGE, RTO_MIN } from "./protocol/constants.ts";
import { UdpLink } from "./net/udp.ts";
import { describeSim, type ImpairSpec } from "./net/impair.ts";
import {
  decodeApp,
  encodeControl,
  encodeText,
  MAX_NAME_BYTES,
  TEXT_HEADER_BYTES,
} from "./app_message.ts";
import { Transfers } from "./files/transfers.ts";
import { parseControl } from "./files/control.ts";
import { UdpFiles } from "./files/udp_stream.ts";
import type { FilesMode } from "./files/route.ts";
import type { AcceptMode } from "./files/consent.ts";
import {
  type ChatEvent,
  type FileDoneEvent,
  formatAddress,
  type HistoryEvent,
  type HistoryFileEvent,
  type MessageEvent,
  type OfferEvent,
  type StatsEvent,
} from "./events.ts";
import { Journal } from "./store/journal.ts";
import { describeFsError } from "./store/fs.ts";
import { bytesText, randomId32 } from "./bytes.ts";
import type { FileEntry, History, HistoryEntry } from "./store/history.ts";
import { denoEffects, type Effects } from "./effects.ts";
import type { Clock, TimerId } from "./net/clock.ts";
import { UNREACHABLE_MS, unreachableEvent } from "./unreachable.ts";
import type { NetAddr, TcpListener } from "./net/tcp.ts";
import { PeerPath } from "./peer_path.ts";

export interface PeerOptions {
  bind: string;
  port: number;
  peerIp: string;
  peerPort: number;
  name: string;
  sim?: ImpairSpec;
  /** TCP port for incoming files; the peer learns it from our accepts. */
  filePort: number;
  downloads: string;
  maxFileSize: number;
  /** How files go out (default auto: TCP, or the UDP session when TCP cannot connect). */
  files?: FilesMode;
  /** Which offered files are taken (default all): lib/files/consent.ts. */
  accept?: AcceptMode;
  /** Outbox and receive cursor; in memory when absent. */
  journal?: Journal;
  history?: History;
  /** Where the journal and history are, for the warning when they cannot be written. */
  stateDir?: string;
  /** History lines replayed at start (default 10). */
  historyLines?: number;
  /** Said once at start, e.g. what was repaired in the state directory. */
  notices?: string[];
  /** The shared passphrase, prepared (lib/crypto/passphrase.ts); without one, plaintext. */
  secret?: string;
  /** The interfaces' output (stdout). While a datagram's messages are shown it is held, and it is
   * flushed right after the receive cursor is written: a SIGKILL between storing the cursor and
   * showing the messages then has only the gap between two writes to land in. */
  output?: HeldOutput;
  /** Time, sockets and files (lib/effects.ts): Deno's unless the simulator passes its own. */
  effects?: Effects;
}

/** Output the interfaces write to (stdout), which gathers what it is given while held. */
export interface HeldOutput {
  /** Gathers what is written from now on, until flush() or the end of the task. */
  hold(): void;
  /** Writes what was gathered, now. */
  flush(): void;
}

/** A port that could not be bound, and which protocol it was for. */
export class BindError extends Error {
  constructor(
    readonly protocol: "UDP" | "TCP",
    readonly port: number,
    override readonly cause: unknown,
  ) {
    super(`Cannot bind ${protocol} port ${port}`);
  }
}

/** Text bytes a message may carry: the protocol limit less the application header. */
export const MAX_TEXT_BYTES = MAX_MESSAGE - TEXT_HEADER_BYTES - MAX_NAME_BYTES;

/** A timer this late (ms) was held up by a busy event loop; see #tick. RTO_MIN: any later and a
 * segment sent just before the loop got busy would already time out. */
const TICK_LATE_MS = RTO_MIN;

const encoder = new TextEncoder();

/** A message that arrives this long after it was written waited (in a journal, for a peer that
 * was away): its event carries the sender's time. Shorter gaps are the network, and clocks that
 * differ by a few seconds would only make the shown time jump. */
const WAITED_MS = 5_000;

/** How often a failed write of the state directory is tried again: soon enough that chat resumes
 * within a second of room coming back, rare enough to cost nothing while the disk stays full. */
const STATE_RETRY_MS = 1_000;

export class Peer {
  #o: PeerOptions;
  #link: UdpLink;
  #session: Session;
  #listeners: ((e: ChatEvent) => void)[] = [];
  #clock: Clock;
  #timer: TimerId | undefined;
  #timerAt = Infinity;
  #armQueued = false;
  /** The deadline whose late timer was put off by a turn (see #tick). */
  #deferred = -1;
  #from: string;
  /** Where the peer is, and whether a datagram from elsewhere may move it. */
  #path: PeerPath;
  #closed = false;
  #badMessages = 0;
  #alreadyShown = 0;
  #journal: Journal;
  #history?: History;
  /** While a datagram is handled: what it makes us send, and the messages it delivered. */
  #held: Uint8Array[] | undefined;
  #arrived: ChatEvent[] = [];
  /** Messages received whose history line and receive cursor are not written yet: shown once they
   * are, never before (one shown and then lost to a crash would come again, and show twice). */
  #unshown: ChatEvent[] = [];
  /** A write of the state directory failed: the timer that tries it again. */
  #retry: TimerId | undefined;
  /** Messages whose ids the journal has not durably reserved yet (see RESERVE_IDS). */
  #heldBack: { id: number; name: string; text: string; sentAt: number }[] = [];
  /** "sent" events (and "delivered" ones behind them) waiting for the outbox to be durable. */
  #waiting: ChatEvent[] = [];
  #syncing = false;
  /** Writing the state directory failed and has not succeeded since: warned once, not again. */
  #stateFailing = false;
  #drainWaiters: (() => void)[] = [];
  #undelivered = new Set<number>();
  #files: Transfers;
  /** File streams over the session (low priority: fed only when chat has nothing unsent). */
  #udpFiles: UdpFiles;

  /** Binds the UDP and TCP ports; throws a BindError if either is taken or not allowed. */
  constructor(options: PeerOptions) {
    this.#o = options;
    const fx = options.effects ?? denoEffects;
    this.#clock = fx.clock;
    this.#journal = options.journal ?? Journal.memory();
    this.#history = options.history;
    try {
      this.#link = new UdpLink({ ...options, udp: fx.udp, clock: fx.clock });
    } catch (e) {
      throw new BindError("UDP", options.port, e);
    }
    let listener: TcpListener;
    try {
      listener = fx.tcp.listen({ hostname: options.bind, port: options.filePort });
    } catch (e) {
      this.#link.close();
      throw new BindError("TCP", options.filePort, e);
    }
    this.#from = formatAddress(options.peerIp, options.peerPort);
    this.#path = new PeerPath({
      peer: this.#link.peer,
      authenticated: options.secret !== undefined,
    });
    this.#udpFiles = new UdpFiles({
      port: {
        // Tag 0: internal, like file control.
        send: (m) => {
          this.#session.send(m, 0, this.#clock.now());
          this.#arm();
        },
        unsent: () => this.#session.unsent,
        flush: () => this.#session.flush(this.#clock.now()),
      },
      later: (fn, ms) => void this.#clock.setTimer(fn, ms),
    });
    this.#files = new Transfers({
      downloads: options.downloads,
      filePort: listener.port,
      clock: fx.clock,
      fs: fx.fs,
      tcp: fx.tcp,
      peerIp: options.peerIp,
      maxFileSize: options.maxFileSize,
      name: options.name,
      accept: options.accept ?? "all",
      onOfferRecord: (id, r) => {
        this.#journal.offerChanged(id, r);
        // In the file before the peer hears the answer: a crash then cannot ask it again. The
        // way every write goes, so a receive cursor it carries is never stored ahead of the
        // messages it covers being shown.
        this.#writeThenShow();
        this.#sync();
      },
      sendControl: (c) => {
        this.#session.send(encodeControl(JSON.stringify(c)), 0, this.#clock.now());
        this.#arm();
      },
      emit: (e) => {
        if (e.type === "file_sent" || e.type === "file_received") this.#recordFile(e);
        this.#emit(e);
      },
      isPeerOnline: () => this.#session.online,
      streamKeys: options.secret === undefined ? undefined : () => {
        const k = this.#session.keys;
        return k && { send: k.fileSend, recv: k.fileRecv };
      },
      onOutgoing: (f, active) => {
        if (active) this.#journal.fileStarted(f);
        else this.#journal.fileEnded(f.id);
        // Written now, not when the next datagram comes (none may: a frozen or gone peer), so an
        // offer survives a crash and is made again by the next run.
        this.#sync();
      },
      files: options.files ?? "auto",
      udp: this.#udpFiles,
    }, listener);
    this.#session = new Session({
      epoch: randomId32(),
      output: (d) => this.#held ? this.#held.push(d) : this.#link.send(d),
      durableMarks: this.#journal.onDisk,
      receiveBuffer: this.#link.receiveBuffer,
      onMessage: (data) => this.#onMessage(data),
      onDelivered: (id) => {
        // Tag 0 marks file-control messages: internal, never reported.
        if (id !== 0) {
          this.#journal.acked(id);
          this.#undelivered.delete(id);
          // Never before its "sent", which waits for the disk.
          if (this.#waiting.length) this.#waiting.push({ type: "delivered", id });
          else this.#emit({ type: "delivered", id });
        }
        if (this.#drained) this.#drainWaiters.splice(0).forEach((w) => w());
      },
      onPeer: (state, restarted) => {
        const fingerprint = state === "online" ? this.#session.keys?.fingerprint : undefined;
        this.#emit({
          type: "peer",
          state,
          ...(restarted ? { restarted } : {}),
          ...(fingerprint ? { fingerprint } : {}),
        });
        // A stream over the session breaks with it, as a TCP connection to a restarted peer would.
        if (state === "offline") this.#udpFiles.reset("the peer went offline");
        else if (restarted) this.#udpFiles.reset("the peer restarted");
        if (state === "online") this.#files.onPeerOnline(restarted);
      },
      passphrase: options.secret,
      onAuthFailed: (why, f) =>
        this.#emit(
          f
            ? {
              type: "error",
              code: "auth_failed",
              message: authFailedMessage(f, this.#from),
              from: this.#from,
              count: f.count,
              retryIn: Math.ceil(f.retryIn / 1000),
            }
            : {
              type: "error",
              code: why === "peer_version" ? "peer_version" : "auth_failed",
              message: AUTH_FAILURES[why],
            },
        ),
    });
  }

  get port(): number {
    return this.#link.port;
  }

  get online(): boolean {
    return this.#session.online;
  }

  /** With a passphrase, once the peer proved it: this session's keys (for pairing). */
  get keys(): { fileSend: Uint8Array; fileRecv: Uint8Array } | undefined {
    return this.#session.keys;
  }

  /** Chat messages sent but not yet acknowledged. */
  get pending(): number {
    return this.#undelivered.size;
  }

  /** The journal and history are being written (false while the state directory fails). */
  get keeping(): boolean {
    return !this.#stateFailing;
  }

  /** File transfers not yet finished, in either direction. */
  get transfers(): number {
    return this.#files.active;
  }

  on(listener: (e: ChatEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Announces itself, replays recent history, queues what an earlier run left unsent, and
   * starts receiving. */
  start(): void {
    this.#emit({
      type: "ready",
      port: this.port,
      bind: this.#o.bind,
      peer: this.#from,
      name: this.#o.name,
      encrypted: this.#session.encrypted,
      ...(this.#o.sim ? { sim: describeSim(this.#o.sim) } : {}),
    });
    for (const message of this.#o.notices ?? []) {
      this.#emit({ type: "error", code: "state_repaired", message });
    }
    const weak = this.#o.secret === undefined ? undefined : weakPassphraseWarning(this.#o.secret);
    if (weak) this.#emit({ type: "error", code: "weak_passphrase", message: weak });
    const now = this.#clock.now();
    for (const m of this.#journal.pending()) {
      this.#undelivered.add(m.id);
      this.#session.send(this.#encode({ ...m, sentAt: m.at }), m.id, now);
    }
    for (const e of this.history(this.#o.historyLines ?? 10)) this.#emit(e);
    this.#files.restoreOffers(this.#journal.offers());
    void this.#files.resume(this.#journal.files());
    let heard = false;
    const unreachable = this.#clock.setTimer(() => {
      if (!heard && !this.#closed) {
        this.#emit(unreachableEvent(this.#from, { encrypted: this.#o.secret !== undefined }));
      }
    }, UNREACHABLE_MS);
    // A batch of datagrams (`more` until its last) is one event: one time, what they make us send
    // goes at its end (one ACK for all: Session.input), and so does the journal's write.
    let batch: number | undefined;
    this.#link.receive((d, from, more) => {
      const now = batch ?? this.#clock.now();
      const { admission, report } = this.#path.admit(d, from, now);
      if (report) {
        const where = formatAddress(from.hostname, from.port);
        this.#emit({ type: "error", code: "foreign_address", message: report, from: where });
      }
      if (admission !== "refused") {
        batch = now;
        this.#held ??= [];
        const opened = this.#session.input(d, now, true);
        if (admission === "candidate") {
          if (opened) this.#moved(from);
          else this.#path.notOpened();
        }
        if (!heard && (admission === "current" || opened)) {
          heard = true;
          this.#clock.clearTimer(unreachable);
        }
      }
      if (more || batch === undefined) return;
      batch = undefined;
      this.#session.flush(now);
      this.#release();
      this.#udpFiles.feed();
      this.#arm();
    });
    this.#files.serve();
    this.#tick();
  }

  /** A datagram from `from` opened under the session's keys and was the newest: the peer is
   * there now. Its replies (held until now) go there, and so does everything after. */
  #moved(from: NetAddr): void {
    const old = this.#path.opened(from);
    if (!old) return;
    this.#link.peer = this.#path.peer;
    this.#files.movePeer(from.hostname);
    this.#from = formatAddress(from.hostname, from.port);
    this.#emit({ type: "moved", from: formatAddress(old.hostname, old.port), to: this.#from });
  }

  /** Offers files or folders to the peer; progress and results arrive as events. */
  sendFiles(paths: string[]): Promise<void> {
    if (!this.#stateFailing) return this.#files.send(paths);
    // An offer the journal cannot keep would be forgotten by a crash or a quit, on both sides:
    // refused now, said plainly, rather than lost without a word later.
    const where = this.#o.stateDir ? `the state directory ${this.#o.stateDir}` : "the journal";
    for (const path of paths) {
      this.#emit({
        type: "error",
        code: "transfer_failed",
        message: `Cannot send ${path}: ${where} cannot be written, so the offer would not ` +
          "survive a restart; send it again once it can be",
        path,
      });
    }
    return Promise.resolve();
  }

  /** Offers the peer made that wait for an answer (--accept ask), oldest first. */
  offers(): OfferEvent[] {
    return this.#files.offers();
  }

  /** Accepts or declines a pending offer; false if `id` is not one. */
  answerOffer(id: string, accept: boolean): boolean {
    return this.#files.answerOffer(id, accept);
  }

  /** Sends a chat message; returns its id, or undefined (with an error event) if it is refused. */
  send(text: string): number | undefined {
    if (this.#closed) return undefined;
    // UTF-8 takes at most three bytes per UTF-16 code unit: only long texts need measuring.
    const bytes = text.length * 3 <= MAX_TEXT_BYTES ? 0 : encoder.encode(text).length;
    if (bytes > MAX_TEXT_BYTES) {
      this.#emit({
        type: "error",
        code: "too_long",
        message: `Cannot send message: ${bytesText(bytes)} is over the limit of ${
          bytesText(MAX_TEXT_BYTES)
        }`,
      });
      return undefined;
    }
    const name = this.#o.name;
    const sentAt = this.#clock.wall();
    const id = this.#journal.addOut(name, text, sentAt);
    this.#record({ dir: "out", id, name, text, at: new Date(sentAt).toISOString() });
    this.#undelivered.add(id);
    // Reported once durable (the datagrams need not wait: an unsent "sent" promises nothing).
    this.#waiting.push(
      this.online ? { type: "sent", id, text } : { type: "sent", id, text, queued: true },
    );
    const m = { id, name, text, sentAt };
    // Past the journal's durable reservation (a burst, or a failing disk), it waits for the sync.
    if (this.#heldBack.length || !this.#journal.mayGoOut(id)) this.#heldBack.push(m);
    else this.#session.send(this.#encode(m), id, this.#clock.now());
    this.#sync();
    this.#arm();
    return id;
  }

  /** The last `n` history entries as events, for one interface to show (after start, when
   * every message an earlier run left unacknowledged is among the undelivered). */
  history(n: number): (HistoryEvent | HistoryFileEvent)[] {
    return (this.#history?.last(n) ?? []).map((h) =>
      "file" in h
        ? fileHistoryEvent(h)
        : h.dir === "out"
        ? { type: "history", ...h, delivered: !this.#undelivered.has(h.id) }
        : { type: "history", ...h }
    );
  }

  stats(): StatsEvent {
    const session = this.#session.stats();
    return {
      type: "stats",
      ...session,
      malformed: session.malformed + this.#badMessages,
      alreadyShown: this.#alreadyShown,
      foreign: this.#path.counts.foreign,
      sendErrors: this.#link.counts.sendErrors,
      pending: this.pending,
      tcpRefused: this.#files.counts.refused,
      tcpBadHeader: this.#files.counts.badHeader,
      tcpOverloaded: this.#files.counts.overloaded,
      cipher: this.#session.encrypted ? `ChaCha20-Poly1305 (${aeadName()})` : "none",
    };
  }

  get #drained(): boolean {
    return this.#session.pending === 0 && this.#heldBack.length === 0;
  }

  /** Resolves true once everything sent is acknowledged, false if `timeoutMs` passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#drained) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimer(() => resolve(false), timeoutMs);
      this.#drainWaiters.push(() => {
        this.#clock.clearTimer(timer);
        resolve(true);
      });
    });
  }

  /** Drops the messages not yet delivered from the journal, so that no later run sends them
   * (--no-keep); returns how many. Call before close(). */
  async forgetUndelivered(): Promise<number> {
    const ids = [...this.#undelivered];
    for (const id of ids) this.#journal.acked(id);
    this.#undelivered.clear();
    this.#heldBack = [];
    try {
      this.#journal.write();
      await this.#journal.sync();
    } catch (e) {
      this.#writeFailed(e);
    }
    return ids.length;
  }

  /** Says goodbye to the peer and releases the socket and timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimer(this.#timer);
    let stored = true;
    try {
      this.#history?.close();
      this.#journal.close();
    } catch (e) {
      stored = false;
      this.#writeFailed(e);
      // Not a cursor past a history line that did not fit: what is lost is then lost whole.
      this.#history?.file.discard();
      for (const f of this.#journal.discard()) {
        this.#emit({
          type: "error",
          code: "transfer_failed",
          message: `Cannot keep ${f.name} for the next run: the journal could not be written; ` +
            "send it again",
          id: f.id,
          name: f.name,
        });
      }
    }
    this.#clock.clearTimer(this.#retry);
    if (stored) {
      this.#stateFailing = false;
      for (const e of [...this.#unshown.splice(0), ...this.#waiting.splice(0)]) this.#emit(e);
      // Everything received is stored now, so the peer may forget it; then the goodbye.
      this.#session.markDurable(this.#session.durableMark(), this.#clock.now());
    }
    this.#session.close(this.#clock.now());
    this.#link.close();
    this.#files.close();
  }

  #onMessage(data: Uint8Array): void {
    const m = decodeApp(data);
    if (typeof m !== "string" && m.kind === "file") return this.#udpFiles.onFrame(m.bytes);
    if (typeof m !== "string" && m.kind === "control") {
      const c = parseControl(m.json);
      if (typeof c === "string") this.#badMessages++;
      else this.#files.onControl(c);
      return;
    }
    if (typeof m === "string") {
      this.#badMessages++;
      return;
    }
    // A message delivered before a restart of either side comes again: count it, show it once.
    if (!this.#journal.accept(m.origin, m.id)) {
      this.#alreadyShown++;
      return;
    }
    const now = this.#clock.wall();
    const at = new Date(now).toISOString();
    this.#record({ dir: "in", id: m.id, name: m.name, text: m.text, at });
    const from = this.#from;
    const e: MessageEvent = { type: "message", id: m.id, text: m.text, from, name: m.name, at };
    // A message that waited (the peer was offline, or we were) carries when it was written.
    if (m.sentAt !== undefined && now - m.sentAt > WAITED_MS) {
      e.sentAt = new Date(m.sentAt).toISOString();
    }
    this.#arrived.push(e);
  }

  /** After a datagram: the messages it delivered go into the history, the new receive cursor is
   * written (a SIGKILL cannot lose it), the messages are shown, and only then do its replies leave
   * (sending first made every message show 0.1 ms later here). The peer learns they are stored
   * once they are durable. */
  #release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    this.#unshown.push(...this.#arrived.splice(0));
    this.#writeThenShow();
    for (const d of held) this.#link.send(d);
    if (this.#journal.cursorUnsynced) this.#sync();
    else this.#session.markDurable(this.#session.durableMark(), this.#clock.now());
  }

  /** Writes the history, then the journal (a cursor is never stored ahead of its history line),
   * then shows the messages that waited for it. A failed write is said once and tried again in
   * STATE_RETRY_MS; meanwhile they wait. Returns whether it was written. */
  #writeThenShow(): boolean {
    try {
      this.#history?.file.write();
      this.#journal.write();
    } catch (e) {
      this.#writeFailed(e);
      return false;
    }
    this.#showUnshown();
    return true;
  }

  /** Shows the messages whose history line and cursor are now written, in one write (held
   * output). */
  #showUnshown(count = this.#unshown.length): void {
    if (!count) return;
    this.#o.output?.hold();
    for (const e of this.#unshown.splice(0, count)) this.#emit(e);
    this.#o.output?.flush();
  }

  /** Group commit: one fdatasync covers everything appended before it starts. Then the "sent"
   * events that were waiting when it started go out, and the peer learns how far what we had
   * received by then is stored (so it may forget those messages). The ACKs themselves never wait
   * for the disk: holding them made every fdatasync a retransmission timeout for the sender. */
  async #sync(): Promise<void> {
    if (this.#syncing) return;
    this.#syncing = true;
    try {
      while (this.#journal.unsynced) {
        const waiting = this.#waiting.length, mark = this.#session.durableMark();
        const unshown = this.#unshown.length;
        // The history is written first: a cursor is never stored ahead of its history line (a
        // full disk took the history's write and not the journal's smaller one: seed 3384).
        this.#history?.file.write();
        await Promise.all([this.#journal.sync(), this.#history?.file.sync()]);
        // Written again (there is room once more): a later failure is worth a new warning.
        this.#stateFailing = false;
        if (this.#closed) return;
        this.#stored(waiting, mark, unshown);
      }
    } catch (e) {
      // Nothing is reported sent, and the peer is not told it is stored, until it is.
      if (!this.#closed) this.#writeFailed(e);
      return;
    } finally {
      this.#syncing = false;
    }
    if (this.#closed) return;
    this.#stored(this.#waiting.length, this.#session.durableMark(), this.#unshown.length);
  }

  /** Says once, not at every datagram, that the state directory cannot be written and what that
   * costs. What was appended stays in memory and is written once there is room again. */
  #writeFailed(e: unknown): void {
    if (!this.#closed && this.#retry === undefined) {
      this.#retry = this.#clock.setTimer(() => {
        this.#retry = undefined;
        if (!this.#closed && this.#writeThenShow()) this.#sync();
      }, STATE_RETRY_MS);
    }
    if (this.#stateFailing) return;
    this.#stateFailing = true;
    const where = this.#o.stateDir ? `the state directory ${this.#o.stateDir}` : "the journal";
    this.#emit({
      type: "error",
      code: "state_write_failed",
      message: `Cannot write ${where}: ${describeFsError(e)}. Until it can be written, ` +
        "messages that arrive wait unshown and yours are not reported sent (the peer keeps " +
        "them, so nothing is lost or shown twice), and a restart would not resume the files " +
        "being sent; trying again every second",
    });
  }

  /** Emits the first `waiting` events and marks what was received up to `mark` as stored. */
  #stored(waiting: number, mark: DurableMark, unshown: number): void {
    // A sync writes what a failed write left, cursors included: the messages that waited for them
    // when it began are stored, so they are shown now (the peer is about to forget them), not at
    // the next retry (seed 2046).
    this.#showUnshown(unshown);
    while (this.#heldBack.length && this.#journal.mayGoOut(this.#heldBack[0].id)) {
      const m = this.#heldBack.shift()!;
      this.#session.send(this.#encode(m), m.id, this.#clock.now());
    }
    for (const e of this.#waiting.splice(0, waiting)) this.#emit(e);
    this.#session.markDurable(mark, this.#clock.now());
    this.#arm();
  }

  #encode(m: { id: number; name: string; text: string; sentAt?: number }): Uint8Array {
    return encodeText({
      origin: this.#journal.origin,
      id: m.id,
      name: m.name,
      text: m.text,
      sentAt: m.sentAt,
    });
  }

  #record(h: HistoryEntry): void {
    this.#history?.append(h);
  }

  /** A finished transfer goes into the history, written at once (so it survives a SIGKILL; the
   * next sync or the exit makes it durable): a page opened later or the next start shows it. */
  #recordFile(e: FileDoneEvent): void {
    if (!this.#history) return;
    const { id: file, name, path, size, sha256 } = e;
    const at = new Date(this.#clock.wall()).toISOString();
    this.#history.append({
      dir: e.type === "file_sent" ? "out" : "in",
      file,
      name,
      path,
      size,
      sha256,
      at,
    });
    try {
      this.#history.file.write();
    } catch (err) {
      this.#writeFailed(err);
    }
  }

  #tick = () => {
    const at = this.#timerAt;
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    const now = this.#clock.now();
    // Late means the event loop was busy, and timers run before sockets are read: ACKs that came
    // meanwhile are still unread, and every segment in flight would look lost. One zero-delay
    // turn reads them first (once per deadline, so a busy loop cannot put the timers off).
    if (now - at > TICK_LATE_MS && this.#deferred !== at) {
      this.#deferred = at;
      this.#timerAt = at;
      this.#timer = this.#clock.setTimer(this.#tick, 0);
      return;
    }
    this.#session.tick(now);
    this.#udpFiles.feed();
    this.#arm();
  };

  /** Keeps one timer set for the session's next deadline, worked out once the current task is
   * done: a paste of thousands of lines would otherwise scan the send window once per line. */
  #arm(): void {
    if (this.#armQueued) return;
    this.#armQueued = true;
    queueMicrotask(() => {
      this.#armQueued = false;
      this.#armNow();
    });
  }

  #armNow(): void {
    if (this.#closed) return;
    const at = this.#session.nextDeadline();
    // A timer set for earlier stays: it finds nothing due and sets the next one then, which costs
    // less than moving it at every send and ACK.
    if (at >= this.#timerAt) return;
    this.#clock.clearTimer(this.#timer);
    this.#timerAt = at;
    this.#timer = at === Infinity
      ? undefined
      : this.#clock.setTimer(this.#tick, Math.max(0, at - this.#clock.now()));
  }

  #emit(e: ChatEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

function fileHistoryEvent({ file, ...rest }: FileEntry): HistoryFileEvent {
  return { type: "history_file", ...rest, id: file };
}

const AUTH_FAILURES: Record<AuthFailure, string> = {
  passphrase_differs:
    "The peer's passphrase differs: nothing was exchanged; check that both sides use the same one",
  peer_unencrypted:
    "The peer has no passphrase (it runs unencrypted): nothing was exchanged; give it the same one",
  peer_encrypted: "The peer uses a passphrase and this side has none: nothing was exchanged; " +
    "set CHATNET_SECRET, --secret-file or --ask-secret",
  peer_version: "The peer runs a chatnet release with another protocol version: nothing was " +
    "exchanged; run the same release on both sides (chatnet --version)",
};
