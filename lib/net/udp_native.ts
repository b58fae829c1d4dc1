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

/** Messages per sendmmsg, and per recvmmsg without GRO. */
const BATCH = 64;
/** Bytes of each slot: more than any datagram we take (lib/protocol/constants.ts MAX_DATAGRAM),
 * so an oversized one arrives cut, and is refused as too long. */
const SLOT = 2048;
/** With GRO (UDP_GRO), a receive slot holds a whole GSO send, and fewer are taken a call. */
const GRO_BATCH = 32;
const GRO_SLOT = 65_536;
/** CMSG_SPACE and CMSG_LEN of an int (UDP_GRO's size). */
const CMSG_SPACE_INT = 24;
const CMSG_LEN_INT = 20;
/** What the socket's buffers are asked to hold; the kernel caps it at net.core.rmem_max and
 * wmem_max (208 KiB where nobody raised them, 4 MiB here) and doubles what it grants. */
const BUFFER_BYTES = 4 * 2 ** 20;
const SOCKADDR_IN = 16;
/** sizeof(struct mmsghdr) and sizeof(struct iovec) on LP64 Linux, and CMSG_SPACE and CMSG_LEN of
 * a u16 (UDP_SEGMENT's size). */
const MMSGHDR = 64;
const IOVEC = 16;
const CMSG_SPACE_U16 = 24;
const CMSG_LEN_U16 = 18;
/** A GSO send carries at most this many datagrams (the kernel's UDP_MAX_SEGMENTS was 64 before
 * Linux 6.2) and this many bytes (an IP datagram's limit, less headers). */
const GSO_MAX_SEGMENTS = 64;
const GSO_MAX_BYTES = 65_000;

/** Set to 0 to keep Deno's socket (to compare the two, or to rule this one out). */
/** After a failed poll, the wait before the next (see receiveMany). */
const POLL_RETRY_MS = 10;

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

