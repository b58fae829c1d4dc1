/**
 * A UDP socket of our own, through libc (lib/native/libc.ts), behind the same UdpSocket interface
 * as Deno's. Deno's socket makes one system call, one async op and one promise per datagram (7 µs
 * a send and 14 to 17 µs a receive of CPU here, most of a file datagram's cost); this one moves a
 * batch per call, sendmmsg and recvmmsg, and the event loop hears of datagrams through one poll()
 * per batch on a thread of Deno's pool. Its buffers are raised too (SO_RCVBUF, SO_SNDBUF, as far
 * as the kernel allows), so a burst that the event loop takes a moment to reach is not dropped.
 *
 * IPv4 only; for an IPv6 address, or where libc cannot be loaded, `nativeUdp` binds Deno's socket.
 */
import { C, type Libc, loadLibc } from "../native/libc.ts";
import type { NetAddr } from "./tcp.ts";
import type { Udp, UdpSocket } from "./udp.ts";

/** Datagrams per recvmmsg and per sendmmsg. */
const BATCH = 64;
/** Bytes of each slot: more than any datagram we take (lib/protocol/constants.ts MAX_DATAGRAM),
 * so an oversized one arrives cut, and is refused as too long. */
const SLOT = 2048;
/** What the socket's buffers are asked to hold; the kernel caps it at net.core.rmem_max and
 * wmem_max (208 KiB where nobody raised them, 4 MiB here) and doubles what it grants. */
const BUFFER_BYTES = 4 * 2 ** 20;
const SOCKADDR_IN = 16;
/** sizeof(struct mmsghdr) and sizeof(struct iovec) on LP64 Linux. */
const MMSGHDR = 64;
const IOVEC = 16;

/** Set to 0 to keep Deno's socket (to compare the two, or to rule this one out). */
export const NATIVE_UDP_ENV = "CHATNET_NATIVE_UDP";

/** Binds our own socket for IPv4 addresses, Deno's otherwise; `fallback` is Deno's. A string
 * says why `fallback` alone is used; `optOut` is $CHATNET_NATIVE_UDP; tests pass a libc that
 * fails on purpose. */
export function nativeUdp(fallback: Udp, optOut?: string, libc = loadLibc()): Udp | string {
  if (optOut === "0") return `${NATIVE_UDP_ENV}=0`;
  if (typeof libc === "string") return libc;
  return {
    bind: (o) => ipv4(o.hostname) ? new NativeSocket(libc, o) : fallback.bind(o),
  };
}

/** The four bytes of a dotted IPv4 address, or undefined. */
function ipv4(host: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  const b = m?.slice(1).map(Number);
  return b && b.every((x) => x <= 255) ? b : undefined;
}

function writeSockaddr(into: Uint8Array, a: NetAddr): boolean {
  const ip = ipv4(a.hostname);
  if (!ip || !Number.isInteger(a.port) || a.port < 0 || a.port > 65535) return false;
  into.fill(0);
  into[0] = C.AF_INET; // sa_family, little-endian
  into[2] = a.port >> 8; // sin_port, network order
  into[3] = a.port & 0xff;
  into.set(ip, 4);
  return true;
}

/** Preset struct mmsghdr array: entry i names name(i), one iovec at iov + i·IOVEC. */
function headers(count: number, name: (i: number) => bigint, iov: bigint): BigUint64Array {
  const h = new BigUint64Array(count * MMSGHDR / 8);
  for (let i = 0; i < count; i++) {
    const at = i * MMSGHDR / 8;
    h[at] = name(i);
    h[at + 1] = BigInt(SOCKADDR_IN); // msg_namelen
    h[at + 2] = iov + BigInt(i * IOVEC);
    h[at + 3] = 1n; // msg_iovlen
  }
  return h;
}

function errorFor(what: string, errno: number): Error {
  const message = `${what} failed: errno ${errno}`;
  if (errno === C.EADDRINUSE) return new Deno.errors.AddrInUse(message);
  if (errno === C.EACCES || errno === C.EPERM) return new Deno.errors.PermissionDenied(message);
  if (errno === C.EADDRNOTAVAIL) return new Deno.errors.AddrNotAvailable(message);
  return new Error(message);
}

