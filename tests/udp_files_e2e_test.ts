/** Files over the UDP session end to end: real chatnet processes on loopback (--files udp, and
 * auto falling back when the peer's TCP file port has nothing listening). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChatProc, type Json, jsonPeer, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import {
  chatDuringTransfer,
  makeFile,
  partSize,
  SEED,
  sha256,
  startPair,
} from "./file_fixtures.ts";

interface Side {
  name: string;
  port: number;
  peer: number;
  dir: string;
  stateHome: string;
  args: string[];
  secret?: string;
}

function start(s: Side): ChatProc {
  return jsonPeer({ ...s, args: ["--downloads", s.dir, ...s.args] });
}

async function pair(
  { argsA = [], argsB = [], secret }: { argsA?: string[]; argsB?: string[]; secret?: string },
) {
  const root = await Deno.makeTempDir({ prefix: "chatnet-udpfiles-" });
  const src = join(root, "src");
  for (const d of ["a", "b", "src"]) await Deno.mkdir(join(root, d));
  const ports = freePorts(2);
  const sideA: Side = {
    name: "alice",
    port: ports[0],
    peer: ports[1],
    dir: join(root, "a"),
    stateHome: tempStateHome(),
    args: argsA,
    secret,
  };
  const sideB: Side = {
    name: "bob",
    port: ports[1],
    peer: ports[0],
    dir: join(root, "b"),
    stateHome: tempStateHome(),
    args: argsB,
    secret,
  };
  return { ...await startPair({ root, sides: [sideA, sideB], start }), sideA, sideB, src };
}

for (const secret of [undefined, "udp files passphrase"]) {
  const how = secret ? " inside the session's sealed datagrams" : "";
  Deno.test(`--files udp carries a file byte-identical over the session${how}`, async () => {
    const p = await pair({ argsA: ["--files", "udp"], secret });
    try {
      const path = join(p.src, "over-udp.bin");
      const want = await makeFile(path, 12 * 2 ** 20 + 7, SEED);
      await p.a.command({ type: "file", path });
      await p.b.until(() => p.b.of("file_received").length === 1, "file at b", 120_000);
      await p.a.until(() => p.a.of("file_sent").length === 1, "confirmation at a");
      const got = p.b.of("file_received")[0];
      assert.equal(got.sha256, want);
      assert.equal(await sha256(got.path), want);
      assert.deepEqual(
        [p.a.of("file_start")[0].via, p.b.of("file_start")[0].via],
        ["udp", "udp"],
      );
      assert.equal(p.a.of("file_sent")[0].sha256, want);
      const prog = p.a.of("progress").map((e: Json) => e.bytes);
      assert.ok(
        prog.length > 0 && prog.every((b: number, i: number) => i === 0 || b > prog[i - 1]),
      );
    } finally {
      await p.cleanup();
    }
  });
}

Deno.test("over the session, a receiver killed mid-transfer and restarted resumes from its .part", async () => {
  const p = await pair({ argsA: ["--files", "udp"] });
  try {
    const path = join(p.src, "resume.bin");
    const size = 24 * 2 ** 20;
    const want = await makeFile(path, size, SEED + 1);
    await p.a.command({ type: "file", path });
    await p.b.until(
      () => p.b.of("progress").some((e: Json) => e.bytes >= size / 4),
      "a quarter received",
      60_000,
    );
    p.b.kill();
    await p.b.exit();
    const part = await partSize(p.sideB.dir, "resume.bin");
    assert.ok(part > 0 && part < size, `part holds ${part} bytes`);
    p.b = start(p.sideB);
    await p.b.until(() => p.b.of("file_received").length === 1, "the resumed file", 120_000);
    const resumed = p.b.of("file_start")[0];
    assert.ok(resumed.offset > 0 && resumed.offset <= part, `resumed at ${resumed.offset}`);
    assert.equal(resumed.via, "udp");
    const got = p.b.of("file_received")[0];
    assert.equal(got.sha256, want);
    assert.equal(await sha256(got.path), want);
    await p.a.until(() => p.a.of("file_sent").length === 1, "confirmation at a");
  } finally {
    await p.cleanup();
  }
});

/** A chat line sent during a transfer over the session must not wait behind the file. */
const CHAT_P99_MS = 100;

Deno.test(`chat during a transfer over the session arrives promptly (p99 under ${CHAT_P99_MS} ms)`, async () => {
  const p = await pair({ argsA: ["--files", "udp"] });
  try {
    const path = join(p.src, "chat-during.bin");
    await makeFile(path, 48 * 2 ** 20, SEED + 2);
    await p.a.command({ type: "file", path });
    await p.b.until(() => p.b.of("file_start").length === 1, "transfer started");
    const { n, p50, p99 } = await chatDuringTransfer({ from: p.a, to: p.b, max: 50 });
    console.log(
      `  chat during the transfer: ${n} lines, p50 ${p50.toFixed(1)} ms, ` +
        `p99 ${p99.toFixed(1)} ms`,
    );
    assert.ok(n >= 20, `only ${n} lines went out during the transfer`);
    assert.ok(p99 < CHAT_P99_MS, `p99 ${p99.toFixed(1)} ms`);
    await p.b.until(() => p.b.of("file_received").length === 1, "the file", 120_000);
  } finally {
    await p.cleanup();
  }
});
