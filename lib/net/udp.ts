/**
 * The only file that touches the UDP socket. `Udp` is the socket behind an interface (`denoUdp`
 * the real one, the simulator a virtual one); UdpLink binds through it, sends (through the `--sim`
 * impairment when asked) to the peer's address (which moves when the peer does: lib/peer_path.ts),
 * and runs one receive loop that hands every datagram on with its source.
 */
import { Impairment, type ImpairSpec } from "./impair.ts";
import { MAX_DATAGRAM } from "../protocol/constants.ts";
import type { NetAddr } from "./tcp.ts";
import { type Clock, denoClock, type TimerId } from "./clock.ts";

export interface UdpSocket {
  readonly port: number;
  send(data: Uint8Array, to: NetAddr): Promise<unknown>;
  /** The next datagram, in `buffer` (cut to its size), and who sent it. Rejects once closed. */
  receive(buffer: Uint8Array): Promise<[Uint8Array, NetAddr]>;
  close(): void;
  /** Bytes its receive buffer holds (SO_RCVBUF), when known. */
  readonly receiveBuffer?: number;
  /** Where the socket moves several at once (lib/net/udp_native.ts): sends them all to `to` now
   * and returns how many the kernel took. */
  sendMany?(datagrams: Uint8Array[], to: NetAddr): number;
  /** Waits for datagrams and hands each queued one (a view valid during the call) to
   * `onDatagram`, `more` until the last; resolves with how many. Rejects once closed. */
  receiveMany?(
    onDatagram: (datagram: Uint8Array, from: NetAddr, more: boolean) => void,
  ): Promise<number>;
}

export interface Udp {
  /** Throws Deno.errors.AddrInUse and friends (the simulator throws the same) for start.ts. */
  bind(o: NetAddr): UdpSocket;
}

export const denoUdp: Udp = {
  bind(o) {
    const conn = Deno.listenDatagram({ transport: "udp", hostname: o.hostname, port: o.port });
    return {
      port: (conn.addr as Deno.NetAddr).port,
      send: (data, to) => conn.send(data, { transport: "udp", ...to }),
      receive: (buffer) => conn.receive(buffer) as Promise<[Uint8Array, Deno.NetAddr]>,
      close: () => conn.close(),
    };
  },
};

export interface UdpOptions {
  bind: string;
  port: number;
  /** The peer's resolved IP address and port. */
  peerIp: string;
  peerPort: number;
  sim?: ImpairSpec;
  udp?: Udp;
  clock?: Clock;
}

export class UdpLink {
  #conn: UdpSocket;
  #o: UdpOptions;
  #clock: Clock;
  #impair?: Impairment;
  #closed = false;
  #timers = new Set<TimerId>();
  /** Datagrams for the peer gathered during this task, for a socket that sends many at once. */
  #batch: Uint8Array[] = [];
  /** Where datagrams go: the configured peer, until it moves (lib/peer_path.ts). */
  peer: NetAddr;
  counts = { sendErrors: 0, receiveErrors: 0, oversized: 0 };

  /** Binds the socket. Throws Deno.errors.AddrInUse and friends for the caller to word. */
  constructor(options: UdpOptions) {
    this.#o = options;
    this.#clock = options.clock ?? denoClock;
    this.peer = { hostname: options.peerIp, port: options.peerPort };
    this.#conn = (options.udp ?? denoUdp).bind({ hostname: options.bind, port: options.port });
    if (options.sim) this.#impair = new Impairment(options.sim);
  }

  get port(): number {
    return this.#conn.port;
  }

  /** Bytes the socket's receive buffer holds, when known (the session tells the peer). */
  get receiveBuffer(): number | undefined {
    return this.#conn.receiveBuffer;
  }

  get simCounts(): Impairment["counts"] | undefined {
    return this.#impair?.counts;
  }

  send(datagram: Uint8Array): void {
    if (!this.#impair) return this.#write(datagram);
    const now = this.#clock.now();
    for (const { at, data } of this.#impair.apply(datagram, now)) {
      if (at <= now) {
        this.#write(data);
        continue;
      }
      const timer = this.#clock.setTimer(() => {
        this.#timers.delete(timer);
        this.#write(data);
      }, at - now);
      this.#timers.add(timer);
    }
  }

  /** Receives until closed; `onDatagram` gets a view into a reused buffer, valid during the call,
   * the sender's address (whoever it is: the caller decides), and whether more of the datagrams
   * that arrived together follow at once. */
  async receive(
    onDatagram: (datagram: Uint8Array, from: NetAddr, more: boolean) => void,
  ): Promise<void> {
    const many = this.#conn.receiveMany?.bind(this.#conn);
    while (many && !this.#closed) {
      try {
        await many(onDatagram);
      } catch {
        if (this.#closed) return;
        this.counts.receiveErrors++;
      }
    }
    // One byte more than the largest legal datagram, so an oversized one is seen as such.
    const buffer = new Uint8Array(MAX_DATAGRAM + 1);
    while (!this.#closed) {
      let data: Uint8Array, from: NetAddr;
      try {
        [data, from] = await this.#conn.receive(buffer);
      } catch {
        if (this.#closed) return;
        this.counts.receiveErrors++;
        continue;
      }
      onDatagram(data, from, false);
    }
  }

  close(): void {
    if (this.#closed) return;
    // What this task sent goes first: a goodbye and the last ACK are sent just before closing.
    if (this.#batch.length > 0) this.#sendBatch();
    this.#closed = true;
    for (const t of this.#timers) this.#clock.clearTimer(t);
    this.#conn.close();
  }

  #write(data: Uint8Array): void {
    if (this.#closed) return;
    if (!this.#conn.sendMany) {
      this.#conn.send(data, this.peer).catch(() => this.counts.sendErrors++);
      return;
    }
    // Sent together once this task is done: a flush of the session, or a datagram's replies,
    // goes in one system call. Nothing else runs before the microtask, so nothing waits.
    if (this.#batch.push(data) === 1) queueMicrotask(() => this.#sendBatch());
  }

  #sendBatch(): void {
    const batch = this.#batch;
    this.#batch = [];
    if (this.#closed) return;
    const sent = this.#conn.sendMany!(batch, this.peer);
    this.counts.sendErrors += batch.length - sent;
  }
}
