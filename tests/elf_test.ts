/** The .deb's ELF reader: the libraries and symbol versions the runtime needs, and its Depends. */
import assert from "node:assert/strict";
import { dependsFor, readElf } from "../scripts/elf.ts";

const runtime = Deno.readFileSync(Deno.execPath());

async function readelf(flag: string): Promise<string | undefined> {
  try {
    const r = await new Deno.Command("readelf", { args: ["-W", flag, Deno.execPath()] }).output();
    return r.success ? new TextDecoder().decode(r.stdout) : undefined;
  } catch {
    return undefined;
  }
}

const haveReadelf = (await readelf("-h")) !== undefined;
if (!haveReadelf) console.log("readelf (binutils) is missing: the cross-checks against it skip");

Deno.test({
  name: "the runtime's NEEDED libraries and GLIBC versions are those readelf lists, in order",
  ignore: !haveReadelf || Deno.build.os !== "linux",
  async fn() {
    const elf = readElf(runtime);
    assert.ok(typeof elf !== "string", String(elf));
    assert.equal(elf.machine, Deno.build.arch);
    const needed = [...(await readelf("-d"))!.matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)]
      .map((m) => m[1]);
    assert.ok(needed.length > 0);
    assert.deepEqual(elf.needed, needed);
    const names = [...(await readelf("-V"))!.matchAll(/Name: (GLIBC_[\d.]+)/g)].map((m) => m[1]);
    const ours = [...elf.versions.values()].flat().filter((n) => n.startsWith("GLIBC_"));
    assert.deepEqual(ours.sort(), names.sort());
    const relro = (await readelf("-l"))!.includes("GNU_RELRO");
    assert.equal(elf.relro, relro);
  },
});

Deno.test("Depends names each providing package once, libc6 at the newest GLIBC version", () => {
  const elf = {
    machine: "x86_64" as const,
    needed: ["libdl.so.2", "libgcc_s.so.1", "libm.so.6", "libc.so.6", "ld-linux-x86-64.so.2"],
    versions: new Map([
      ["libc.so.6", ["GLIBC_2.2.5", "GLIBC_2.27", "GLIBC_2.3.4", "GLIBC_PRIVATE"]],
      ["libm.so.6", ["GLIBC_2.29"]],
      ["libgcc_s.so.1", ["GCC_4.2.0"]],
    ]),
    relro: false,
  };
  // 2.29 (from libm) is newer than 2.27 and 2.3.4: versions compare by number, not as text.
  assert.deepEqual(dependsFor(elf), { depends: "libc6 (>= 2.29), libgcc-s1 | libgcc1" });
  assert.deepEqual(dependsFor({ ...elf, versions: new Map() }), {
    depends: "libc6, libgcc-s1 | libgcc1",
  });
  assert.equal(
    dependsFor({ ...elf, needed: [...elf.needed, "libX11.so.6"] }),
    "no Debian package known for libX11.so.6",
  );
});

Deno.test("what is not a 64-bit little-endian ELF executable is a reason, not a throw", () => {
  assert.equal(readElf(new TextEncoder().encode("#!/bin/sh\necho hi\n")), "not an ELF file");
  const header = runtime.slice(0, 64);
  assert.equal(readElf(header), "truncated program headers");
  const big = runtime.slice(0, 64);
  big[5] = 2;
  assert.equal(readElf(big), "not a 64-bit little-endian ELF file");
  const arm32 = runtime.slice(0, 64);
  new DataView(arm32.buffer).setUint16(18, 40, true);
  assert.equal(readElf(arm32), "unsupported ELF machine 40");
  // Cut inside the dynamic section: every offset is checked against the file's length.
  const elf = readElf(runtime);
  assert.ok(typeof elf !== "string");
  for (const cut of [200, 4096, runtime.length >> 1]) {
    const r = readElf(runtime.slice(0, cut));
    assert.ok(typeof r === "string" || r.needed.length <= elf.needed.length);
  }
});