class NativeSocket implements UdpSocket {
  readonly port: number;
  readonly receiveBuffer: number | undefined;
  #c: Libc;
  #fd: number;
  /** A pipe whose write end wakes a poll waiting in receiveMany when we close. */
  #wake: [number, number];
  #closed = false;
  #polling = false;
  #pollfds = new Uint8Array(16);
  // Receiving: BATCH slots, each with its source address and iovec, in one array of headers.
  #rx = new Uint8Array(BATCH * SLOT);
  #rxNames = new Uint8Array(BATCH * SOCKADDR_IN);
  #rxNameWords = new Uint32Array(this.#rxNames.buffer);
  #rxIov = new BigUint64Array(BATCH * 2);
  #rxHdr: BigUint64Array;
  #rxHdr32: Uint32Array;
  #rxHdr8: Uint8Array;
  /** The source last seen, as its first two words, and its NetAddr (most datagrams share it). */
  #from = { w0: -1, w1: -1, addr: { hostname: "", port: 0 } as NetAddr };
  // Sending: BATCH slots to one address.
  #tx = new Uint8Array(BATCH * SLOT);
  #txName = new Uint8Array(SOCKADDR_IN);
  #txTo: NetAddr | undefined;
  #txIov = new BigUint64Array(BATCH * 2);
  #txHdr8: Uint8Array;

