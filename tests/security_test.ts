/** Passphrase sessions and hostile input, against real processes. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  ChatProc,
  containsBytes,
  type Json,
  jsonPeer,
  MAIN,
  PERMISSIONS,
  tempStateHome,
} from "./proc.ts";
import { relay, tcpRelay } from "./relay.ts";
import { freePorts } from "../lib/demo.ts";
import { encodeHeader } from "../lib/net/file_stream.ts";
import { seededRng } from "../lib/rng.ts";

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 41);
const encoder = new TextEncoder();
const pause = () => new Promise((r) => setTimeout(r, 2));

const run = jsonPeer;

/** Asks for stats until `cond` holds of them; returns the last. */
async function statsUntil(p: ChatProc, cond: (s: Json) => boolean, what: string): Promise<Json> {
  const end = Date.now() + 10_000;
  for (;;) {
    const seen = p.of("stats").length;
    await p.command({ type: "stats" });
    await p.until(() => p.of("stats").length > seen, "stats");
    const s = p.of("stats").at(-1);
    if (cond(s)) return s;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const online = (p: ChatProc) => p.of("peer").some((e: Json) => e.state === "online");

Deno.test("with the same passphrase, messages and a file cross and the wire holds none of the plaintext", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-secure-" });
  const [pa, pb, fb] = freePorts(3);
  const captured: Uint8Array[] = [];
  const r = relay({ portA: pa, portB: pb, hostB: "127.0.0.3", tap: (d) => captured.push(d) });
  const t = tcpRelay(fb, { hostname: "127.0.0.3", port: fb }, (d) => captured.push(d));
  const secret = "purple-otter-kettle";
  const a = run({ name: "alice", port: pa, peer: r.portForA, secret });
  const b = run({
    name: "bob",
    port: pb,
    peer: r.portForB,
    secret,
    args: ["--bind", "127.0.0.3", "--file-port", String(fb), "--downloads", root],
  });
  try {
    await a.until(() => online(a) && online(b), "both online");
    const fa = a.of("peer").find((e: Json) => e.fingerprint).fingerprint;
    assert.match(fa, /^\d{4} \d{4} \d{4}$/);
    assert.equal(b.of("peer").find((e: Json) => e.fingerprint).fingerprint, fa);
    assert.equal(a.of("ready")[0].encrypted, true);
    assert.doesNotMatch(a.stderr, /NOT encrypted/);
    const file = join(root, "..", `${root.split("/").pop()}-payload.txt`);
    const content = encoder.encode("FILE-MARKER-0123456789 ".repeat(50_000));
    await Deno.writeFile(file, content);
    await a.command({ type: "file", path: file });
    for (let i = 0; i < 20; i++) {
      await a.command({ type: "send", text: `PLAINTEXT-MARKER from alice ${i}` });
      await b.command({ type: "send", text: `PLAINTEXT-MARKER from bob ${i}` });
    }
    await b.until(
      () => b.of("message").length === 20 && b.of("file_received").length === 1,
      "messages and the file at bob",
    );
    await a.until(() => a.of("message").length === 20, "messages at alice");
    assert.deepEqual(
      b.of("message").map((m: Json) => m.text),
      Array.from({ length: 20 }, (_, i) => `PLAINTEXT-MARKER from alice ${i}`),
    );
    const got = b.of("file_received")[0];
    assert.equal(got.sha256, createHash("sha256").update(content).digest("hex"));
    assert.deepEqual(await Deno.readFile(got.path), content);
    const udp = captured.length;
    assert.ok(udp > 40, `captured ${udp} chunks`);
    const all = new Uint8Array(captured.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of captured) all.set(c, o), o += c.length;
    assert.ok(all.length > content.length, "the file's bytes crossed the TCP relay");
    for (const needle of ["PLAINTEXT-MARKER", "FILE-MARKER", "alice ", secret, "payload.txt"]) {
      assert.ok(!containsBytes(all, needle), `"${needle}" appears on the wire`);
    }
    await Deno.remove(file);
  } finally {
    for (const p of [a, b]) {
      p.kill();
      await p.exit();
    }
    r.close();
    t.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("different passphrases: a clear error on both sides, no message and no file, then the corrected restart delivers both at once", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-wrongpw-" });
  const [pa, pb] = freePorts(2);
  const bobHome = tempStateHome();
  const a = run({ name: "alice", port: pa, peer: pb, secret: "one" });
  const bob = (secret: string) =>
    run({
      name: "bob",
      port: pb,
      peer: pa,
      secret,
      args: ["--downloads", root],
      stateHome: bobHome,
    });
  let b = bob("two");
  try {
    const src = join(root, "..", `${root.split("/").pop()}-x.bin`);
    await Deno.writeFile(src, new Uint8Array(1000));
    await a.command({ type: "send", text: "hello?" });
    await a.command({ type: "file", path: src });
    await b.command({ type: "send", text: "anyone?" });
    const failed = (p: ChatProc) => p.of("error").some((e: Json) => e.code === "auth_failed");
    await a.until(() => failed(a) && failed(b), "auth_failed on both sides");
    await new Promise((r) => setTimeout(r, 1000));
    for (const p of [a, b]) {
      assert.deepEqual(p.of("message"), []);
      assert.ok(!online(p));
      const e = p.of("error").find((e: Json) => e.code === "auth_failed");
      const from = `127.0.0.1:${p === a ? pb : pa}`;
      assert.equal(e.from, from);
      assert.equal(e.count, 1);
      assert.equal(e.retryIn, 0);
      assert.match(e.message, new RegExp(`^A handshake from ${from} failed \\(`));
      assert.match(e.message, /1 failed so far; next attempt accepted now$/);
      const weak = p.of("error").find((e: Json) => e.code === "weak_passphrase");
      assert.match(weak.message, /^the passphrase is short \(3 characters\)/);
    }
    assert.deepEqual(await Array.fromAsync(Deno.readDir(root)), []);
    // Bob's user takes some seconds to read the error; nothing more is tried meanwhile.
    await new Promise((r) => setTimeout(r, 6_000));
    for (const p of [a, b]) {
      assert.deepEqual(p.of("error").filter((e: Json) => e.code === "auth_failed").length, 1);
    }
    // Bob's user types the passphrase again: one mistake spent none of the backoff's free tries
    // past its own, so alice answers the new process at once, and what waited is delivered.
    b.kill();
    await b.exit();
    const restarted = Date.now();
    b = bob("one");
    await b.until(() => online(b) && online(a), "both online after the corrected restart");
    const took = Date.now() - restarted;
    assert.ok(took < 5_000, `online ${took} ms after the restart`);
    await b.until(() => b.of("file_received").length === 1, "the file");
    await a.until(() => a.of("message").length === 1, "bob's queued line");
    assert.deepEqual(b.of("message").map((e: Json) => e.text), ["hello?"]);
    assert.deepEqual(a.of("message").map((e: Json) => e.text), ["anyone?"]);
    await Deno.remove(src);
  } finally {
    for (const p of [a, b]) {
      p.kill();
      await p.exit();
    }
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("without a passphrase a warning is printed, and a passphrase on one side only is named", async () => {
  const [pa, pb] = freePorts(2);
  const a = run({ name: "alice", port: pa, peer: pb });
  const b = run({ name: "bob", port: pb, peer: pa, secret: "s" });
  try {
    const failed = (p: ChatProc) => p.of("error").find((e: Json) => e.code === "auth_failed");
    await a.until(() => failed(a) && failed(b), "auth_failed on both sides");
    assert.match(failed(a).message, /^The peer uses a passphrase and this side has none/);
    assert.match(failed(b).message, /^The peer has no passphrase/);
    assert.equal(a.of("ready")[0].encrypted, false);
    assert.match(a.stderr, /^chatnet: warning: no passphrase, so this chat is NOT encrypted/);
  } finally {
    for (const p of [a, b]) {
      p.kill();
      await p.exit();
    }
  }
});

Deno.test("hostile UDP and TCP input is dropped and counted while the session keeps working", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-hostile-" });
  const [pa, pb] = freePorts(2);
  const captured: Uint8Array[] = [];
  const r = relay({ portA: pa, portB: pb, tap: (d, to) => to === "B" && captured.push(d) });
  const secret = "s3cret";
  const a = run({ name: "alice", port: pa, peer: r.portForA, secret });
  const b = run({ name: "bob", port: pb, peer: r.portForB, secret, args: ["--downloads", root] });
  const conns: Deno.Conn[] = [];
  const rng = seededRng(SEED);
  try {
    await a.until(() => online(a) && online(b), "both online");
    await a.command({ type: "send", text: "before" });
    await b.until(() => b.of("message").length === 1, "the first message");
    const rssBefore = (await b.memory()).rss;
    // UDP from the address bob trusts: random bytes, truncated, oversized and replayed datagrams.
    const replays = captured.filter((d) => d[3] === 4); // sealed ones alice sent
    for (let i = 0; i < 2000; i++) {
      const len = 1 + Math.floor(rng() * 1400);
      await r.inject(Uint8Array.from({ length: len }, () => Math.floor(rng() * 256)));
      const real = replays[i % replays.length];
      await r.inject(real.subarray(0, 1 + Math.floor(rng() * (real.length - 1))));
      await r.inject(real);
      if (i % 20 === 0) await pause(); // let bob drain his socket: we test him, not the kernel
    }
    await r.inject(new Uint8Array(9000));
    // And from anywhere else.
    const fake = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    for (let i = 0; i < 1000; i++) {
      await fake.send(replays[i % replays.length], {
        transport: "udp",
        hostname: "127.0.0.1",
        port: pb,
      });
      if (i % 50 === 0) await pause();
    }
    fake.close();
    // TCP: garbage, a huge size, a plaintext header, a slow drip, and 200 connections at once.
    const port = pb;
    const garbage = await Deno.connect({ hostname: "127.0.0.1", port });
    await garbage.write(encoder.encode("GET /../../etc/passwd HTTP/1.1\r\n\r\n".padEnd(64, "x")));
    const huge = await Deno.connect({ hostname: "127.0.0.1", port });
    await huge.write(encodeHeader({ id: "0123456789abcdef", offset: 0, size: 2 ** 50 }));
    conns.push(garbage, huge);
    await statsUntil(b, (s) => s.tcpBadHeader === 2, "both bad headers refused and counted");
    const drip = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(drip);
    const dripTimer = setInterval(() => drip.write(new Uint8Array([0x43])).catch(() => {}), 100);
    const many = await Promise.all(
      Array.from({ length: 200 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    await statsUntil(b, (s) => s.tcpOverloaded >= 100, "connections over the limit refused");
    for (const c of many) c.close();
    // The session and a real file still work.
    const src = join(root, "..", `${root.split("/").pop()}-real.bin`);
    const data = crypto.getRandomValues(new Uint8Array(60_000));
    await Deno.writeFile(src, data);
    await a.command({ type: "send", text: "after" });
    await a.command({ type: "file", path: src });
    await b.until(
      () => b.of("message").length === 2 && b.of("file_received").length === 1,
      "the session survives",
    );
    clearInterval(dripTimer);
    assert.deepEqual(b.of("message").map((m: Json) => m.text), ["before", "after"]);
    assert.deepEqual(await Deno.readFile(b.of("file_received")[0].path), data);
    const s = await statsUntil(b, () => true, "stats");
    // A few may be lost in the socket buffer; nearly all must be counted.
    assert.ok(s.foreign >= 900, `foreign ${s.foreign}`);
    assert.ok(s.replayed >= 1800, `replayed ${s.replayed}`);
    const dropped = s.malformed + s.unauthenticated + s.corrupt + s.replayed;
    assert.ok(dropped >= 5400, `dropped ${dropped} of 6,001: ${JSON.stringify(s)}`);
    assert.ok(s.tcpOverloaded >= 100, `overloaded ${s.tcpOverloaded}`);
    const rssAfter = (await b.memory()).rss;
    assert.ok(rssAfter - rssBefore < 64 * 2 ** 20, `RSS grew ${rssAfter - rssBefore} bytes`);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(root))).map((e) => e.name),
      [b.of("file_received")[0].path.split("/").pop()],
    );
    await Deno.remove(src);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed by chatnet */ }
    }
    for (const p of [a, b]) {
      p.kill();
      await p.exit();
    }
    r.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--ask-secret reads the passphrase from the terminal without echoing it", async () => {
  const [pa, pb] = freePorts(2);
  const b = run({ name: "bob", port: pb, peer: pa, secret: "hunter2" });
  const state = await Deno.makeTempDir({ prefix: "chatnet-ask-" });
  // `script` gives chatnet a terminal; what it prints comes back on script's stdout.
  const line = [Deno.execPath(), "run", ...PERMISSIONS, MAIN, String(pa), "127.0.0.1", String(pb)]
    .concat(["--ask-secret", "--json", "--state-dir", state]).join(" ");
  const a = new Deno.Command("script", {
    args: ["-qec", line, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let seen = "";
  const reading = (async () => {
    for await (const chunk of a.stdout.pipeThrough(new TextDecoderStream())) seen += chunk;
  })();
  const writer = a.stdin.getWriter();
  try {
    await b.until(() => /Passphrase/.test(seen), "the prompt");
    await writer.write(encoder.encode("hunter2\r"));
    await b.until(() => online(b) && /"fingerprint"/.test(seen), "both online, encrypted");
    assert.ok(!seen.includes("hunter2"), `the passphrase was echoed: ${seen}`);
    assert.equal(
      /"fingerprint":"([\d ]+)"/.exec(seen)![1],
      b.of("peer").find((e: Json) => e.fingerprint).fingerprint,
    );
  } finally {
    a.kill("SIGKILL");
    await reading.catch(() => {});
    await writer.close().catch(() => {});
    await a.status;
    b.kill();
    await b.exit();
    await Deno.remove(state, { recursive: true });
  }
});
