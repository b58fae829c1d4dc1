/**
 * `deno task deb`: chatnet_<version>_amd64.deb and _arm64.deb from the binaries in dist/, with the
 * man page (written from the same table as --help), the copyright file, a changelog, `Depends` read
 * from the binary's ELF prerequisites and lintian overrides for what the Deno runtime brings, then
 * lintian when it is installed (it must report no errors and no warnings).
 *
 * Where the binaries cannot be built (denort cannot be downloaded, as in CI):
 * - `--runtime` packages the running Deno executable (`Deno.execPath()`) for this machine's
 *   architecture into a temporary folder and lints it. A compiled chatnet is denort plus its
 *   payload, and deno is denort's superset, so lintian sees the same ELF file it would see in a
 *   release. Where that executable is not a Linux x86_64/aarch64 ELF file, it says why and packages
 *   the stand-in instead.
 * - `--stand-in` packages a placeholder script, to check the layout alone.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { dependsFor, readElf } from "./elf.ts";
import { manPage } from "../lib/cli/man.ts";
import { VERSION } from "../lib/version.ts";

const root = new URL("../", import.meta.url).pathname;
const ARCHES = [
  { deb: "amd64", target: "x86_64-unknown-linux-gnu", machine: "x86_64" },
  { deb: "arm64", target: "aarch64-unknown-linux-gnu", machine: "aarch64" },
];
const MAINTAINER = "ChatNet developers <chatnet@users.noreply.github.com>";
const DATE = new Date().toUTCString().replace("GMT", "+0000");
const runtime = Deno.args.includes("--runtime");
const decoder = new TextDecoder();
const STAND_IN = new TextEncoder().encode(
  "#!/bin/sh\necho 'chatnet stand-in: build with deno task compile'\n",
);

const CONTROL = (arch: string, depends: string | undefined) =>
  `Package: chatnet
Version: ${VERSION}
Section: net
Priority: optional
Architecture: ${arch}
Maintainer: ${MAINTAINER}
${depends === undefined ? "" : `Depends: ${depends}\n`}Recommends: libssl3t64 | libssl3
Homepage: https://github.com/chatnet/chatnet
Description: reliable peer-to-peer chat and file transfer over lossy networks
 Two people each run chatnet with a local port and the other host's address,
 and chat. Messages go over UDP with chatnet's own reliability layer and arrive
 exactly once, in order and intact, even when the network loses, delays,
 duplicates, corrupts or reorders datagrams. Files go over TCP alongside the
 chat, with progress, SHA-256 verification and resume.
`;

const COPYRIGHT = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: chatnet
Source: https://github.com/chatnet/chatnet

Files: *
Copyright: 2026 ChatNet developers
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
`;

const CHANGELOG = `chatnet (${VERSION}) unstable; urgency=medium

  * Release ${VERSION}: reliable chat over UDP, files over TCP.

 -- ${MAINTAINER}  ${DATE}
`;

async function write(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true, mode: 0o755 });
  await Deno.writeFile(path, typeof data === "string" ? new TextEncoder().encode(data) : data, {
    mode,
  });
  await Deno.chmod(path, mode);
}

/** DEBIAN/md5sums: one "<md5>  <path>" line per file under usr/, as dh_md5sums writes it. */
async function md5sums(dir: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (rel: string) => {
    const entries = [];
    for await (const e of Deno.readDir(`${dir}/${rel}`)) entries.push(e);
    for (const e of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else {
        const hash = createHash("md5").update(await Deno.readFile(`${dir}/${path}`)).digest("hex");
        lines.push(`${hash}  ${path}`);
      }
    }
  };
  await walk("usr");
  return lines.map((l) => l + "\n").join("");
}

const gz = (text: string) => gzipSync(new TextEncoder().encode(text), { level: 9 });

type Arch = { deb: string; target: string; machine: string };
/** What goes in usr/bin/chatnet, with the fields that follow from it. */
type Payload = { bytes: Uint8Array; depends?: string; overrides?: string };

/**
 * The lintian overrides for the Deno runtime, each with its reason (lintian shows the comment above
 * an override with --show-overrides). Errors and warnings not listed here fail the build.
 */
const OVERRIDES = (relro: boolean) =>
  `# usr/bin/chatnet is the Deno runtime (denort) with chatnet's program appended, built and linked
# by the Deno project and shipped unchanged: deno compile appends the payload to that exact file.
#
# lcms2 is linked statically into the runtime by its image decoding (createImageBitmap) and cannot be
# swapped for Debian's liblcms2-2 without rebuilding Deno. chatnet never decodes images.
chatnet: embedded-library lcms2 [usr/bin/chatnet]
` + (relro ? "" : `
# The runtime is linked with BIND_NOW (now-binding, so the GOT is resolved at start) but without a
# PT_GNU_RELRO segment; adding one means relinking Deno, which would no longer be denort.
chatnet: hardening-no-relro [usr/bin/chatnet]
`);

/** Reads `bytes` as the chatnet executable for `arch`, or says why it cannot be packaged. */
function payloadOf(bytes: Uint8Array, source: string, arch: Arch): Payload | string {
  const elf = readElf(bytes);
  if (typeof elf === "string") return `${source} is ${elf}`;
  if (elf.machine !== arch.machine) return `${source} is for ${elf.machine}, not ${arch.machine}`;
  const depends = dependsFor(elf);
  if (typeof depends === "string") return `${source}: ${depends}`;
  return { bytes, depends: depends.depends, overrides: OVERRIDES(elf.relro) };
}

