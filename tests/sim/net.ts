/**
 * The simulated network: UDP with loss, delay, jitter, duplication, corruption and reordering;
 * TCP streams (in order, paced, stalled by a partition, reset when a process dies); partitions.
 * Sockets belong to a process's Life and die with it.
 */
import type { NetAddr, Tcp, TcpConn, TcpListener } from "../../lib/net/tcp.ts";
import type { Udp, UdpSocket } from "../../lib/net/udp.ts";
import type { Life, World } from "./world.ts";
import { chance } from "./random.ts";

export interface Weather {
  loss: number;
  duplicate: number;
  corrupt: number;
  delayMs: number;
  jitterMs: number;
  /** Chance that a datagram is held back by an extra delay, so later ones overtake it. */
  reorder: number;
}

export const CALM: Weather = {
  loss: 0,
  duplicate: 0,
  corrupt: 0,
  delayMs: 1,
  jitterMs: 0,
  reorder: 0,
};

/** Datagrams a socket holds unread before it drops more (a kernel's receive buffer). */
const UDP_QUEUE = 512;
/** TCP moves this many bytes per virtual millisecond (about 100 MB/s). */
const TCP_BYTES_PER_MS = 100_000;
/** A stream stalled by a partition tries again this often. */
const STALL_RETRY_MS = 200;

interface UdpEnd {
  life: Life;
  queue: [Uint8Array, NetAddr][];
  waiter?: { buffer: Uint8Array; resolve: (v: [Uint8Array, NetAddr]) => void };
  closed: boolean;
}

interface ListenEnd {
  life: Life;
  backlog: TcpConn[];
  waiter?: (c: TcpConn) => void;
  closed: boolean;
}

export class Net {
  weather: Weather = CALM;
  partitioned = false;
  counts = { datagrams: 0, dropped: 0 };
  #world: World;
  #udp = new Map<string, UdpEnd>();
  #tcp = new Map<string, ListenEnd>();

  constructor(world: World) {
    this.#world = world;
  }

  udpFor(life: Life, ip: string): Udp {
    return {
      bind: (o) => {
        const key = `${ip}:${o.port}`;
        if (this.#udp.get(key)?.closed === false) {
          throw new Deno.errors.AddrInUse("Address already in use (os error 98)");
        }
        const end: UdpEnd = { life, queue: [], closed: false };
        this.#udp.set(key, end);
        const release = () => {
          end.closed = true;
          if (this.#udp.get(key) === end) this.#udp.delete(key);
        };
        life.onDeath.push(release);
        const socket: UdpSocket = {
          port: o.port,
          send: (data) => Promise.resolve(this.#sendUdp({ hostname: ip, port: o.port }, data)),
          receive: (buffer) => {
            if (!this.#world.guard()) return hang();
            if (end.closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
            const next = end.queue.shift();
            if (next) return Promise.resolve(fill(buffer, next));
            return new Promise((resolve) => end.waiter = { buffer, resolve });
          },
          close: release,
        };
        return socket;
      },
    };
  }

  /** `to` is always the other host (a peer talks to one address). */
  #sendUdp(from: NetAddr, data: Uint8Array): number {
    const w = this.weather, rng = this.#world.rng;
    this.counts.datagrams++;
    if (this.partitioned || chance(rng, w.loss)) {
      this.counts.dropped++;
      return data.length;
    }
    const copies = chance(rng, w.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const bytes = data.slice();
      if (chance(rng, w.corrupt)) bytes[Math.floor(rng() * bytes.length)] ^= 1 + (rng() * 255 | 0);
      let delay = w.delayMs + rng() * w.jitterMs;
      if (chance(rng, w.reorder)) delay += w.delayMs + 5 + rng() * 20;
      this.#world.at(this.#world.now + delay, () => this.#deliverUdp(from, bytes));
    }
    return data.length;
  }

  #deliverUdp(from: NetAddr, bytes: Uint8Array): void {
    const to = this.#peerOf(from.hostname);
    const end = this.#udp.get(`${to}:${from.port}`);
    if (!end || end.closed || !end.life.alive) return;
    if (end.waiter && !end.life.frozen) {
      this.#world.enter(end.life);
      const { buffer, resolve } = end.waiter;
      end.waiter = undefined;
      resolve(fill(buffer, [bytes, from]));
    } else if (end.queue.length < UDP_QUEUE) {
      end.queue.push([bytes, from]);
      if (end.waiter) this.#world.at(this.#world.now, () => this.#drainQueue(end), end.life);
    } else this.counts.dropped++;
  }

  /** A frozen process thawed with a receive waiting: hand it the oldest datagram. */
  #drainQueue(end: UdpEnd): void {
    if (!end.waiter || end.queue.length === 0) return;
    const { buffer, resolve } = end.waiter;
    end.waiter = undefined;
    resolve(fill(buffer, end.queue.shift()!));
  }

  #peerOf(ip: string): string {
    return ip === "10.0.0.1" ? "10.0.0.2" : "10.0.0.1";
  }

