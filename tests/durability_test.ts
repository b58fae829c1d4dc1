/** Restarts and SIGKILL: real processes with a journal in a state directory, on a lossy link. */
import assert from "node:assert/strict";
import { ChatProc, type Json, type JsonPeer, jsonPeer, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { seededRng } from "../lib/rng.ts";

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 21);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Alice and Bob, each with a state home of their own that survives their restarts. */
function nodes(sim?: (i: number) => string): [JsonPeer, JsonPeer] {
  const [pa, pb] = freePorts(2);
  const args = (i: number) => sim ? ["--sim", sim(i)] : [];
  return [
    { name: "alice", port: pa, peer: pb, stateHome: tempStateHome(), args: args(0) },
    { name: "bob", port: pb, peer: pa, stateHome: tempStateHome(), args: args(1) },
  ];
}

const run = jsonPeer;

const shown = (procs: ChatProc[]) => procs.flatMap((p) => p.of("message").map((m: Json) => m.text));

async function stop(p: ChatProc): Promise<void> {
  p.kill();
  await p.exit();
}

Deno.test("a receiver killed mid-stream and restarted shows all 300 messages exactly once, in order", async () => {
  const [na, nb] = nodes((i) => `loss=10%,dup=5%,delay=20ms,jitter=5ms,seed=${SEED + i}`);
  const a = run(na);
  const bs = [run(nb)];
  try {
    const want = Array.from({ length: 300 }, (_, i) => `m${i}`);
    await a.until(() => a.of("peer").some((e) => e.state === "online"), "peer online");
    for (const [i, text] of want.entries()) {
      await a.command({ type: "send", text });
      await sleep(3);
      if (i === 100) {
        await stop(bs[0]);
        await sleep(300);
      }
      if (i === 200) bs.push(run(nb));
    }
    await a.until(() => shown(bs).length >= 300, "300 messages at bob", 60_000);
    await a.until(() => a.of("delivered").length === 300, "300 acknowledgements at alice", 60_000);
    await sleep(300); // time for a duplicate to show up, if one were coming
    assert.deepEqual(shown(bs), want);
    assert.ok(bs[0].of("message").length > 50, "bob saw some messages before he was killed");
    assert.ok(
      bs[1].of("history").some((h: Json) => h.dir === "in"),
      "the restarted bob replays history",
    );
  } finally {
    await stop(a);
    for (const b of bs) await stop(b);
  }
});

Deno.test("messages queued on both sides survive SIGKILL of both and arrive in order once both return", async () => {
  const [na, nb] = nodes((i) => `loss=20%,seed=${SEED + 10 + i}`);
  // Alice writes while Bob is away, and is killed.
  const a1 = run(na);
  const fromA = ["a1", "a2", "a3", "a4", "a5"];
  for (const text of fromA) await a1.command({ type: "send", text });
  await a1.until(() => a1.of("sent").length === 5, "alice's messages journaled");
  assert.ok(a1.of("sent").every((e: Json) => e.queued === true), "shown as queued");
  await stop(a1);
  // Bob writes while Alice is away, and is killed.
  const b1 = run(nb);
  const fromB = ["b1", "b2", "b3"];
  for (const text of fromB) await b1.command({ type: "send", text });
  await b1.until(() => b1.of("sent").length === 3, "bob's messages journaled");
  await stop(b1);
  assert.deepEqual(b1.of("message"), [], "alice was gone before bob came");
  // Both come back.
  const a2 = run(na), b2 = run(nb);
  try {
    await a2.until(() => a2.of("message").length === 3, "bob's queued messages at alice");
    await b2.until(() => b2.of("message").length === 5, "alice's queued messages at bob");
    await a2.until(() => a2.of("delivered").length === 5, "alice's acknowledgements");
    assert.deepEqual(shown([a2]), fromB);
    assert.deepEqual(shown([b2]), fromA);
    assert.deepEqual(a2.of("delivered").map((e: Json) => e.id), [1, 2, 3, 4, 5]);
    // The restarted alice replays her own messages as history, not as anything new.
    const replay = a2.of("history");
    assert.deepEqual(replay.map((h: Json) => [h.dir, h.id, h.text, h.delivered]), [
      ["out", 1, "a1", false],
      ["out", 2, "a2", false],
      ["out", 3, "a3", false],
      ["out", 4, "a4", false],
      ["out", 5, "a5", false],
    ]);
    // Ids carry on after a restart, past what the first run reserved (1 to 256), so none that a
    // power loss could have taken from the journal after the peer saw it is used again.
    await a2.command({ type: "send", text: "a6" });
    await a2.until(() => a2.of("sent").length === 1, "a6 sent");
    assert.equal(a2.of("sent")[0].id, 257);
    await b2.until(() => b2.of("message").length === 6, "a6 at bob");
    await a2.command({ type: "history", count: 3 });
    await a2.until(() => a2.of("history").length === 8, "three more history lines");
    assert.deepEqual(a2.of("history").slice(5).map((h: Json) => h.text), ["b2", "b3", "a6"]);
  } finally {
    await stop(a2);
    await stop(b2);
  }
});

