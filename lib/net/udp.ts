/**
 * The only file that touches the UDP socket. It binds, sends (through the `--sim` impairment when
 * asked), and runs one receive loop that drops datagrams from anyone but the configured peer.
 */
import { Impairment, type ImpairSpec } from "./impair.ts";
import { MAX_DATAGRAM } from "../protocol/constants.ts";
import { sameIp } from "./address.ts";

export interface UdpOptions {
  bind: string;
  port: number;
  /** The peer's resolved IP address and port. */
  peerIp: string;
  peerPort: number;
  sim?: ImpairSpec;
}

export class UdpLink {
  #conn: Deno.DatagramConn;
  #o: UdpOptions;
  #impair?: Impairment;
  #closed = false;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  counts = { foreign: 0, sendErrors: 0, receiveErrors: 0, oversized: 0 };

  /** Binds the socket. Throws Deno.errors.AddrInUse and friends for the caller to word. */
  constructor(options: UdpOptions) {
    this.#o = options;
    this.#conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.bind,
      port: options.port,
    });
    if (options.sim) this.#impair = new Impairment(options.sim);
  }

  get port(): number {
    return (this.#conn.addr as Deno.NetAddr).port;
  }

  get simCounts(): Impairment["counts"] | undefined {
    return this.#impair?.counts;
  }

  send(datagram: Uint8Array): void {
    if (!this.#impair) return this.#write(datagram);
    const now = performance.now();
    for (const { at, data } of this.#impair.apply(datagram, now)) {
      if (at <= now) {
        this.#write(data);
        continue;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#write(data);
      }, at - now);
      this.#timers.add(timer);
    }
  }

  /** Receives until closed; `onDatagram` gets a view into a reused buffer, valid during the call. */
  async receive(onDatagram: (datagram: Uint8Array) => void): Promise<void> {
    // One byte more than the largest legal datagram, so an oversized one is seen as such.
    const buffer = new Uint8Array(MAX_DATAGRAM + 1);
    while (!this.#closed) {
      let data: Uint8Array, from: Deno.Addr;
      try {
        [data, from] = await this.#conn.receive(buffer);
      } catch {
        if (this.#closed) return;
        this.counts.receiveErrors++;
        continue;
      }
      const addr = from as Deno.NetAddr;
      if (addr.port !== this.#o.peerPort || !sameIp(addr.hostname, this.#o.peerIp)) {
        this.counts.foreign++;
        continue;
      }
      onDatagram(data);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#conn.close();
  }

  #write(data: Uint8Array): void {
    if (this.#closed) return;
    this.#conn.send(data, { transport: "udp", hostname: this.#o.peerIp, port: this.#o.peerPort })
      .catch(() => this.counts.sendErrors++);
  }
}
