/** Address migration end to end: two real chatnet processes talking through a UDP relay (a NAT in
 * the middle) that moves alice to a new port mid-session, as a NAT rebinding does. With a
 * passphrase bob follows her there, chat and a transfer over the session included; without one he
 * refuses the new port and says so once. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChatProc, type Json, jsonPeer, tempStateHome } from "./proc.ts";
import { relay } from "./relay.ts";
import { freePorts } from "../lib/demo.ts";
import { makeFile, SEED, sha256 } from "./file_fixtures.ts";

async function setup(secret: string | undefined, argsA: string[] = []) {
  const root = await Deno.makeTempDir({ prefix: "chatnet-migrate-" });
  for (const d of ["a", "b", "src"]) await Deno.mkdir(join(root, d));
  const [pa, pb] = freePorts(2);
  const r = relay({ portA: pa, portB: pb });
  const a = jsonPeer({
    name: "alice",
    port: pa,
    peer: r.portForA,
    secret,
    stateHome: tempStateHome(),
    args: ["--downloads", join(root, "a"), ...argsA],
  });
  const b = jsonPeer({
    name: "bob",
    port: pb,
    peer: r.portForB,
    secret,
    stateHome: tempStateHome(),
    args: ["--downloads", join(root, "b")],
  });
  const online = (p: ChatProc) => p.of("peer").some((e: Json) => e.state === "online");
  await a.until(() => online(a) && online(b), "both online");
  return {
    a,
    b,
    r,
    root,
    async cleanup() {
      for (const p of [a, b]) {
        p.kill();
        await p.exit();
      }
      r.close();
      await Deno.remove(root, { recursive: true });
    },
  };
}

const texts = (p: ChatProc) => p.of("message").map((m: Json) => m.text);

Deno.test("with a passphrase, a peer that moves to a new port is followed: chat both ways and a transfer over the session carry on", async () => {
  const s = await setup("migration passphrase", ["--files", "udp"]);
  const { a, b, r } = s;
  try {
    const before = r.portAtB;
    await a.command({ type: "send", text: "before the move" });
    await b.until(() => texts(b).length === 1, "the first message");
    const path = join(s.root, "src", "moving.bin");
    const size = 16 * 2 ** 20;
    const want = await makeFile(path, size, SEED + 7);
    await a.command({ type: "file", path });
    await b.until(
      () => b.of("progress").some((e: Json) => e.bytes >= size / 8),
      "an eighth of the file",
    );
    const after = r.rebind();
    await a.command({ type: "send", text: "after the move" });
    await b.until(() => texts(b).length === 2, "alice's message from her new port");
    await b.command({ type: "send", text: "reply to the new port" });
    await a.until(() => texts(a).length === 1, "bob's reply, sent to the new port");
    assert.deepEqual(texts(b), ["before the move", "after the move"]);
    assert.deepEqual(texts(a), ["reply to the new port"]);
    assert.deepEqual(b.of("moved"), [{
      type: "moved",
      from: `127.0.0.1:${before}`,
      to: `127.0.0.1:${after}`,
    }]);
    assert.equal(b.of("message")[1].from, `127.0.0.1:${after}`);
    assert.deepEqual(a.of("moved"), []);
    await b.until(() => b.of("file_received").length === 1, "the file", 120_000);
    const got = b.of("file_received")[0];
    assert.equal(got.sha256, want);
    assert.equal(await sha256(got.path), want);
    // The transfer carried on over the moved session: one stream, never restarted.
    assert.deepEqual(b.of("file_start").map((e: Json) => [e.offset, e.via]), [[0, "udp"]]);
    assert.deepEqual(b.of("error").filter((e: Json) => e.code !== "weak_passphrase"), []);
  } finally {
    await s.cleanup();
  }
});

Deno.test("without a passphrase, a peer at a new port is refused and the refusal is said once", async () => {
  const s = await setup(undefined);
  const { a, b, r } = s;
  try {
    await a.command({ type: "send", text: "before the move" });
    await b.until(() => texts(b).length === 1, "the first message");
    const before = r.portAtB;
    const after = r.rebind();
    // Several datagrams come from the new port (the message, its retransmissions, keepalives).
    await a.command({ type: "send", text: "after the move" });
    await b.until(
      () => b.of("error").some((e: Json) => e.code === "foreign_address"),
      "the refusal",
    );
    await new Promise((ok) => setTimeout(ok, 3000));
    await b.command({ type: "stats" });
    await b.until(() => b.of("stats").length === 1, "stats");
    assert.deepEqual(b.of("error").filter((e: Json) => e.code === "foreign_address"), [{
      type: "error",
      code: "foreign_address",
      from: `127.0.0.1:${after}`,
      message: `Ignoring datagrams from 127.0.0.1:${after}: the peer is 127.0.0.1:${before}, ` +
        "and without a passphrase a peer that changes address cannot be told from anyone else " +
        "(with one, it is followed)",
    }]);
    assert.ok(b.of("stats")[0].foreign >= 3, `foreign ${b.of("stats")[0].foreign}`);
    assert.deepEqual(texts(b), ["before the move"]);
    assert.deepEqual(b.of("moved"), []);
  } finally {
    await s.cleanup();
  }
});
