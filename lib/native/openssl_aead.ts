/**
 * ChaCha20-Poly1305 from the host's OpenSSL (libcrypto), through Deno's FFI: the same cipher and
 * the same bytes as node:crypto's (lib/crypto/aead.ts), a third of the CPU. Measured here per MiB:
 * 0.28 ms to seal or open against 0.9 ms; per 1,120-byte datagram 2.6 us against 7 us. Debian-family
 * hosts nearly always have libcrypto (systemd, Python 3 and ssh depend on it); where it is missing,
 * not allowed, or fails its self-test against node:crypto, chatnet keeps node:crypto and says so
 * in /stats. The cipher on the wire never depends on which one runs, so the two peers need not
 * agree.
 *
 * One cipher context serves every call: the calls are synchronous, on one thread, and each one
 * starts the context afresh. Lengths are checked here before any pointer crosses to C.
 */
import {
  type Aead,
  nodeAead,
  nonce,
  type OpenOptions,
  type SealOptions,
  TAG_BYTES,
  useAead,
} from "../crypto/aead.ts";
import { LIBC_PATHS } from "./libc.ts";

/** Where Debian, Ubuntu and Kali keep libcrypto, newest first. The compiled binary's
 * --allow-ffi names exactly these and libc's (scripts/build.ts), so no other library can be
 * loaded. */
export const LIBCRYPTO_PATHS = ["x86_64", "aarch64"].flatMap((arch) =>
  ["libcrypto.so.3", "libcrypto.so.1.1"].map((name) => `/usr/lib/${arch}-linux-gnu/${name}`)
);
/** The one --allow-ffi that chatnet is run with, anywhere: exactly LIBCRYPTO_PATHS and
 * LIBC_PATHS (lib/native/libc.ts, for the UDP socket of lib/net/udp_native.ts). */
export const ALLOW_FFI = `--allow-ffi=${[...LIBCRYPTO_PATHS, ...LIBC_PATHS].join(",")}`;

/** Set to 0 to keep node:crypto (to compare the two, or to rule OpenSSL out). */
export const OPT_OUT_ENV = "CHATNET_OPENSSL";

