/** --accept between real chatnet processes in JSON mode: asked once per file or folder, answered
 * with accept or decline by id, journaled across a restart; all (the JSON default) and none. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChatProc, type Json, jsonPeer, runOnce, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { makeFile, SEED, sha256, startPair } from "./file_fixtures.ts";

interface Pair {
  a: ChatProc;
  b: ChatProc;
  dirB: string;
  src: string;
  /** Starts B (or A) again on its state directory, once it is killed. */
  restartB(): ChatProc;
  restartA(): ChatProc;
  cleanup(): Promise<void>;
}

/** Alice (default --accept) sends; Bob runs with `acceptB` options. */
async function pair(acceptB: string[]): Promise<Pair> {
  const root = await Deno.makeTempDir({ prefix: "chatnet-consent-" });
  const dirA = join(root, "a"), dirB = join(root, "b"), src = join(root, "src");
  for (const d of [dirA, dirB, src]) await Deno.mkdir(d);
  const [pa, pb] = freePorts(2);
  const stateA = tempStateHome(), stateB = tempStateHome();
  const sideA = () =>
    jsonPeer({ name: "alice", port: pa, peer: pb, stateHome: stateA, args: ["--downloads", dirA] });
  const sideB = () =>
    jsonPeer({
      name: "bob",
      port: pb,
      peer: pa,
      stateHome: stateB,
      args: ["--downloads", dirB, ...acceptB],
    });
  let a: ChatProc | undefined, b: ChatProc | undefined;
  const run = await startPair({
    root,
    sides: ["a", "b"],
    start: (s) => s === "a" ? (a = sideA()) : (b = sideB()),
  });
  const p: Pair = {
    a: run.a,
    b: run.b,
    dirB,
    src,
    restartB: () => (p.b = b = sideB()),
    restartA: () => (p.a = a = sideA()),
    cleanup: async () => {
      a?.kill();
      b?.kill();
      await a?.exit();
      await b?.exit();
      await Deno.remove(root, { recursive: true });
    },
  };
  return p;
}

/** A folder `name` of `n` files of 1,000 + i bytes; their hashes by the names the peer sees. */
async function folder(src: string, name: string, n: number): Promise<Record<string, string>> {
  await Deno.mkdir(join(src, name));
  const hashes: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    hashes[`${name}/f${i}.bin`] = await makeFile(join(src, name, `f${i}.bin`), 1000 + i, SEED + i);
  }
  return hashes;
}

