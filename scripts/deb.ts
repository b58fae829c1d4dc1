/**
 * `deno task deb`: chatnet_<version>_amd64.deb and _arm64.deb from the binaries in dist/, with the
 * man page (written from the same table as --help), the copyright file and a changelog, then
 * lintian when it is installed. `--stand-in` packages a placeholder script instead of the real
 * binary, so CI can check the layout where the binaries cannot be built.
 */
import { gzipSync } from "node:zlib";
import { manPage } from "../lib/cli/man.ts";
import { VERSION } from "../lib/version.ts";

const root = new URL("../", import.meta.url).pathname;
const ARCHES = [{ deb: "amd64", target: "x86_64-unknown-linux-gnu" }, {
  deb: "arm64",
  target: "aarch64-unknown-linux-gnu",
}];
const MAINTAINER = "ChatNet developers <chatnet@users.noreply.github.com>";
const DATE = new Date().toUTCString().replace("GMT", "+0000");
const standIn = Deno.args.includes("--stand-in");
const decoder = new TextDecoder();

const CONTROL = (arch: string) =>
  `Package: chatnet
Version: ${VERSION}
Section: net
Priority: optional
Architecture: ${arch}
Maintainer: ${MAINTAINER}
Recommends: libssl3t64 | libssl3
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

const gz = (text: string) => gzipSync(new TextEncoder().encode(text), { level: 9 });

async function build(arch: { deb: string; target: string }): Promise<string | undefined> {
  const binary = `${root}dist/chatnet-${arch.target}`;
  let bytes: Uint8Array;
  if (standIn) {
    bytes = new TextEncoder().encode(
      "#!/bin/sh\necho 'chatnet stand-in: build with deno task compile'\n",
    );
  } else {
    try {
      bytes = await Deno.readFile(binary);
    } catch {
      console.error(`Cannot package ${arch.deb}: ${binary} is missing (run deno task compile)`);
      return undefined;
    }
  }
  const dir = `${root}dist/deb/chatnet_${VERSION}_${arch.deb}`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await write(`${dir}/DEBIAN/control`, CONTROL(arch.deb));
  await write(`${dir}/usr/bin/chatnet`, bytes, 0o755);
  await write(
    `${dir}/usr/share/man/man1/chatnet.1.gz`,
    gz(manPage(VERSION, new Date().toISOString().slice(0, 10))),
  );
  await write(`${dir}/usr/share/doc/chatnet/copyright`, COPYRIGHT);
  await write(`${dir}/usr/share/doc/chatnet/changelog.gz`, gz(CHANGELOG));
  const deb = `${root}dist/chatnet_${VERSION}_${arch.deb}.deb`;
  const r = await new Deno.Command("dpkg-deb", {
    args: ["--root-owner-group", "--build", dir, deb],
    stderr: "piped",
    stdout: "null",
  })
    .output();
  if (!r.success) {
    console.error(`dpkg-deb failed: ${decoder.decode(r.stderr).trim()}`);
    return undefined;
  }
  console.log(`built ${deb.slice(root.length)}`);
  return deb;
}

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
  const out = (decoder.decode(r.stdout) + decoder.decode(r.stderr)).trim();
  if (out) console.log(out);
  const errors = out.split("\n").filter((l) => l.startsWith("E: "));
  console.log(`lintian: ${errors.length} error(s) for ${deb.slice(root.length)}`);
  return errors.length === 0;
}

let ok = true;
for (const arch of ARCHES) {
  const deb = await build(arch);
  ok = deb !== undefined && await lint(deb) && ok;
}
Deno.exit(ok ? 0 : 1);