  constructor(c: Libc, o: NetAddr) {
    this.#c = c;
    const local = new Uint8Array(SOCKADDR_IN);
    if (!writeSockaddr(local, o)) throw new Error(`Cannot bind ${o.hostname}:${o.port}`);
    const fd = c.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
    if (fd < 0) throw errorFor("socket", c.errno());
    this.#fd = fd;
    const size = new Int32Array([BUFFER_BYTES]);
    const asBytes = new Uint8Array(size.buffer);
    // Best effort: the kernel grants what its limits allow.
    c.setsockopt(fd, C.SOL_SOCKET, C.SO_RCVBUF, asBytes, 4);
    c.setsockopt(fd, C.SOL_SOCKET, C.SO_SNDBUF, asBytes, 4);
    if (c.bind(fd, local, SOCKADDR_IN) !== 0) {
      const e = errorFor("bind", c.errno());
      c.close(fd);
      throw e;
    }
    const len = new Uint32Array([SOCKADDR_IN]);
    c.getsockname(fd, local, new Uint8Array(len.buffer));
    this.port = (local[2] << 8) | local[3];
    len[0] = 4;
    const got = c.getsockopt(fd, C.SOL_SOCKET, C.SO_RCVBUF, asBytes, new Uint8Array(len.buffer));
    this.receiveBuffer = got === 0 ? size[0] : undefined;
    const pipe = new Int32Array(2);
    if (c.pipe2(new Uint8Array(pipe.buffer), C.O_NONBLOCK | C.O_CLOEXEC) !== 0) {
      const e = errorFor("pipe2", c.errno());
      c.close(fd);
      throw e;
    }
    this.#wake = [pipe[0], pipe[1]];
    const fds = new DataView(this.#pollfds.buffer);
    fds.setInt32(0, fd, true);
    fds.setInt16(4, C.POLLIN, true);
    fds.setInt32(8, pipe[0], true);
    fds.setInt16(12, C.POLLIN, true);
    const rx = c.address(this.#rx), rxNames = c.address(this.#rxNames);
    for (let i = 0; i < BATCH; i++) {
      this.#rxIov[2 * i] = rx + BigInt(i * SLOT);
      this.#rxIov[2 * i + 1] = BigInt(SLOT);
    }
    this.#rxHdr = headers(BATCH, (i) => rxNames + BigInt(i * SOCKADDR_IN), c.address(this.#rxIov));
    this.#rxHdr32 = new Uint32Array(this.#rxHdr.buffer);
    this.#rxHdr8 = new Uint8Array(this.#rxHdr.buffer);
    const tx = c.address(this.#tx), txName = c.address(this.#txName);
    for (let i = 0; i < BATCH; i++) this.#txIov[2 * i] = tx + BigInt(i * SLOT);
    this.#txHdr8 = new Uint8Array(headers(BATCH, () => txName, c.address(this.#txIov)).buffer);
  }

  send(data: Uint8Array, to: NetAddr): Promise<unknown> {
    return this.sendMany([data], to) === 1
      ? Promise.resolve()
      : Promise.reject(new Error("send failed"));
  }

  /** Sends `datagrams` to `to`, BATCH a call; returns how many the kernel took. One the kernel
   * refuses (a firewall's drop is EPERM) is skipped, as Deno's socket would fail that send alone:
   * sendmmsg stops at it, and giving up there dropped the whole rest of the batch. A full buffer
   * (EAGAIN) drops the rest, as a full queue on the path would. */
  sendMany(datagrams: Uint8Array[], to: NetAddr): number {
    if (this.#closed) return 0;
    if (this.#txTo !== to) {
      if (!writeSockaddr(this.#txName, to)) return 0;
      this.#txTo = to;
    }
    const c = this.#c;
    let at = 0, sent = 0;
    while (at < datagrams.length) {
      const n = Math.min(BATCH, datagrams.length - at);
      for (let i = 0; i < n; i++) {
        const d = datagrams[at + i];
        const len = Math.min(d.length, SLOT);
        this.#tx.set(len === d.length ? d : d.subarray(0, len), i * SLOT);
        this.#txIov[2 * i + 1] = BigInt(len);
      }
      const r = c.sendmmsg(this.#fd, this.#txHdr8, n, C.MSG_DONTWAIT);
      if (r > 0) {
        at += r;
        sent += r;
        continue;
      }
      const errno = r < 0 ? c.errno() : C.EAGAIN;
      if (errno === C.EAGAIN) break;
      if (errno !== C.EINTR) at++; // this one is refused; the rest still go
    }
    return sent;
  }

  receive(buffer: Uint8Array): Promise<[Uint8Array, NetAddr]> {
    return new Promise((resolve, reject) => {
      let got: [Uint8Array, NetAddr] | undefined;
      this.receiveMany((d, from) => {
        if (got) return; // one at a time: receive() serves tests and odd callers only
        const n = Math.min(d.length, buffer.length);
        buffer.set(d.subarray(0, n));
        got = [buffer.subarray(0, n), from];
      }, 1).then(() => got ? resolve(got) : reject(new Error("closed")), reject);
    });
  }

  /** Waits until datagrams are queued, then hands each to `onDatagram` (a view valid during the
   * call), its source and whether more follow, up to `most`; resolves with how many. Rejects once
   * closed. */
  async receiveMany(
    onDatagram: (datagram: Uint8Array, from: NetAddr, more: boolean) => void,
    most = BATCH,
  ): Promise<number> {
    const c = this.#c;
    for (;;) {
      if (this.#closed) break;
      // The poll is also the event loop's turn: timers and other sockets run between batches.
      this.#polling = true;
      await c.poll(this.#pollfds, 2n, -1);
      this.#polling = false;
      if (this.#closed) break;
      for (let i = 0; i < most; i++) this.#rxHdr32[i * 16 + 2] = SOCKADDR_IN;
      const n = c.recvmmsg(this.#fd, this.#rxHdr8, Math.min(most, BATCH), C.MSG_DONTWAIT, 0n);
      if (n <= 0) continue; // nothing after all (EAGAIN), or EINTR: poll again
      for (let i = 0; i < n; i++) {
        const len = Math.min(this.#rxHdr32[i * 16 + 14], SLOT);
        onDatagram(this.#rx.subarray(i * SLOT, i * SLOT + len), this.#source(i), i < n - 1);
      }
      return n;
    }
    this.#release();
    throw new Error("The socket is closed");
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#polling) this.#c.write(this.#wake[1], new Uint8Array(1), 1n);
    else this.#release();
  }

  #released = false;

  /** Closes the descriptors, once no poll can be using them. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#c.close(this.#fd);
    this.#c.close(this.#wake[0]);
    this.#c.close(this.#wake[1]);
  }

  #source(i: number): NetAddr {
    const w0 = this.#rxNameWords[i * 4], w1 = this.#rxNameWords[i * 4 + 1];
    const f = this.#from;
    if (w0 === f.w0 && w1 === f.w1) return f.addr;
    const b = this.#rxNames.subarray(i * SOCKADDR_IN, i * SOCKADDR_IN + 8);
    const addr = Object.freeze({
      hostname: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`,
      port: (b[2] << 8) | b[3],
    });
    this.#from = { w0, w1, addr };
    return addr;
  }
}
