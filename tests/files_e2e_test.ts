/** File transfer end to end: real chatnet processes, real TCP and UDP on loopback. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProc, type Json, jsonPeer, MAIN, PERMISSIONS, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { CHUNK, encodeHeader } from "../lib/net/file_stream.ts";
import { makeFile, partSize, type RunningPair, SEED, sha256, startPair } from "./file_fixtures.ts";
import { loadOpenSslAead } from "../lib/native/openssl_aead.ts";

interface Pair extends RunningPair {
  dirA: string;
  dirB: string;
  ports: number[];
  sideA: Side;
  sideB: Side;
}

interface Side {
  dir: string;
  name: string;
  port: number;
  peer: number;
  extra?: string[];
  /** Kept across a restart, so the journal carries over. */
  stateHome?: string;
  secret?: string;
  nodeCipher?: boolean;
}

function start({ dir, extra = [], ...side }: Side) {
  return jsonPeer({ ...side, args: ["--downloads", dir, ...extra] });
}

/** Two peers; B gets `extraB` as more options, and with `mixed` seals with node:crypto while A
 * uses OpenSSL (where it loads). */
async function pair(
  { extraB = [], secret, mixed = false }: { extraB?: string[]; secret?: string; mixed?: boolean } =
    {},
): Promise<Pair> {
  const root = await Deno.makeTempDir({ prefix: "chatnet-files-" });
  const dirA = join(root, "a"), dirB = join(root, "b"), src = join(root, "src");
  for (const d of [dirA, dirB, src]) await Deno.mkdir(d);
  const ports = freePorts(2);
  const sideA = {
    dir: dirA,
    name: "alice",
    port: ports[0],
    peer: ports[1],
    stateHome: tempStateHome(),
    secret,
  };
  const sideB = {
    dir: dirB,
    name: "bob",
    port: ports[1],
    peer: ports[0],
    extra: extraB,
    stateHome: tempStateHome(),
    secret,
    nodeCipher: mixed,
  };
  const run = await startPair({ root, sides: [sideA, sideB], start });
  return { ...run, dirA, dirB, ports, sideA, sideB };
}

const received = (p: ChatProc) => p.of("file_received");
const srcDir = (p: Pair) => join(p.dirA, "..", "src");

for (const secret of [undefined, "sizes passphrase"]) {
  const how = secret ? " (sealed by OpenSSL, opened by node:crypto)" : "";
  Deno.test(`files of 0 B, 1 B, one chunk, one chunk ±1 and 50 MiB arrive byte-identical while messages flow${how}`, async () => {
    const p = await pair({ secret, mixed: Boolean(secret) });
    try {
      const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 50 * 2 ** 20];
      const hashes: Record<string, string> = {};
      for (const [i, size] of sizes.entries()) {
        const path = join(srcDir(p), `f${i}.bin`);
        hashes[`f${i}.bin`] = await makeFile(path, size, SEED + i);
        await p.a.command({ type: "file", path });
        await p.a.command({ type: "send", text: `message ${i}` });
        await p.b.command({ type: "send", text: `reply ${i}` });
      }
      await p.b.until(() => received(p.b).length === sizes.length, "all files", 120_000);
      await p.a.until(() => p.a.of("file_sent").length === sizes.length, "all confirmations");
      for (const e of received(p.b)) {
        assert.equal(e.sha256, hashes[e.name], e.name);
        assert.equal(await sha256(e.path), hashes[e.name], `${e.name} on disk`);
        assert.equal(e.path, join(p.dirB, e.name));
      }
      assert.deepEqual(
        p.b.of("message").map((m: Json) => m.text),
        sizes.map((_, i) => `message ${i}`),
      );
      await p.a.until(() => p.a.of("message").length === sizes.length, "replies");
      if (secret) {
        // The two sides really did use different implementations of the one cipher.
        for (const side of [p.a, p.b]) await side.command({ type: "stats" });
        await p.a.until(() => p.a.of("stats").length > 0 && p.b.of("stats").length > 0, "stats");
        assert.equal(p.b.of("stats")[0].cipher, "ChaCha20-Poly1305 (node:crypto)");
        const openssl = loadOpenSslAead(undefined);
        if (typeof openssl === "string") console.log(`OpenSSL not used on this host: ${openssl}`);
        assert.equal(
          p.a.of("stats")[0].cipher,
          `ChaCha20-Poly1305 (${typeof openssl === "string" ? "node:crypto" : openssl.name})`,
        );
      }
      // Progress events (rate-limited, see the unit test): growing, and none after the file is done.
      const events = p.b.events;
      const done = events.findIndex((e: Json) => e.type === "file_received" && e.name === "f5.bin");
      const prog = events.map((e: Json, i: number) => ({ e, i }))
        .filter(({ e }) => e.type === "progress" && e.name === "f5.bin");
      assert.ok(
        prog.every(({ e, i }, k) =>
          e.direction === "receive" && e.bytes <= e.size && i < done &&
          (k === 0 || e.bytes > prog[k - 1].e.bytes)
        ),
        JSON.stringify(prog.map(({ e }) => e.bytes)),
      );
      assert.deepEqual(
        (await Array.fromAsync(Deno.readDir(p.dirB))).filter((e) => e.name.endsWith(".part")),
        [],
      );
    } finally {
      await p.cleanup();
    }
  });
}