async function distPayload(arch: Arch): Promise<Payload | undefined> {
  const binary = `${root}dist/chatnet-${arch.target}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(binary);
  } catch {
    console.error(`Cannot package ${arch.deb}: ${binary} is missing (run deno task compile)`);
    return undefined;
  }
  const payload = payloadOf(bytes, binary.slice(root.length), arch);
  if (typeof payload === "string") {
    console.error(`Cannot package ${arch.deb}: ${payload}`);
    return undefined;
  }
  return payload;
}

/** The running Deno executable as this machine's chatnet, or why it cannot stand in. */
async function runtimePayload(): Promise<{ arch: Arch; payload: Payload } | string> {
  if (Deno.build.os !== "linux") return `this is ${Deno.build.os}, not Linux`;
  const arch = ARCHES.find((a) => a.machine === Deno.build.arch);
  if (arch === undefined) return `no Debian architecture for ${Deno.build.arch}`;
  const path = Deno.execPath();
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    return `cannot read ${path}: ${e instanceof Error ? e.message : e}`;
  }
  const payload = payloadOf(bytes, path, arch);
  return typeof payload === "string" ? payload : { arch, payload };
}

async function build(
  arch: Arch,
  payload: Payload,
  options: { out: string; compression?: string[] },
): Promise<string | undefined> {
  const dir = `${options.out}/deb/chatnet_${VERSION}_${arch.deb}`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await write(`${dir}/DEBIAN/control`, CONTROL(arch.deb, payload.depends));
  await write(`${dir}/usr/bin/chatnet`, payload.bytes, 0o755);
  await write(
    `${dir}/usr/share/man/man1/chatnet.1.gz`,
    gz(manPage(VERSION, new Date().toISOString().slice(0, 10))),
  );
  await write(`${dir}/usr/share/doc/chatnet/copyright`, COPYRIGHT);
  await write(`${dir}/usr/share/doc/chatnet/changelog.gz`, gz(CHANGELOG));
  if (payload.overrides !== undefined) {
    await write(`${dir}/usr/share/lintian/overrides/chatnet`, payload.overrides);
  }
  await write(`${dir}/DEBIAN/md5sums`, await md5sums(dir));
  const deb = `${options.out}/chatnet_${VERSION}_${arch.deb}.deb`;
  const r = await new Deno.Command("dpkg-deb", {
    args: [...options.compression ?? [], "--root-owner-group", "--build", dir, deb],
    stderr: "piped",
    stdout: "null",
  })
    .output();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  if (!r.success) {
    console.error(`dpkg-deb failed: ${decoder.decode(r.stderr).trim()}`);
    return undefined;
  }
  console.log(`built ${shown(deb)}${payload.depends ? ` (Depends: ${payload.depends})` : ""}`);
  return deb;
}

const shown = (path: string) => path.startsWith(root) ? path.slice(root.length) : path;

/** Lints `deb`: true when lintian reports no errors and no warnings (or is not installed). */
async function lint(deb: string): Promise<boolean> {
  let r;
  try {
    r = await new Deno.Command("lintian", {
      args: ["--tag-display-limit", "0", deb],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
  } catch {
    console.log("lintian is not installed (apt-get install lintian): package not linted");
    return true;
  }
  const out = (decoder.decode(r.stdout) + decoder.decode(r.stderr)).trim()
    .split("\n").filter((l) => l !== "" && !l.startsWith("running with root privileges"));
  if (out.length) console.log(out.join("\n"));
  const errors = out.filter((l) => l.startsWith("E: ")).length;
  const warnings = out.filter((l) => l.startsWith("W: ")).length;
  console.log(`lintian: ${errors} error(s), ${warnings} warning(s) for ${shown(deb)}`);
  return errors === 0 && warnings === 0;
}

async function standIns(): Promise<boolean> {
  let ok = true;
  for (const arch of ARCHES) {
    const deb = await build(arch, { bytes: STAND_IN }, { out: `${root}dist` });
    ok = deb !== undefined && await lint(deb) && ok;
  }
  return ok;
}

let ok = true;
if (runtime) {
  const found = await runtimePayload();
  if (typeof found === "string") {
    console.log(`Cannot package the Deno runtime (${found}): packaging the stand-in instead`);
    ok = await standIns();
  } else {
    // A package for lintian only: in a temporary folder, and gzip -1 rather than xz, which takes
    // about a minute for the ~100 MB runtime.
    const out = await Deno.makeTempDir({ prefix: "chatnet-deb-" });
    try {
      console.log(`packaging ${Deno.execPath()} as the ${found.arch.deb} binary, for lintian`);
      const deb = await build(found.arch, found.payload, {
        out,
        compression: ["-Zgzip", "-z1"],
      });
      ok = deb !== undefined && await lint(deb);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  }
} else if (Deno.args.includes("--stand-in")) {
  ok = await standIns();
} else {
  for (const arch of ARCHES) {
    const payload = await distPayload(arch);
    const deb = payload && await build(arch, payload, { out: `${root}dist` });
    ok = deb !== undefined && await lint(deb) && ok;
  }
}
Deno.exit(ok ? 0 : 1);
