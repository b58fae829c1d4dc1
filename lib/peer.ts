/**
 * The running peer: one Session fed by one UdpLink, driven by one timer. It turns commands into
 * protocol messages and protocol callbacks into ChatEvents for whichever interface listens.
 */
import { Session } from "./protocol/session.ts";
import { MAX_MESSAGE } from "./protocol/constants.ts";
import { UdpLink } from "./net/udp.ts";
import { describeSim, type ImpairSpec } from "./net/impair.ts";
import { decodeApp, encodeText, MAX_NAME_BYTES } from "./app_message.ts";
import { type ChatEvent, formatAddress, type StatsEvent } from "./events.ts";

export interface PeerOptions {
  bind: string;
  port: number;
  peerIp: string;
  peerPort: number;
  name: string;
  sim?: ImpairSpec;
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

  /** Binds the UDP port; throws the Deno error (AddrInUse, PermissionDenied…) if it cannot. */
  constructor(options: PeerOptions) {
    this.#o = options;
    this.#link = new UdpLink(options);
    this.#from = formatAddress(options.peerIp, options.peerPort);
    this.#session = new Session({
      epoch: randomEpoch(),
      output: (d) => this.#link.send(d),
      onMessage: (data) => this.#onMessage(data),
      onDelivered: (id) => {
        this.#emit({ type: "delivered", id });
        if (this.#session.pending === 0) this.#drainWaiters.splice(0).forEach((w) => w());
      },
      onPeer: (state, restarted) =>
        this.#emit(restarted ? { type: "peer", state, restarted } : { type: "peer", state }),
    });
  }

  get port(): number {
    return this.#link.port;
  }

  get online(): boolean {
    return this.#session.online;
  }

  /** Messages sent but not yet acknowledged. */
  get pending(): number {
    return this.#session.pending;
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
    this.#tick();
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
    this.#emit({ type: "sent", id, text });
    this.#session.send(encodeText({ id, name: this.#o.name, text }), id, performance.now());
    this.#arm();
    return id;
  }

  stats(): StatsEvent {
    return {
      type: "stats",
      ...this.#session.stats(),
      malformed: this.#session.stats().malformed + this.#badMessages,
      foreign: this.#link.counts.foreign,
      sendErrors: this.#link.counts.sendErrors,
      pending: this.pending,
    };
  }

  /** Resolves true once everything sent is acknowledged, false if `timeoutMs` passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
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
  }

  #onMessage(data: Uint8Array): void {
    const m = decodeApp(data);
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