/** What a GSO send fails with where the kernel or the device cannot segment. */
const GSO_REFUSALS = new Set<number>([C.EIO, C.EINVAL, C.ENOPROTOOPT, C.EMSGSIZE]);

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
  // Receiving: #rxSlots slots of #rxSlot bytes, each with its source address, iovec and control
  // buffer (where GRO says the size of the datagrams a slot holds), in one array of headers.
  #gro: boolean;
  #rxSlots: number;
  #rxSlot: number;
  #rx: Uint8Array;
  #rxNames: Uint8Array;
  #rxNameWords: Uint32Array;
  #rxCmsg: DataView;
  #rxHdr: BigUint64Array;
  #rxHdr32: Uint32Array;
  #rxHdr8: Uint8Array;
  /** Buffers the kernel writes into through pointers in #rxHdr: kept alive with the socket. */
  #rxIovKeep: BigUint64Array;
  #rxCmsgKeep: Uint8Array;
  /** The source last seen, as its first two words, and its NetAddr (most datagrams share it). */
  #from = { w0: -1, w1: -1, addr: { hostname: "", port: 0 } as NetAddr };
  // Sending: up to BATCH messages to one address, their datagrams back to back in #tx; a message
  // of several (a run of one size, the last maybe shorter) goes as one GSO send (UDP_SEGMENT).
  #tx = new Uint8Array(BATCH * SLOT);
  #txName = new Uint8Array(SOCKADDR_IN);
  #txTo: NetAddr | undefined;
  #txIov = new BigUint64Array(BATCH * 2);
  #txHdr: BigUint64Array;
  #txHdr8: Uint8Array;
  #txCmsg = new Uint8Array(BATCH * CMSG_SPACE_U16);
  #txCmsgView = new DataView(this.#txCmsg.buffer);
  #txAddr = 0n;
  #txCmsgAddr = 0n;
  /** Datagrams in each message of the call being made. */
  #runs = new Int32Array(BATCH);
  /** The kernel takes UDP_SEGMENT; cleared the first time a GSO send fails for want of it. */
  #gso: boolean;

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
    const one = new Uint8Array(new Int32Array([1]).buffer);
    this.#gro = c.setsockopt(fd, C.SOL_UDP, C.UDP_GRO, one, 4) === 0;
    const slots = this.#rxSlots = this.#gro ? GRO_BATCH : BATCH;
    const slot = this.#rxSlot = this.#gro ? GRO_SLOT : SLOT;
    this.#rx = new Uint8Array(slots * slot);
    this.#rxNames = new Uint8Array(slots * SOCKADDR_IN);
    this.#rxNameWords = new Uint32Array(this.#rxNames.buffer);
    const cmsg = new Uint8Array(slots * CMSG_SPACE_INT);
    this.#rxCmsg = new DataView(cmsg.buffer);
    const iov = new BigUint64Array(slots * 2);
    const rx = c.address(this.#rx), rxNames = c.address(this.#rxNames);
    for (let i = 0; i < slots; i++) {
      iov[2 * i] = rx + BigInt(i * slot);
      iov[2 * i + 1] = BigInt(slot);
    }
    this.#rxIovKeep = iov;
    this.#rxHdr = headers(slots, (i) => rxNames + BigInt(i * SOCKADDR_IN), c.address(iov));
    const cmsgAt = c.address(cmsg);
    for (let i = 0; i < slots; i++) this.#rxHdr[i * 8 + 4] = cmsgAt + BigInt(i * CMSG_SPACE_INT);
    this.#rxCmsgKeep = cmsg;
    this.#rxHdr32 = new Uint32Array(this.#rxHdr.buffer);
    this.#rxHdr8 = new Uint8Array(this.#rxHdr.buffer);
    const txName = c.address(this.#txName);
    this.#txAddr = c.address(this.#tx);
    this.#txCmsgAddr = c.address(this.#txCmsg);
    this.#txHdr = headers(BATCH, () => txName, c.address(this.#txIov));
    this.#txHdr8 = new Uint8Array(this.#txHdr.buffer);
    for (let i = 0; i < BATCH; i++) {
      const at = i * CMSG_SPACE_U16;
      this.#txCmsgView.setBigUint64(at, BigInt(CMSG_LEN_U16), true); // cmsg_len
      this.#txCmsgView.setInt32(at + 8, C.SOL_UDP, true);
      this.#txCmsgView.setInt32(at + 12, C.UDP_SEGMENT, true);
    }
    len[0] = 4;
    this.#gso = c.getsockopt(fd, C.SOL_UDP, C.UDP_SEGMENT, asBytes, new Uint8Array(len.buffer)) ===
      0;
  }

  /** Whether sends go as GSO batches (UDP_SEGMENT), and GSO sends arrive whole (UDP_GRO). */
  get gso(): boolean {
    return this.#gso;
  }

  get gro(): boolean {
    return this.#gro;
  }

  send(data: Uint8Array, to: NetAddr): Promise<unknown> {
    return this.sendMany([data], to) === 1
      ? Promise.resolve()
      : Promise.reject(new Error("send failed"));
  }

  /** Sends `datagrams` to `to`; returns how many the kernel took. Runs of one size (a file's
   * frames) go as one GSO send each, so the kernel walks its stack once for up to 64 datagrams
   * (where it cannot, as one sendmmsg message each). One the kernel refuses (a firewall's drop is
   * EPERM) is skipped, as Deno's socket would fail that send alone: sendmmsg stops at it, and
   * giving up there dropped the whole rest of the batch. A full buffer (EAGAIN) drops the rest,
   * as a full queue on the path would. */
  sendMany(datagrams: Uint8Array[], to: NetAddr): number {
    if (this.#closed) return 0;
    if (this.#txTo !== to) {
      if (!writeSockaddr(this.#txName, to)) return 0;
      this.#txTo = to;
    }
    const c = this.#c;
    let at = 0, sent = 0;
    while (at < datagrams.length) {
      const messages = this.#pack(datagrams, at);
      const r = c.sendmmsg(this.#fd, this.#txHdr8, messages, C.MSG_DONTWAIT);
      if (r > 0) {
        for (let m = 0; m < r; m++) at += this.#runs[m], sent += this.#runs[m];
        continue;
      }
      const errno = r < 0 ? c.errno() : C.EAGAIN;
      if (errno === C.EAGAIN) break;
      if (errno === C.EINTR) continue;
      if (this.#runs[0] > 1 && GSO_REFUSALS.has(errno)) {
        this.#gso = false; // this kernel or device cannot segment: one datagram a message
        continue;
      }
      at += this.#runs[0]; // refused; the rest still go
    }
    return sent;
  }

  /** Lays out messages for the datagrams from `from` on: returns how many, with their datagram
   * counts in #runs. */
  #pack(datagrams: Uint8Array[], from: number): number {
    const hdr = this.#txHdr;
    let m = 0, i = from, off = 0;
    while (m < BATCH && i < datagrams.length) {
      const size = Math.min(datagrams[i].length, SLOT);
      if (off + size > this.#tx.length) break;
      const start = off;
      let count = 0;
      for (; i < datagrams.length; i++) {
        const d = datagrams[i];
        const len = Math.min(d.length, SLOT);
        // A run is of one size, and may end with one shorter datagram.
        if (count > 0 && (!this.#gso || len > size || count === GSO_MAX_SEGMENTS)) break;
        if (off - start + len > GSO_MAX_BYTES || off + len > this.#tx.length) break;
        this.#tx.set(len === d.length ? d : d.subarray(0, len), off);
        off += len;
        count++;
        if (len < size) {
          i++;
          break;
        }
      }
      const at = m * MMSGHDR / 8;
      this.#txIov[2 * m] = this.#txAddr + BigInt(start);
      this.#txIov[2 * m + 1] = BigInt(off - start);
      if (count > 1) {
        this.#txCmsgView.setUint16(m * CMSG_SPACE_U16 + 16, size, true);
        hdr[at + 4] = this.#txCmsgAddr + BigInt(m * CMSG_SPACE_U16); // msg_control
        hdr[at + 5] = BigInt(CMSG_SPACE_U16); // msg_controllen
      } else {
        hdr[at + 4] = 0n;
        hdr[at + 5] = 0n;
      }
      this.#runs[m++] = count;
    }
    return m;
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
      const polled = await c.poll(this.#pollfds, 2n, -1);
      this.#polling = false;
      if (this.#closed) break;
      // A poll that fails (not a signal: something wrong with the descriptors) would fail again
      // at once: wait a little rather than spin a core on it.
      if (Number(polled) < 0) await new Promise((r) => setTimeout(r, POLL_RETRY_MS));
      const slots = Math.min(most, this.#rxSlots), h = this.#rxHdr32;
      for (let i = 0; i < slots; i++) {
        h[i * 16 + 2] = SOCKADDR_IN; // msg_namelen
        h[i * 16 + 10] = this.#gro ? CMSG_SPACE_INT : 0; // msg_controllen
      }
      const n = c.recvmmsg(this.#fd, this.#rxHdr8, slots, C.MSG_DONTWAIT, 0n);
      if (n <= 0) continue; // nothing after all (EAGAIN), or EINTR: poll again
      let count = 0;
      for (let i = 0; i < n; i++) {
        const at = i * this.#rxSlot, len = Math.min(h[i * 16 + 14], this.#rxSlot);
        const from = this.#source(i);
        // A GSO send arrives whole (GRO): its datagrams are `size` bytes each, the last maybe less.
        const size = this.#groSize(i) || len;
        for (let o = 0;; o += size) {
          const end = Math.min(o + size, len);
          count++;
          onDatagram(this.#rx.subarray(at + o, at + end), from, end < len || i < n - 1);
          if (end >= len) break;
        }
      }
      return count;
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

  /** The datagram size GRO gave slot `i`, or 0 when it holds one datagram. */
  #groSize(i: number): number {
    if (!this.#gro || this.#rxHdr32[i * 16 + 10] < CMSG_LEN_INT) return 0;
    const v = this.#rxCmsg, at = i * CMSG_SPACE_INT;
    if (v.getInt32(at + 8, true) !== C.SOL_UDP || v.getInt32(at + 12, true) !== C.UDP_GRO) return 0;
    const size = v.getInt32(at + 16, true);
    return size > 0 ? size : 0;
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
