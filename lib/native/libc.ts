/**
 * The few libc calls behind lib/net/udp_native.ts's socket, through Deno's FFI. Linux only, on
 * x86_64 and aarch64, whose ABIs agree on every constant and struct layout used here. Loaded once;
 * where libc is missing or not allowed (--allow-ffi names the paths below), chatnet keeps Deno's
 * socket.
 */

/** Where Debian-family systems keep libc (merged /usr or not). The compiled binary's --allow-ffi
 * names exactly these and LIBCRYPTO_PATHS (lib/native/openssl_aead.ts). */
export const LIBC_PATHS = ["x86_64", "aarch64"].flatMap((arch) =>
  ["/usr/lib", "/lib"].map((dir) => `${dir}/${arch}-linux-gnu/libc.so.6`)
);

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  /** The timeout, a pointer, is always NULL (0). */
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "u64"], result: "i32" },
  /** Runs on a thread of Deno's pool: the event loop goes on meanwhile. */
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
  // Addresses as numbers, not pointers: Deno's pointer API needs --allow-ffi for every library,
  // and chatnet's names only the ones it loads.
  __errno_location: { parameters: [], result: "u64" },
  /** memset(buf, 0, 0) does nothing and returns buf: the address of a buffer. */
  addressOf: { name: "memset", parameters: ["buffer", "i32", "u64"], result: "u64" },
  /** memcpy from an address into a buffer. */
  copyFrom: { name: "memcpy", parameters: ["buffer", "u64", "u64"], result: "u64" },
} as const;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] & {
  /** errno of the last call made on this thread. */
  errno(): number;
  /** The address of a buffer's first byte, for structs that hold pointers. */
  address(buf: ArrayBufferView): bigint;
};

/** From the kernel's generic headers, the same on x86_64 and aarch64. */
export const C = {
  AF_INET: 2,
  SOCK_DGRAM: 2,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SOL_UDP: 17,
  /** Generic segmentation offload: one send of many datagrams of one size (Linux 4.18). */
  UDP_SEGMENT: 103,
  /** Generic receive offload: such a send arrives whole, with its datagrams' size (Linux 5.0). */
  UDP_GRO: 104,
  MSG_DONTWAIT: 0x40,
  POLLIN: 1,
  EPERM: 1,
  EINTR: 4,
  EIO: 5,
  EAGAIN: 11,
  EACCES: 13,
  EINVAL: 22,
  EMSGSIZE: 90,
  ENOPROTOOPT: 92,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
} as const;

let loaded: Libc | string | undefined;

/** libc's calls, or why they cannot be had. Never prompts for a permission. */
export function loadLibc(): Libc | string {
  if (loaded !== undefined) return loaded;
  loaded = "no libc found, or --allow-ffi not given";
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    return loaded = `not on Linux x86_64 or aarch64`;
  }
  for (const path of LIBC_PATHS) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
    try {
      const s = Deno.dlopen(path, SYMBOLS).symbols;
      const at = BigInt(s.__errno_location());
      const errno = new Int32Array(1);
      const errnoBytes = new Uint8Array(errno.buffer);
      return loaded = {
        ...s,
        errno: () => (s.copyFrom(errnoBytes, at, 4n), errno[0]),
        address: (buf) => BigInt(s.addressOf(buf, 0, 0n)),
      };
    } catch {
      continue;
    }
  }
  return loaded;
}
