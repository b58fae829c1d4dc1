/**
 * The running peer: one Session fed by one UdpLink, driven by one timer, plus the file transfers
 * on a TCP listener. It builds those parts, wires them to each other and to the socket, turns
 * commands into protocol messages and protocol callbacks into ChatEvents for whichever interface
 * listens. Its parts, each with one job, are in lib/peer/: the message path (delivery.ts), the
 * state directory's writes (keeping.ts), the timer (timer.ts) and the options (options.ts).
 */
import { Session } from "./protocol/session.ts";
import { authFailedEvent, weakPassphraseWarning } from "./auth_report.ts";
import { aeadName } from "./crypto/aead.ts";
import { UdpLink } from "./net/udp.ts";
import { describeSim } from "./net/impair.ts";
import { decodeApp, encodeControl } from "./app_message.ts";
import { Transfers } from "./files/transfers.ts";
import { parseControl } from "./files/control.ts";
import { UdpFiles } from "./files/udp_stream.ts";
import {
  type ChatEvent,
  formatAddress,
  type HistoryEvent,
  type HistoryFileEvent,
  type OfferEvent,
  type OfferWaitingEvent,
  type StatsEvent,
} from "./events.ts";
import { Journal } from "./store/journal.ts";
import { randomId32 } from "./bytes.ts";
import type { History } from "./store/history.ts";
import { denoEffects } from "./effects.ts";
import type { Clock } from "./net/clock.ts";
import { UNREACHABLE_MS, unreachableEvent } from "./unreachable.ts";
import type { NetAddr, TcpListener } from "./net/tcp.ts";
import { PeerPath } from "./peer_path.ts";
import type { PeerOptions } from "./peer/options.ts";
import { Delivery } from "./peer/delivery.ts";
import { Keeping } from "./peer/keeping.ts";
import { PeerTimer } from "./peer/timer.ts";

export type { HeldOutput, PeerOptions } from "./peer/options.ts";
export { MAX_TEXT_BYTES } from "./peer/delivery.ts";

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