  tcpFor(life: Life, ip: string): Tcp {
    return {
      listen: (o) => {
        const key = `${ip}:${o.port}`;
        if (this.#tcp.get(key)?.closed === false) {
          throw new Deno.errors.AddrInUse("Address already in use (os error 98)");
        }
        const end: ListenEnd = { life, backlog: [], closed: false };
        this.#tcp.set(key, end);
        const release = () => {
          end.closed = true;
          if (this.#tcp.get(key) === end) this.#tcp.delete(key);
        };
        life.onDeath.push(release);
        const listener: TcpListener = {
          port: o.port,
          accept: () => {
            if (!this.#world.guard()) return hang();
            if (end.closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
            const c = end.backlog.shift();
            if (c) return Promise.resolve(c);
            return new Promise((resolve) => end.waiter = resolve);
          },
          close: release,
        };
        return listener;
      },
      connect: (to) =>
        new Promise((resolve, reject) => {
          const w = this.#world;
          w.at(w.now + this.weather.delayMs, () => {
            const end = this.#tcp.get(`${to.hostname}:${to.port}`);
            if (this.partitioned || !end || end.closed || !end.life.alive) {
              // A refused connection answers at once; a partitioned one times out later.
              const late = this.partitioned ? 3_000 : this.weather.delayMs;
              w.at(w.now + late, () => {
                reject(new Error("connection refused")); // as lib/net/tcp.ts says it
              }, life);
              return;
            }
            const [client, server] = pair(w, this, { life, ip }, {
              life: end.life,
              ip: to.hostname,
            });
            w.at(w.now + this.weather.delayMs, () => resolve(client), life);
            w.at(w.now, () => {
              if (end.closed) return server.close();
              if (end.waiter) {
                const take = end.waiter;
                end.waiter = undefined;
                take(server);
              } else end.backlog.push(server);
            }, end.life);
          });
        }),
    };
  }
}

/** What an effect returns once the run is over its budget (world.ts): it never settles. */
function hang<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

function fill(buffer: Uint8Array, [bytes, from]: [Uint8Array, NetAddr]): [Uint8Array, NetAddr] {
  const n = Math.min(bytes.length, buffer.length);
  buffer.set(bytes.subarray(0, n));
  return [buffer.subarray(0, n), from];
}

/** One direction's receiving side of a stream. */
interface Inbox {
  chunks: Uint8Array[];
  eof: boolean;
  error?: Error;
  waiter?: { p: Uint8Array; resolve: (n: number | null) => void; reject: (e: Error) => void };
  /** When the last byte sent this way arrives (keeps the stream in order). */
  lastArrival: number;
}

function pair(
  w: World,
  net: Net,
  a: { life: Life; ip: string },
  b: { life: Life; ip: string },
): [TcpConn, TcpConn] {
  const toA: Inbox = { chunks: [], eof: false, lastArrival: 0 };
  const toB: Inbox = { chunks: [], eof: false, lastArrival: 0 };
  const ca = end(w, net, { life: a.life, inbox: toA, outbox: toB, remote: b, peerLife: b.life });
  const cb = end(w, net, { life: b.life, inbox: toB, outbox: toA, remote: a, peerLife: a.life });
  return [ca, cb];
}

function end(
  w: World,
  net: Net,
  o: { life: Life; inbox: Inbox; outbox: Inbox; remote: { ip: string }; peerLife: Life },
): TcpConn {
  let closed = false, wrote = false, peerGone = false;
  const { inbox, outbox } = o;
  const wake = () => {
    const waiter = inbox.waiter;
    if (!waiter || !o.life.alive) return;
    if (o.life.frozen) return void w.at(w.now, wake, o.life);
    w.enter(o.life);
    if (inbox.chunks.length) {
      inbox.waiter = undefined;
      waiter.resolve(take(inbox, waiter.p));
    } else if (inbox.error) {
      inbox.waiter = undefined;
      waiter.reject(inbox.error);
    } else if (inbox.eof) {
      inbox.waiter = undefined;
      waiter.resolve(null);
    }
  };
  /** Sends something down the stream, in order, stalled while partitioned. */
  const transmit = (arrive: () => void, bytes: number) => {
    const at = Math.max(w.now + net.weather.delayMs + bytes / TCP_BYTES_PER_MS, outbox.lastArrival);
    outbox.lastArrival = at;
    const attempt = () => {
      if (net.partitioned) {
        outbox.lastArrival = Math.max(outbox.lastArrival, w.now + STALL_RETRY_MS);
        return void w.at(w.now + STALL_RETRY_MS, attempt);
      }
      arrive();
    };
    w.at(at, attempt);
  };
  // The other process dies: this side sees a reset.
  o.peerLife.onDeath.push(() => {
    peerGone = true;
    w.at(w.now + net.weather.delayMs, () => {
      inbox.error ??= new Deno.errors.ConnectionReset("Connection reset by peer (os error 104)");
      wake();
    }, o.life);
  });
  o.life.onDeath.push(() => {
    closed = true;
  });
  outboxWakers.set(inbox, wake);
  return {
    remoteAddr: { hostname: o.remote.ip, port: 40_000 },
    read(p) {
      if (!w.guard()) return hang();
      if (closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
      if (inbox.chunks.length) return Promise.resolve(take(inbox, p));
      if (inbox.error) return Promise.reject(inbox.error);
      if (inbox.eof) return Promise.resolve(null);
      return new Promise((resolve, reject) => inbox.waiter = { p, resolve, reject });
    },
    write(p) {
      if (!w.guard()) return hang();
      if (closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
      if (peerGone || outbox.error || wrote) {
        return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
      }
      const bytes = p.slice();
      transmit(() => {
        if (outbox.eof || outbox.error) return;
        outbox.chunks.push(bytes);
        wakeOther();
      }, bytes.length);
      return w.after(o.life, bytes.length / TCP_BYTES_PER_MS, () => bytes.length);
    },
    closeWrite() {
      if (!w.guard()) return hang();
      if (closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
      wrote = true;
      transmit(() => {
        outbox.eof = true;
        wakeOther();
      }, 0);
      return Promise.resolve();
    },
    close() {
      if (closed) throw new Deno.errors.BadResource("Bad resource ID");
      closed = true;
      if (inbox.waiter) {
        const waiter = inbox.waiter;
        inbox.waiter = undefined;
        waiter.reject(new Deno.errors.Interrupted("operation canceled"));
      }
      // Unread data on close makes a reset; otherwise the other side reads an end.
      const reset = inbox.chunks.length > 0;
      transmit(() => {
        if (reset) {
          outbox.error ??= new Deno.errors.ConnectionReset(
            "Connection reset by peer (os error 104)",
          );
        } else outbox.eof = true;
        wakeOther();
      }, 0);
      // The other side's writes now fail.
      inbox.error ??= new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  };
  function wakeOther() {
    outboxWakers.get(outbox)?.();
  }
}

/** Each inbox's reader wakes through here (set by the end that reads it). */
const outboxWakers = new WeakMap<Inbox, () => void>();

function take(inbox: Inbox, p: Uint8Array): number {
  let n = 0;
  while (n < p.length && inbox.chunks.length) {
    const c = inbox.chunks[0];
    const k = Math.min(c.length, p.length - n);
    p.set(c.subarray(0, k), n);
    n += k;
    if (k === c.length) inbox.chunks.shift();
    else inbox.chunks[0] = c.subarray(k);
  }
  return n;
}