Deno.test("transfers run in both directions at once, folders keep their layout, and names never collide", async () => {
  const p = await pair();
  try {
    const folder = join(srcDir(p), "album");
    await Deno.mkdir(join(folder, "2026", "june"), { recursive: true });
    const inFolder = {
      "album/cover.jpg": await makeFile(join(folder, "cover.jpg"), 300_000, 1),
      "album/2026/june/beach.jpg": await makeFile(
        join(folder, "2026", "june", "beach.jpg"),
        2_000_000,
        2,
      ),
    };
    const big = await makeFile(join(srcDir(p), "from-b.bin"), 8 * 2 ** 20, 3);
    const twice = await makeFile(join(srcDir(p), "notes.txt"), 1000, 4);
    await Deno.writeTextFile(join(p.dirB, "notes.txt"), "already here, must survive");
    await p.a.command({ type: "file", path: folder });
    await p.b.command({ type: "file", path: join(srcDir(p), "from-b.bin") });
    await p.a.command({ type: "file", path: join(srcDir(p), "notes.txt") });
    await p.a.command({ type: "file", path: join(srcDir(p), "notes.txt") });
    await p.b.until(() => received(p.b).length === 4, "a's files at b", 60_000);
    await p.a.until(() => received(p.a).length === 1, "b's file at a", 60_000);
    assert.equal(received(p.a)[0].sha256, big);
    for (const [name, hash] of Object.entries(inFolder)) {
      assert.equal(await sha256(join(p.dirB, ...name.split("/"))), hash, name);
    }
    assert.equal(await Deno.readTextFile(join(p.dirB, "notes.txt")), "already here, must survive");
    const notes = received(p.b).filter((e: Json) => e.name === "notes.txt").map((e: Json) => e.path)
      .sort();
    assert.deepEqual(notes, [join(p.dirB, "notes (1).txt"), join(p.dirB, "notes (2).txt")]);
    for (const n of notes) assert.equal(await sha256(n), twice);
  } finally {
    await p.cleanup();
  }
});

/** movie.bin is at b, whole, and both sides name the source's SHA-256 for it. */
async function assertArrived(p: Pair, hash: string): Promise<void> {
  assert.equal(received(p.b)[0].sha256, hash);
  assert.equal(await sha256(join(p.dirB, "movie.bin")), hash);
  await p.a.until(() => p.a.of("file_sent").length === 1, "the sender's confirmation");
  assert.equal(p.a.of("file_sent")[0].sha256, hash);
}

/** Starts sending a 256 MiB file from a to b and returns once 16 MiB have arrived. */
async function midTransfer(p: Pair, seed: number): Promise<{ size: number; hash: string }> {
  const size = 256 * 2 ** 20;
  const path = join(srcDir(p), "movie.bin");
  const hash = await makeFile(path, size, seed);
  await p.a.command({ type: "file", path });
  await p.b.until(
    () => p.b.of("progress").some((e: Json) => e.bytes >= 16 * 2 ** 20),
    "some bytes to arrive",
  );
  return { size, hash };
}