Deno.test("--no-history keeps no conversation; --state-dir puts the journal where told, and locks it", async () => {
  const [na, nb] = nodes();
  const dir = await Deno.makeTempDir({ prefix: "chatnet-state-dir-" });
  na.args = ["--no-history", "--state-dir", dir];
  const a = run(na), b = run(nb);
  try {
    await a.command({ type: "send", text: "hello" });
    await b.until(() => b.of("message").length === 1, "hello at bob");
    await a.until(() => a.of("delivered").length === 1, "the tick");
    await a.command({ type: "history", count: 10 });
    await a.command({ type: "stats" });
    await a.until(() => a.of("stats").length === 1, "stats");
    assert.deepEqual(a.of("history"), []);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["journal", "lock", "peer"]);
    // A second chatnet on the same state directory is refused before it touches the journal.
    const before = Deno.readTextFileSync(`${dir}/journal`);
    const second = new ChatProc([
      ...["-p", String(freePorts(1)[0]), "--peer", "127.0.0.1:9", "--state-dir", dir],
    ]);
    assert.equal((await second.exit()).code, 2);
    assert.match(second.stderr, /Cannot use state directory .*: another chatnet is using it\n$/);
    assert.equal(Deno.readTextFileSync(`${dir}/journal`), before);
  } finally {
    await stop(a);
    await stop(b);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a state directory that cannot be used is a one-line error", async () => {
  const file = await Deno.makeTempFile();
  const p = new ChatProc([
    "-p",
    String(freePorts(1)[0]),
    "--peer",
    "127.0.0.1:9",
    "--state-dir",
    file,
  ]);
  const status = await p.exit();
  assert.equal(status.code, 2);
  assert.match(p.stderr, /^chatnet: Cannot use state directory .*: .+\n$/);
  await Deno.remove(file);
});

/**
 * The property: across any schedule of SIGKILLs and restarts of either side, what the receiver
 * shows is exactly what the sender reported as sent, in order, once each. A message whose "sent"
 * the harness never saw (the sender died while journaling it) may or may not arrive, but never
 * twice and never out of order.
 */
Deno.test("seeded SIGKILL schedules: the receiver shows exactly the sender's sent sequence", async () => {
  for (let round = 0; round < 3; round++) {
    const seed = SEED * 100 + round;
    const rng = seededRng(seed);
    const [na, nb] = nodes((i) => `loss=15%,dup=5%,reorder=10%,delay=3ms,seed=${seed + i}`);
    const as = [run(na)], bs = [run(nb)];
    const confirmed: string[] = [];
    const maybe = new Set<string>();
    const context = () => `seed ${seed} (replay with CHATNET_TEST_SEED=${SEED})`;
    try {
      for (let k = 0; k < 80; k++) {
        const a = as.at(-1)!;
        const text = `r${round}-m${k}`;
        const before = a.of("sent").length;
        await a.command({ type: "send", text }).catch(() => {});
        const roll = rng();
        if (roll < 0.04) {
          // Kill the sender at once: this message may or may not have been journaled.
          maybe.add(text);
          await stop(a);
          await sleep(50 + rng() * 400);
          as.push(run(na));
          continue;
        }
        await a.until(() => a.of("sent").length > before, `"sent" for ${text}; ${context()}`);
        confirmed.push(text);
        if (roll < 0.08) {
          const b = bs.at(-1)!;
          await sleep(rng() * 30);
          await stop(b);
          await sleep(50 + rng() * 400);
          bs.push(run(nb));
        } else await sleep(rng() * 15);
      }
      const last = confirmed.at(-1)!;
      await bs[0].until(
        () => shown(bs).includes(last),
        `the last message at the receiver; ${context()}`,
        60_000,
      );
      await sleep(500);
      const got = shown(bs);
      const expected = [...confirmed, ...maybe];
      const order = (t: string) => Number(t.split("-m")[1]);
      assert.deepEqual(
        got,
        expected.filter((t) => !maybe.has(t) || got.includes(t)).sort((x, y) =>
          order(x) - order(y)
        ),
        context(),
      );
      assert.ok(as.length + bs.length > 3, `the schedule restarted something; ${context()}`);
    } finally {
      for (const p of [...as, ...bs]) await stop(p);
    }
  }
});