const entries = async (dir: string) =>
  (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();

Deno.test("--accept ask: a folder is asked about once, holds no turn while it waits, and once accepted every file arrives byte-identical", async () => {
  const p = await pair(["--accept", "ask"]);
  try {
    const hashes = await folder(p.src, "holiday", 6);
    await p.a.command({ type: "file", path: join(p.src, "holiday") });
    await p.b.until(() => p.b.of("offer").length === 1, "the offer");
    assert.deepEqual(p.b.of("offer")[0], {
      type: "offer",
      id: p.b.of("offer")[0].id,
      name: "holiday/",
      size: 6 * 1000 + 15,
      files: 6,
      sender: "alice",
    });
    await p.a.until(() => p.a.of("offer_waiting").length === 1, "alice hearing that bob is asked");
    // A single file offered meanwhile is asked about and taken while the folder still waits:
    // the folder's six files hold none of alice's four streaming turns.
    const one = await makeFile(join(p.src, "one.txt"), 500, 99);
    await p.a.command({ type: "file", path: join(p.src, "one.txt") });
    await p.b.until(() => p.b.of("offer").length === 2, "the second offer");
    const [first, second] = p.b.of("offer");
    assert.equal(second.name, "one.txt");
    assert.equal(second.files, 1);
    await p.b.command({ type: "accept", id: second.id });
    await p.b.until(() => p.b.of("file_received").length === 1, "one.txt");
    assert.equal(await sha256(join(p.dirB, "one.txt")), one);
    assert.deepEqual(await entries(p.dirB), ["one.txt"], "nothing of the folder before its answer");
    assert.equal(p.b.of("offer").length, 2, "the folder was asked about once");
    await p.b.command({ type: "accept", id: first.id });
    await p.b.until(() => p.b.of("file_received").length === 7, "the folder's files", 60_000);
    for (const [name, hash] of Object.entries(hashes)) {
      assert.equal(await sha256(join(p.dirB, name)), hash, name);
    }
    assert.deepEqual(
      p.b.of("offer_closed").map((e: Json) => [e.id, e.outcome]),
      [[second.id, "accepted"], [first.id, "accepted"]],
    );
    await p.a.until(() => p.a.of("file_sent").length === 7, "alice's confirmations");
    assert.equal(p.b.of("offer").length, 2, "never asked again");
  } finally {
    await p.cleanup();
  }
});

Deno.test("--accept ask: a declined offer tells the sender who declined, and leaves nothing on disk; a bad id is unknown_offer", async () => {
  const p = await pair(["--accept", "ask"]);
  try {
    await folder(p.src, "holiday", 5);
    await p.a.command({ type: "file", path: join(p.src, "holiday") });
    await p.b.until(() => p.b.of("offer").length === 1, "the offer");
    const id = p.b.of("offer")[0].id;
    await p.b.command({ type: "accept", id: "0123456789abcdef" });
    await p.b.until(() => p.b.of("error").length === 1, "the unknown id's error");
    assert.deepEqual(p.b.of("error")[0], {
      type: "error",
      code: "unknown_offer",
      message: 'Cannot accept offer "0123456789abcdef": no offer with that id is waiting for an ' +
        "answer",
      id: "0123456789abcdef",
    });
    await p.b.command({ type: "decline", id });
    await p.a.until(() => p.a.of("error").some((e: Json) => e.code === "declined"), "the decline");
    assert.deepEqual(p.a.of("error"), [{
      type: "error",
      code: "declined",
      message: "Cannot send holiday/ (5 files): declined by bob",
      id: p.a.of("offer_waiting")[0].id,
      name: "holiday/",
    }]);
    assert.deepEqual(p.b.of("offer_closed"), [{
      type: "offer_closed",
      id,
      name: "holiday/",
      outcome: "declined",
    }]);
    // Answered already: a second answer is an unknown offer too.
    await p.b.command({ type: "accept", id });
    await p.b.until(() => p.b.of("error").length === 2, "the second error");
    assert.equal(p.b.of("error")[1].code, "unknown_offer");
    // Whatever bob would have made on disk, it would have by now.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await entries(p.dirB), [], "no folder, no .part, no file");
    assert.equal(p.b.of("file_start").length, 0);
  } finally {
    await p.cleanup();
  }
});

Deno.test("--accept ask: a pending offer survives a restart of the receiver, and one answered is not asked again after the next", async () => {
  const p = await pair(["--accept", "ask"]);
  try {
    const hash = await makeFile(join(p.src, "big.bin"), 20 * 2 ** 20, 7);
    await p.a.command({ type: "file", path: join(p.src, "big.bin") });
    await p.b.until(() => p.b.of("offer").length === 1, "the offer");
    const offer = p.b.of("offer")[0];
    p.b.kill();
    await p.b.exit();
    const b2 = p.restartB();
    await b2.until(() => b2.of("offer").length === 1, "the offer said again");
    assert.deepEqual(b2.of("offer")[0], offer);
    await b2.command({ type: "accept", id: offer.id });
    await b2.until(() => b2.of("offer_closed").length === 1, "the answer");
    // Killed as soon as it answered (mid-stream, or before): the next run must not ask again.
    b2.kill();
    await b2.exit();
    const b3 = p.restartB();
    await b3.until(() => b3.of("file_received").length === 1, "big.bin", 60_000);
    assert.equal(await sha256(join(p.dirB, "big.bin")), hash);
    assert.equal(b3.of("offer").length, 0, "not asked again");
    assert.deepEqual(await entries(p.dirB), ["big.bin"]);
  } finally {
    await p.cleanup();
  }
});

Deno.test("--accept ask: a sender restarted while its offer waits is not asked about twice, and gets an answer given while it was down", async () => {
  const p = await pair(["--accept", "ask"]);
  try {
    const hash = await makeFile(join(p.src, "doc.pdf"), 300_000, 11);
    await p.a.command({ type: "file", path: join(p.src, "doc.pdf") });
    await p.a.until(() => p.a.of("offer_waiting").length === 1, "alice hearing that bob is asked");
    await p.b.until(() => p.b.of("offer").length === 1, "the offer");
    const id = p.b.of("offer")[0].id;
    p.a.kill();
    await p.a.exit();
    const a2 = p.restartA();
    // The new run offers the file again (from its journal) and hears it still waits.
    await a2.until(() => a2.of("offer_waiting").length === 1, "the wait, heard again");
    assert.equal(a2.of("offer_waiting")[0].id, id);
    a2.kill();
    await a2.exit();
    await p.b.command({ type: "accept", id });
    await p.b.until(() => p.b.of("offer_closed").length === 1, "the answer");
    const a3 = p.restartA();
    await p.b.until(() => p.b.of("file_received").length === 1, "doc.pdf", 60_000);
    assert.equal(await sha256(join(p.dirB, "doc.pdf")), hash);
    await a3.until(() => a3.of("file_sent").length === 1, "alice's confirmation");
    assert.equal(p.b.of("offer").length, 1, "asked once in all");
  } finally {
    await p.cleanup();
  }
});

Deno.test("--accept none declines every offer once and says so; JSON's default (all) takes them unasked", async () => {
  const p = await pair(["--accept", "none"]);
  try {
    await folder(p.src, "holiday", 5);
    await p.a.command({ type: "file", path: join(p.src, "holiday") });
    await p.a.until(() => p.a.of("error").length > 0, "the decline");
    await p.b.until(() => p.b.of("error").length > 0, "bob saying so");
    assert.deepEqual(p.a.of("error").map((e: Json) => [e.code, e.message]), [
      ["declined", "Cannot send holiday/ (5 files): declined: not accepting files"],
    ]);
    assert.deepEqual(p.b.of("error").map((e: Json) => [e.code, e.message]), [
      [
        "declined",
        "Declined holiday/ (5 files, 5,010 bytes) from alice: not accepting files " +
        "(--accept none)",
      ],
    ]);
    assert.equal(p.b.of("offer").length, 0);
    assert.deepEqual(await entries(p.dirB), []);
  } finally {
    await p.cleanup();
  }
  const q = await pair([]);
  try {
    const hashes = await folder(q.src, "holiday", 5);
    await q.a.command({ type: "file", path: join(q.src, "holiday") });
    await q.b.until(() => q.b.of("file_received").length === 5, "the folder");
    for (const [name, hash] of Object.entries(hashes)) {
      assert.equal(await sha256(join(q.dirB, name)), hash, name);
    }
    assert.equal(q.b.of("offer").length, 0, "nobody asked");
    assert.equal(q.a.of("offer_waiting").length, 0);
  } finally {
    await q.cleanup();
  }
});

Deno.test("--accept ask where nothing can answer (piped input, --send) is a usage error", async () => {
  const pipe = await runOnce(["--accept", "ask", "9000", "127.0.0.1", "9001"]);
  assert.equal(pipe.code, 2);
  assert.equal(
    pipe.stderr,
    "chatnet: Cannot use --accept ask with piped input: nothing would be there to answer an " +
      "offer; use --json, --web or a terminal, or --accept all or none\n",
  );
  const send = await runOnce(["--accept", "ask", "9000", "127.0.0.1", "9001", "--send", "x"]);
  assert.equal(send.code, 2);
  assert.equal(
    send.stderr,
    "chatnet: Cannot use --accept ask with --send: nothing would be there to answer an offer\n",
  );
  const bad = await runOnce(["--accept", "maybe", "9000", "127.0.0.1", "9001"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'chatnet: Cannot use --accept: "maybe" is not ask, all or none\n');
});