const SYMBOLS = {
  OpenSSL_version_num: { parameters: [], result: "u64" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_CipherUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

/** From OpenSSL's evp.h. */
const CTRL_AEAD_GET_TAG = 0x10;
const CTRL_AEAD_SET_TAG = 0x11;
const ENCRYPT = 1;
const DECRYPT = 0;
/** What OpenSSL's int lengths hold; a record is at most 1 MiB, a datagram about 1 KiB. */
const MAX_LENGTH = 0x7fff_0000;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

function versionName(n: bigint): string {
  const v = Number(n);
  const major = Math.floor(v / 2 ** 28);
  const minor = (v >>> 20) & 0xff;
  // 3.x packs the patch at bits 4-11; 1.1.x packs its "fix" at bits 12-19.
  const patch = major >= 3 ? (v >>> 4) & 0xff : (v >>> 12) & 0xff;
  return `OpenSSL ${major}.${minor}.${patch}`;
}

function bind(s: Symbols, name: string): Aead {
  const ctx = s.EVP_CIPHER_CTX_new();
  const cipher = s.EVP_chacha20_poly1305();
  if (ctx === null || cipher === null) throw new Error("no cipher context");
  const iv = new Uint8Array(12);
  const written = new Uint8Array(4);

  function start(key: Uint8Array, o: { counter: bigint; aad: Uint8Array }, mode: number): boolean {
    if (key.length !== 32 || o.aad.length > MAX_LENGTH) throw new RangeError("Bad key or AAD");
    return s.EVP_CipherInit_ex(ctx, cipher, null, key, nonce(o.counter, iv), mode) === 1 &&
      (o.aad.length === 0 || s.EVP_CipherUpdate(ctx, null, written, o.aad, o.aad.length) === 1);
  }

  function update(from: Uint8Array, to: Uint8Array): boolean {
    return from.length === 0 || s.EVP_CipherUpdate(ctx, to, written, from, from.length) === 1;
  }

  return {
    name,
    sealInto(key: Uint8Array, o: SealOptions): number {
      const n = o.plaintext.length;
      if (n > MAX_LENGTH || o.out.length < n + TAG_BYTES) throw new RangeError("Bad seal lengths");
      const tag = o.out.subarray(n, n + TAG_BYTES);
      const ok = start(key, o, ENCRYPT) && update(o.plaintext, o.out) &&
        s.EVP_CipherFinal_ex(ctx, tag, written) === 1 &&
        s.EVP_CIPHER_CTX_ctrl(ctx, CTRL_AEAD_GET_TAG, TAG_BYTES, tag) === 1;
      if (!ok) throw new Error("OpenSSL could not seal");
      return n + TAG_BYTES;
    },
    openInto(key: Uint8Array, o: OpenOptions): number | undefined {
      const n = o.sealed.length - TAG_BYTES;
      if (n < 0) return undefined;
      if (n > MAX_LENGTH || o.out.length < n) throw new RangeError("Bad open lengths");
      const ok = start(key, o, DECRYPT) &&
        s.EVP_CIPHER_CTX_ctrl(ctx, CTRL_AEAD_SET_TAG, TAG_BYTES, o.sealed.subarray(n)) === 1 &&
        update(o.sealed.subarray(0, n), o.out) &&
        s.EVP_CipherFinal_ex(ctx, o.out.subarray(n), written) === 1;
      return ok ? n : undefined;
    },
  };
}

/** Whether `aead` seals exactly as node:crypto does, opens what node:crypto seals, and refuses a
 * flipped bit, at the lengths chatnet uses (empty, a datagram, a record's odd tail). */
function agreesWithNode(aead: Aead): boolean {
  const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
  const aad = new Uint8Array([0, 0, 4, 0x10]);
  for (const length of [0, 1, 1120, 70_001]) {
    const plaintext = new Uint8Array(length).map((_, i) => (i * 31) & 0xff);
    const a = new Uint8Array(length + TAG_BYTES), b = new Uint8Array(length + TAG_BYTES);
    const counter = BigInt(length) << 20n;
    nodeAead.sealInto(key, { counter, aad, plaintext, out: a });
    aead.sealInto(key, { counter, aad, plaintext, out: b });
    if (a.some((x, i) => x !== b[i])) return false;
    const out = new Uint8Array(length);
    if (aead.openInto(key, { counter, aad, sealed: a, out }) !== length) return false;
    if (out.some((x, i) => x !== plaintext[i])) return false;
    a[a.length - 1] ^= 1;
    if (aead.openInto(key, { counter, aad, sealed: a, out }) !== undefined) return false;
  }
  return true;
}

/** OpenSSL's cipher, or why chatnet keeps node:crypto's; `optOut` is $CHATNET_OPENSSL. Never
 * prompts for a permission. */
export function loadOpenSslAead(optOut: string | undefined): Aead | string {
  if (optOut === "0") return `${OPT_OUT_ENV}=0`;
  for (const path of LIBCRYPTO_PATHS) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
    } catch {
      continue;
    }
    try {
      const aead = bind(lib.symbols, versionName(lib.symbols.OpenSSL_version_num()));
      if (agreesWithNode(aead)) return aead;
      lib.close();
      return `${path} failed its self-test`;
    } catch (e) {
      lib.close();
      return `${path}: ${(e as Error).message}`;
    }
  }
  return "no libcrypto found, or --allow-ffi not given";
}

/** Switches every later seal and open to OpenSSL's cipher where it loads; otherwise returns why
 * node:crypto's stays. */
export function useOpenSsl(optOut: string | undefined): string | undefined {
  const openssl = loadOpenSslAead(optOut);
  if (typeof openssl === "string") return openssl;
  useAead(openssl);
}