export class Peer {
  #o: PeerOptions;
  #link: UdpLink;
  #session: Session;
  #listeners: ((e: ChatEvent) => void)[] = [];
  #clock: Clock;
  #timer: PeerTimer;
  #from: string;
  /** Where the peer is, and whether a datagram from elsewhere may move it. */
  #path: PeerPath;
  #closed = false;
  #badMessages = 0;
  #journal: Journal;
  #history?: History;
  /** Messages in and out, and the writes they wait for. */
  #delivery: Delivery;
  #keeping: Keeping;
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
    this.#keeping = new Keeping({
      journal: this.#journal,
      history: this.#history,
      stateDir: options.stateDir,
      clock: fx.clock,
      emit: (e) => this.#emit(e),
      closed: () => this.#closed,
      written: () => this.#delivery.showUnshown(),
      covered: () => this.#delivery.covered(),
      stored: (c) => this.#delivery.stored(c),
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
      onOfferRecord: (id, r) => this.#keeping.offerChanged(id, r),
      sendControl: (c) => {
        this.#session.send(encodeControl(JSON.stringify(c)), 0, this.#clock.now());
        this.#arm();
      },
      emit: (e) => {
        if (e.type === "file_sent" || e.type === "file_received") this.#keeping.recordFile(e);
        this.#emit(e);
      },
      isPeerOnline: () => this.#session.online,
      streamKeys: options.secret === undefined ? undefined : () => {
        const k = this.#session.keys;
        return k && { send: k.fileSend, recv: k.fileRecv };
      },
      onOutgoing: (f, active) => this.#keeping.outgoing(f, active),
      files: options.files ?? "auto",
      udp: this.#udpFiles,
    }, listener);
    this.#session = new Session({
      epoch: randomId32(),
      output: (d) => this.#delivery.output(d),
      durableMarks: this.#journal.onDisk,
      receiveBuffer: this.#link.receiveBuffer,
      onMessage: (data) => this.#onMessage(data),
      onDelivered: (id) => this.#delivery.delivered(id),
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
      onAuthFailed: (why, f) => this.#emit(authFailedEvent({ why, f, from: this.#from })),
    });
    this.#delivery = new Delivery({
      name: options.name,
      output: options.output,
      journal: this.#journal,
      history: this.#history,
      keeping: this.#keeping,
      clock: fx.clock,
      session: this.#session,
      link: this.#link,
      emit: (e) => this.#emit(e),
      arm: () => this.#arm(),
      closed: () => this.#closed,
      from: () => this.#from,
    });
    this.#timer = new PeerTimer({
      clock: fx.clock,
      session: this.#session,
      udpFiles: this.#udpFiles,
      closed: () => this.#closed,
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
    return this.#delivery.pending;
  }

  /** The journal and history are being written (false while the state directory fails). */
  get keeping(): boolean {
    return this.#keeping.keeping;
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
    this.#delivery.resend();
    for (const e of this.history(this.#o.historyLines ?? 10)) this.#emit(e);
    this.#files.restoreOffers(this.#journal.offers());
    void this.#files.resume(this.#journal.files());
    let heard = false;
    const unreachable = this.#clock.setTimer(() => {
      if (!heard && !this.#closed) {
        const encrypted = this.#o.secret !== undefined;
        this.#emit(unreachableEvent(this.#from, { encrypted, port: this.port }));
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
        this.#delivery.hold();
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
      this.#delivery.release();
      this.#udpFiles.feed();
      this.#arm();
    });
    this.#files.serve();
    this.#timer.start();
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
    if (this.#keeping.keeping) return this.#files.send(paths);
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

  /** Tells every interface `message` (a notice event), between the events around it. */
  notice(message: string): void {
    this.#emit({ type: "notice", message });
  }

  /** Our offers the peer's user is being asked about, oldest first. */
  waiting(): OfferWaitingEvent[] {
    return this.#files.waiting();
  }

  /** Accepts or declines a pending offer; false if `id` is not one. */
  answerOffer(id: string, accept: boolean): boolean {
    return this.#files.answerOffer(id, accept);
  }

  /** Sends a chat message; returns its id, or undefined (with an error event) if it is refused. */
  send(text: string): number | undefined {
    return this.#delivery.send(text);
  }

  /** The last `n` history entries as events, for one interface to show (after start, when
   * every message an earlier run left unacknowledged is among the undelivered). */
  history(n: number): (HistoryEvent | HistoryFileEvent)[] {
    return this.#delivery.history(n);
  }

  stats(): StatsEvent {
    const session = this.#session.stats();
    return {
      type: "stats",
      ...session,
      malformed: session.malformed + this.#badMessages,
      alreadyShown: this.#delivery.alreadyShown,
      foreign: this.#path.counts.foreign,
      sendErrors: this.#link.counts.sendErrors,
      pending: this.pending,
      tcpRefused: this.#files.counts.refused,
      tcpBadHeader: this.#files.counts.badHeader,
      tcpOverloaded: this.#files.counts.overloaded,
      cipher: this.#session.encrypted ? `ChaCha20-Poly1305 (${aeadName()})` : "none",
    };
  }

  /** Resolves true once everything sent is acknowledged, false if `timeoutMs` passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    return this.#delivery.drained(timeoutMs);
  }

  /** Drops the messages not yet delivered from the journal, so that no later run sends them
   * (--no-keep); returns how many. Call before close(). */
  forgetUndelivered(): Promise<number> {
    return this.#delivery.forgetUndelivered();
  }

  /** Says goodbye to the peer and releases the socket and timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer.stop();
    this.#delivery.close();
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
    this.#delivery.onText(m);
  }

  #arm(): void {
    this.#timer.arm();
  }

  #emit(e: ChatEvent): void {
    for (const l of this.#listeners) l(e);
  }
}