for (const secret of [undefined, "resume passphrase"]) {
  const how = secret ? " (sealed: the sender's SHA-256 covers the checked prefix)" : "";
  Deno.test(`a receiver killed mid-transfer and restarted resumes the file from its .part${how}`, async () => {
    const p = await pair({ secret });
    try {
      const { size, hash } = await midTransfer(p, 9);
      p.b.kill();
      await p.b.exit();
      const part = await partSize(p.dirB, "movie.bin");
      assert.ok(part > 0 && part < size, `part holds ${part} bytes`);
      p.b = start(p.sideB);
      await p.b.until(() => received(p.b).length === 1, "the resumed file", 120_000);
      const resumed = p.b.of("file_start")[0];
      assert.ok(
        resumed.offset >= part - CHUNK && resumed.offset > 0,
        `resumed at ${resumed.offset}`,
      );
      await assertArrived(p, hash);
    } finally {
      await p.cleanup();
    }
  });
}

Deno.test("a sender killed mid-transfer and restarted offers the file again, and it resumes", async () => {
  const p = await pair();
  try {
    const { hash } = await midTransfer(p, 10);
    p.a.kill();
    await p.a.exit();
    p.a = start(p.sideA);
    await p.b.until(() => received(p.b).length === 1, "the resumed file", 120_000);
    const starts = p.b.of("file_start");
    assert.ok(starts.length >= 2 && starts.at(-1).offset > 0, JSON.stringify(starts));
    await assertArrived(p, hash);
  } finally {
    await p.cleanup();
  }
});

Deno.test("a folder sent again lands beside the first as tree (1)/, and a receiver killed mid-way resumes into it", async () => {
  const p = await pair();
  try {
    const tree = join(srcDir(p), "tree");
    await Deno.mkdir(join(tree, "a"), { recursive: true });
    const small = await makeFile(join(tree, "a", "1.txt"), 100, SEED);
    await p.a.command({ type: "file", path: tree });
    await p.b.until(() => received(p.b).length === 1, "the first folder");
    const movie = await makeFile(join(tree, "movie.bin"), 256 * 2 ** 20, SEED + 1);
    await p.a.command({ type: "file", path: tree });
    await p.b.until(
      () => p.b.of("progress").some((e: Json) => e.name === "tree/movie.bin" && e.bytes >= 2 ** 24),
      "some of the second folder",
    );
    p.b.kill();
    await p.b.exit();
    p.b = start(p.sideB);
    await p.b.until(() => received(p.b).some((e: Json) => e.name === "tree/movie.bin"), "the rest");
    await p.a.until(() => p.a.of("file_sent").length === 3, "the sender's three confirmations");
    const list = async (dir: string): Promise<string[]> => {
      const out: string[] = [];
      for await (const e of Deno.readDir(dir)) {
        const path = join(dir, e.name);
        out.push(...(e.isDirectory ? (await list(path)) : [path.slice(p.dirB.length + 1)]));
      }
      return out.sort();
    };
    assert.deepEqual(await list(p.dirB), [
      "tree (1)/a/1.txt",
      "tree (1)/movie.bin",
      "tree/a/1.txt",
    ]);
    assert.equal(await sha256(join(p.dirB, "tree (1)", "movie.bin")), movie);
    assert.equal(await sha256(join(p.dirB, "tree (1)", "a", "1.txt")), small);
    const resumed = p.b.of("file_start").find((e: Json) => e.name === "tree/movie.bin");
    assert.ok(resumed.offset > 0, `resumed at ${resumed.offset}`);
  } finally {
    await p.cleanup();
  }
});

