/**
 * The running peer: one Session fed by one UdpLink, driven by one timer, plus the file transfers
 * on a TCP listener. It turns commands into protocol messages and protocol callbacks into
 * ChatEvents for whichever interface listens.
 */
import { Session } from "./protocol/session.ts";
import { MAX_MESSAGE } from "./protocol/constants.ts";
import { UdpLink } from "./net/udp.ts";
import { describeSim, type ImpairSpec } from "./net/impair.ts";
import { decodeApp, encodeControl, encodeText, MAX_NAME_BYTES } from "./app_message.ts";
import { Transfers } from "./files/transfers.ts";
import { parseControl } from "./files/control.ts";
import { type ChatEvent, formatAddress, type StatsEvent } from "./events.ts";

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
export const MAX_TEXT_BYTES = MAX_MESSAGE - 6 - MAX_NAME_BYTES;

export class Peer {
  #o: PeerOptions;
  #link: UdpLink;
  #session: Session;
  #listeners: ((e: ChatEvent) => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #nextId = 1;
  #from: string;
  #closed = false;
  #badMessages = 0;
  #drainWaiters: (() => void)[] = [];
  #undelivered = new Set<number>();
  #files: Transfers;

  /** Binds the UDP and TCP ports; throws a BindError if either is taken or not allowed. */
  constructor(options: PeerOptions) {
    this.#o = options;
    try {
      this.#link = new UdpLink(options);
    } catch (e) {
      throw new BindError("UDP", options.port, e);
    }
    let listener: Deno.Listener;
    try {
      listener = Deno.listen({ hostname: options.bind, port: options.filePort });
    } catch (e) {
      this.#link.close();
      throw new BindError("TCP", options.filePort, e);
    }
    this.#from = formatAddress(options.peerIp, options.peerPort);
    this.#files = new Transfers({
      downloads: options.downloads,
      filePort: (listener.addr as Deno.NetAddr).port,
      peerIp: options.peerIp,
      maxFileSize: options.maxFileSize,
      sendControl: (c) => {
        this.#session.send(encodeControl(JSON.stringify(c)), 0, performance.now());
        this.#arm();
      },
      emit: (e) => this.#emit(e),
      isPeerOnline: () => this.#session.online,
    }, listener);
    this.#session = new Session({
      epoch: randomEpoch(),
      output: (d) => this.#link.send(d),
      onMessage: (data) => this.#onMessage(data),
      onDelivered: (id) => {
        // Tag 0 marks file-control messages: internal, never reported.
        if (id !== 0) {
          this.#undelivered.delete(id);
          this.#emit({ type: "delivered", id });
        }
        if (this.#session.pending === 0) this.#drainWaiters.splice(0).forEach((w) => w());
      },
      onPeer: (state, restarted) => {
        this.#emit(restarted ? { type: "peer", state, restarted } : { type: "peer", state });
        if (state === "online") this.#files.onPeerOnline();
      },
    });
  }

  get port(): number {
    return this.#link.port;
  }

  get online(): boolean {
    return this.#session.online;
  }

  /** Chat messages sent but not yet acknowledged. */
  get pending(): number {
    return this.#undelivered.size;
  }

  /** File transfers not yet finished, in either direction. */
  get transfers(): number {
    return this.#files.active;
  }

  on(listener: (e: ChatEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Announces itself and starts receiving. */
  start(): void {
    this.#emit({
      type: "ready",
      port: this.port,
      bind: this.#o.bind,
      peer: this.#from,
      name: this.#o.name,
      encrypted: false,
      ...(this.#o.sim ? { sim: describeSim(this.#o.sim) } : {}),
    });
    this.#link.receive((d) => {
      this.#session.input(d, performance.now());
      this.#arm();
    });
    this.#files.serve();
    this.#tick();
  }

  /** Offers files or folders to the peer; progress and results arrive as events. */
  sendFiles(paths: string[]): Promise<void> {
    return this.#files.send(paths);
  }

  /** Sends a chat message; returns its id, or undefined (with an error event) if it is refused. */
  send(text: string): number | undefined {
    if (this.#closed) return undefined;
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_TEXT_BYTES) {
      this.#emit({
        type: "error",
        code: "too_long",
        message: `Cannot send message: ${bytes} bytes is over the ${MAX_TEXT_BYTES}-byte limit`,
      });
      return undefined;
    }
    const id = this.#nextId++;
    this.#undelivered.add(id);
    this.#emit({ type: "sent", id, text });
    this.#session.send(encodeText({ id, name: this.#o.name, text }), id, performance.now());
    this.#arm();
    return id;
  }

  stats(): StatsEvent {
    const session = this.#session.stats();
    return {
      type: "stats",
      ...session,
      malformed: session.malformed + this.#badMessages,
      foreign: this.#link.counts.foreign,
      sendErrors: this.#link.counts.sendErrors,
      pending: this.pending,
      tcpRefused: this.#files.counts.refused,
      tcpBadHeader: this.#files.counts.badHeader,
      tcpOverloaded: this.#files.counts.overloaded,
    };
  }

  /** Resolves true once everything sent is acknowledged, false if `timeoutMs` passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#session.pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#drainWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Says goodbye to the peer and releases the socket and timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#session.close(performance.now());
    clearTimeout(this.#timer);
    this.#link.close();
    this.#files.close();
  }

  #onMessage(data: Uint8Array): void {
    const m = decodeApp(data);
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
    this.#emit({
      type: "message",
      id: m.id,
      text: m.text,
      from: this.#from,
      name: m.name,
      at: new Date().toISOString(),
    });
  }

  #tick = () => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    this.#session.tick(performance.now());
    this.#arm();
  };

  /** Keeps one timer set for the session's next deadline. */
  #arm(): void {
    if (this.#closed) return;
    const at = this.#session.nextDeadline();
    if (at === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = at === Infinity
      ? undefined
      : setTimeout(this.#tick, Math.max(0, at - performance.now()));
  }

  #emit(e: ChatEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

function randomEpoch(): number {
  const [n] = crypto.getRandomValues(new Uint32Array(1));
  return n || 1;
}
