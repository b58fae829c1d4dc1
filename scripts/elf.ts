/**
 * What a packager needs from an ELF executable, read from the bytes (no readelf): the machine, the
 * shared libraries it names (DT_NEEDED) and the symbol versions it requires from each (the
 * .gnu.version_r table), so `deno task deb` can declare them in `Depends` as dpkg-shlibdeps would.
 * Only 64-bit little-endian files (x86_64 and aarch64) are read; anything else is a reason.
 */

export type ElfInfo = {
  machine: "x86_64" | "aarch64";
  /** DT_NEEDED sonames, in file order. */
  needed: string[];
  /** Required symbol versions per soname, e.g. libc.so.6 → ["GLIBC_2.2.5", "GLIBC_2.27"]. */
  versions: Map<string, string[]>;
  /** A PT_GNU_RELRO segment is present. */
  relro: boolean;
};

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_GNU_RELRO = 0x6474e552;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_VERNEED = 0x6ffffffen;
const DT_VERNEEDNUM = 0x6fffffffn;
const MACHINES: Record<number, ElfInfo["machine"]> = { 62: "x86_64", 183: "aarch64" };

/** Reads `bytes` as an ELF executable, or returns why it cannot. */
export function readElf(bytes: Uint8Array): ElfInfo | string {
  if (
    bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c ||
    bytes[3] !== 0x46
  ) return "not an ELF file";
  if (bytes[4] !== 2 || bytes[5] !== 1) return "not a 64-bit little-endian ELF file";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = MACHINES[view.getUint16(18, true)];
  if (machine === undefined) return `unsupported ELF machine ${view.getUint16(18, true)}`;
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phentsize < 56 || phoff + phentsize * phnum > bytes.length) {
    return "truncated program headers";
  }
  const loads: { offset: number; vaddr: number; size: number }[] = [];
  let dynamic: { offset: number; size: number } | undefined;
  let relro = false;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = view.getUint32(at, true);
    const offset = Number(view.getBigUint64(at + 8, true));
    const vaddr = Number(view.getBigUint64(at + 16, true));
    const size = Number(view.getBigUint64(at + 32, true));
    if (type === PT_LOAD) loads.push({ offset, vaddr, size });
    else if (type === PT_DYNAMIC) dynamic = { offset, size };
    else if (type === PT_GNU_RELRO) relro = true;
  }
  const needed: string[] = [];
  const versions = new Map<string, string[]>();
  if (dynamic === undefined) return { machine, needed, versions, relro }; // statically linked
  if (dynamic.offset + dynamic.size > bytes.length) return "truncated dynamic section";
  const fileOffset = (vaddr: number) => {
    const load = loads.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.size);
    return load === undefined ? undefined : vaddr - load.vaddr + load.offset;
  };
  const neededAt: number[] = [];
  let strtab: number | undefined;
  let verneed: number | undefined;
  let verneedNum = 0;
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = view.getBigInt64(at, true);
    const value = Number(view.getBigUint64(at + 8, true));
    if (tag === 0n) break;
    if (tag === DT_NEEDED) neededAt.push(value);
    else if (tag === DT_STRTAB) strtab = fileOffset(value);
    else if (tag === DT_VERNEED) verneed = fileOffset(value);
    else if (tag === DT_VERNEEDNUM) verneedNum = value;
  }
  if (strtab === undefined) {
    return neededAt.length ? "no string table" : { machine, needed, versions, relro };
  }
  const text = (at: number) => {
    const start = strtab! + at;
    let end = start;
    while (end < bytes.length && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(start, end));
  };
  for (const at of neededAt) needed.push(text(at));
  for (let i = 0, entry = verneed; entry !== undefined && i < verneedNum; i++) {
    if (entry + 16 > bytes.length) return "truncated version table";
    const count = view.getUint16(entry + 2, true);
    const file = text(view.getUint32(entry + 4, true));
    const names: string[] = [];
    for (let j = 0, aux = entry + view.getUint32(entry + 8, true); j < count; j++) {
      if (aux + 16 > bytes.length) return "truncated version table";
      names.push(text(view.getUint32(aux + 8, true)));
      aux += view.getUint32(aux + 12, true);
    }
    versions.set(file, names);
    const next = view.getUint32(entry + 12, true);
    entry = next === 0 ? undefined : entry + next;
  }
  return { machine, needed, versions, relro };
}

/** The Debian packages that provide each soname the runtime links against (glibc and libgcc). */
const PACKAGES: Record<string, string> = {
  "libc.so.6": "libc6",
  "libm.so.6": "libc6",
  "libdl.so.2": "libc6",
  "librt.so.1": "libc6",
  "libpthread.so.0": "libc6",
  "libutil.so.1": "libc6",
  "libresolv.so.2": "libc6",
  "ld-linux-x86-64.so.2": "libc6",
  "ld-linux-aarch64.so.1": "libc6",
  "libgcc_s.so.1": "libgcc-s1",
  "libstdc++.so.6": "libstdc++6",
  "libz.so.1": "zlib1g",
};

/** Older releases (Ubuntu 18.04, Debian 10) ship libgcc_s.so.1 in libgcc1. */
const ALTERNATIVES: Record<string, string> = { "libgcc-s1": "libgcc-s1 | libgcc1" };

const versionKey = (v: string) => v.split(".").map(Number);
const newer = (a: string, b: string) => {
  const [x, y] = [versionKey(a), versionKey(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  }
  return false;
};

/**
 * The `Depends` field for an executable: one entry per package providing its NEEDED libraries, libc6
 * versioned by the newest GLIBC_ symbol version it requires. Returns a reason for a soname with no
 * known package.
 */
export function dependsFor(elf: ElfInfo): string | { depends: string } {
  const packages: string[] = [];
  for (const soname of elf.needed) {
    const pkg = PACKAGES[soname];
    if (pkg === undefined) return `no Debian package known for ${soname}`;
    if (!packages.includes(pkg)) packages.push(pkg);
  }
  let glibc: string | undefined;
  for (const [soname, names] of elf.versions) {
    if (PACKAGES[soname] !== "libc6") continue;
    for (const name of names) {
      const m = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(name);
      if (m && (glibc === undefined || newer(m[1], glibc))) glibc = m[1];
    }
  }
  const entries = packages.sort().map((pkg) =>
    pkg === "libc6" && glibc !== undefined ? `libc6 (>= ${glibc})` : ALTERNATIVES[pkg] ?? pkg
  );
  return { depends: entries.join(", ") };
}