Deno.test("hostile TCP clients are cut off and counted while a real transfer goes through", async () => {
  const p = await pair();
  const conns: Deno.Conn[] = [];
  try {
    const port = p.ports[1];
    // Garbage, a huge claimed size for an unknown transfer, and one that says nothing at all.
    const garbage = await Deno.connect({ hostname: "127.0.0.1", port });
    await garbage.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n".padEnd(64, "x")));
    const huge = await Deno.connect({ hostname: "127.0.0.1", port });
    await huge.write(encodeHeader({ id: "0123456789abcdef", offset: 0, size: 2 ** 50 }));
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(garbage, huge, silent);
    const hash = await makeFile(join(srcDir(p), "real.bin"), 3 * 2 ** 20, 12);
    await p.a.command({ type: "file", path: join(srcDir(p), "real.bin") });
    await p.b.until(() => received(p.b).length === 1, "the real file");
    assert.equal(received(p.b)[0].sha256, hash);
    await p.b.command({ type: "stats" });
    await p.b.until(() => p.b.of("stats").length === 1, "stats");
    assert.equal(p.b.of("stats")[0].tcpBadHeader, 2);
    const entries = (await Array.fromAsync(Deno.readDir(p.dirB))).map((e) => e.name);
    assert.deepEqual(entries, ["real.bin"]);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed by chatnet */ }
    }
    await p.cleanup();
  }
});

Deno.test("a file over --max-file-size is declined and nothing is written", async () => {
  const p = await pair({ extraB: ["--max-file-size", "1K"] });
  try {
    await makeFile(join(srcDir(p), "big.bin"), 4096, 1);
    await p.a.command({ type: "file", path: join(srcDir(p), "big.bin") });
    await p.a.until(() => p.a.of("error").some((e: Json) => e.code === "declined"), "the decline");
    assert.equal(
      p.a.of("error")[0].message,
      "The peer declined big.bin: 4,096 bytes is over the --max-file-size limit of 1,024 bytes",
    );
    await p.b.until(() => p.b.of("error").some((e: Json) => e.code === "declined"), "its own");
    assert.equal(
      p.b.of("error").find((e: Json) => e.code === "declined").message,
      "Declined big.bin: 4,096 bytes is over the --max-file-size limit of 1,024 bytes",
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(p.dirB)), []);
  } finally {
    await p.cleanup();
  }
});

Deno.test("--send exits 0 once the peer has verified the files, and 1 for a missing file", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-send-" });
  const [pa, pb] = freePorts(2);
  const b = start({ dir: root, name: "bob", port: pb, peer: pa });
  const state = tempStateHome();
  try {
    const hash = await makeFile(join(root, "doc.pdf"), 100_000, 3);
    const run = (paths: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...PERMISSIONS,
          MAIN,
          String(pa),
          "127.0.0.1",
          String(pb),
          "--downloads",
          join(root, "out"),
          "--timeout",
          "5",
          "--send",
          ...paths,
        ],
        stdin: "null",
        env: { XDG_STATE_HOME: state },
      }).output();
    await Deno.mkdir(join(root, "out"));
    const ok = await run([join(root, "doc.pdf")]);
    const out = new TextDecoder().decode(ok.stdout);
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    assert.equal(out, `sent doc.pdf (100000 bytes, sha256 ${hash})\n`);
    await b.until(() => received(b).length === 1, "the file at bob");
    assert.equal(received(b)[0].path, join(root, "doc (1).pdf"));
    const missing = await run([join(root, "nope.txt")]);
    assert.equal(missing.code, 1);
    assert.match(
      new TextDecoder().decode(missing.stderr),
      /Cannot send .*nope\.txt: no such file or folder/,
    );
  } finally {
    b.kill();
    await b.exit();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a file over 4 GiB (sparse) crosses intact", async () => {
  const p = await pair();
  try {
    const size = 4 * 2 ** 30 + 65536;
    const path = join(srcDir(p), "huge.img");
    const f = await Deno.open(path, { write: true, create: true });
    await f.truncate(size);
    await f.seek(size - 1, Deno.SeekMode.Start);
    await f.write(new Uint8Array([0x42]));
    await f.seek(2 ** 32 - 10, Deno.SeekMode.Start);
    await f.write(new TextEncoder().encode("across the 32-bit line"));
    f.close();
    const hash = await sha256(path);
    await p.a.command({ type: "file", path });
    await p.b.until(() => received(p.b).length === 1, "the 4 GiB file", 300_000);
    assert.equal(received(p.b)[0].size, size);
    assert.equal(received(p.b)[0].sha256, hash);
    assert.equal((await Deno.stat(join(p.dirB, "huge.img"))).size, size);
    assert.equal(await sha256(join(p.dirB, "huge.img")), hash);
  } finally {
    await p.cleanup();
  }
});
