/** End to end: real chatnet processes, real UDP sockets on loopback. */
import assert from "node:assert/strict";
import { ChatProc, jsonPeer, runOnce } from "./proc.ts";
import { relay } from "./relay.ts";
import { freePorts } from "../lib/demo.ts";
import { NO_IMPAIRMENT } from "../lib/net/impair.ts";

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 11);
const texts = (who: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${who} ${i} ✓ ${"x".repeat(i % 50)}`);

function pair(simA: string, simB: string, portsOverride?: [number, number, number, number]) {
  const [pa, pb] = freePorts(2);
  // Each side's peer is normally the other; a relay may stand in between.
  const [peerOfA, peerOfB] = portsOverride ? [portsOverride[2], portsOverride[3]] : [pb, pa];
  const side = (name: string, port: number, peer: number, sim: string) =>
    jsonPeer({ name, port, peer, args: sim ? ["--sim", sim] : [] });
  return {
    a: side("alice", portsOverride?.[0] ?? pa, peerOfA, simA),
    b: side("bob", portsOverride?.[1] ?? pb, peerOfB, simB),
  };
}

/** Both sides send at once, `gapMs` apart (0: as fast as they can write). */
async function exchange(a: ChatProc, b: ChatProc, n: number, ms: number, gapMs = 0): Promise<void> {
  const fromA = texts("alice", n), fromB = texts("bob", n);
  const feed = async (p: ChatProc, list: string[]) => {
    for (const text of list) {
      await p.command({ type: "send", text });
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    }
  };
  await Promise.all([feed(a, fromA), feed(b, fromB)]);
  const delivered = (p: ChatProc) => p.of("delivered").length === n && p.of("message").length === n;
  await a.until(() => delivered(a) && delivered(b), `${n} messages each way`, ms);
  assert.deepEqual(b.of("message").map((m) => m.text), fromA);
  assert.deepEqual(a.of("message").map((m) => m.text), fromB);
  assert.deepEqual(b.of("message").map((m) => m.id), fromA.map((_, i) => i + 1));
  assert.deepEqual(a.of("delivered").map((m) => m.id), fromA.map((_, i) => i + 1));
  assert.ok(b.of("message").every((m) => m.name === "alice" && /^127\.0\.0\.1:\d+$/.test(m.from)));
}

async function quitBoth(a: ChatProc, b: ChatProc): Promise<void> {
  await a.command({ type: "quit" });
  await b.command({ type: "quit" });
  assert.equal((await a.exit()).code, 0, a.stderr);
  assert.equal((await b.exit()).code, 0, b.stderr);
}

Deno.test("two processes exchange 200 messages each way at once through 20% loss, duplication, corruption and reordering", async () => {
  const sim = (s: number) =>
    `loss=20%,dup=5%,corrupt=5%,reorder=10%,delay=5ms,jitter=3ms,seed=${SEED + s}`;
  const { a, b } = pair(sim(0), sim(1));
  try {
    await exchange(a, b, 200, 60_000);
    await a.command({ type: "stats" });
    await a.until(() => a.of("stats").length === 1, "stats");
    const s = a.of("stats")[0];
    assert.ok(s.retransmits > 0 && s.corrupt > 0, JSON.stringify(s));
    assert.equal(a.of("ready")[0].encrypted, false);
    await quitBoth(a, b);
  } finally {
    a.kill();
    b.kill();
  }
});

Deno.test("300 messages each way survive a relay with 25% loss, 30±20 ms delay, 10% duplication and 5% corruption", async () => {
  const [pa, pb] = freePorts(2);
  const r = relay({
    spec: {
      ...NO_IMPAIRMENT,
      loss: 0.25,
      delay: 30,
      jitter: 20,
      dup: 0.1,
      corrupt: 0.05,
      seed: SEED,
    },
    portA: pa,
    portB: pb,
  });
  const { a, b } = pair("", "", [pa, pb, r.portForA, r.portForB]);
  try {
    const started = Date.now();
    await exchange(a, b, 300, 60_000, 2);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `  300 each way through the relay in ${seconds.toFixed(1)} s; relay: ${
        JSON.stringify(r.counts())
      }`,
    );
    assert.ok(
      r.counts().toB.dropped > 50 && r.counts().toB.corrupted > 0 && r.counts().toB.duplicated > 0,
    );
    await quitBoth(a, b);
  } finally {
    a.kill();
    b.kill();
    r.close();
  }
});

Deno.test("pipe mode prints each received line and exits 0 once everything is delivered", async () => {
  const [pa, pb] = freePorts(2);
  const args = (
    p: number,
    q: number,
  ) => ["-p", String(p), "--peer", `127.0.0.1:${q}`, "--sim", `loss=20%,seed=${SEED}`];
  const a = new ChatProc(args(pa, pb)), b = new ChatProc(args(pb, pa));
  try {
    const lines = texts("line", 50);
    await a.write(lines.join("\n") + "\n");
    await b.write("reply one\nreply two\n");
    await b.until(() => b.lines.length === 50 && a.lines.length === 2, "pipe lines");
    await a.closeStdin();
    await b.closeStdin();
    assert.equal((await a.exit()).code, 0, a.stderr);
    assert.equal((await b.exit()).code, 0, b.stderr);
    assert.deepEqual(b.lines, lines);
    assert.deepEqual(a.lines, ["reply one", "reply two"]);
  } finally {
    a.kill();
    b.kill();
  }
});

Deno.test("pipe mode gives up after --timeout and says how many messages were not delivered", async () => {
  const [pa, nobody] = freePorts(2);
  const a = new ChatProc(["-p", String(pa), "--peer", `127.0.0.1:${nobody}`, "--timeout", "1"]);
  try {
    await a.write("one\ntwo\nthree\n");
    await a.closeStdin();
    const status = await a.exit();
    assert.equal(status.code, 1);
    assert.match(a.stderr, new RegExp(`^chatnet: waiting for 127\\.0\\.0\\.1:${nobody}…$`, "m"));
    assert.match(
      a.stderr,
      /gave up after 1 s: 3 messages not delivered yet; they are kept and sent the next time/,
    );
    assert.deepEqual(a.lines, []);
  } finally {
    a.kill();
  }
});

Deno.test("--no-keep drops what was not delivered, so the next run sends nothing twice", async () => {
  const [pa, pb] = freePorts(2);
  const state = Deno.makeTempDirSync();
  const args = [
    "-p",
    String(pa),
    "--peer",
    `127.0.0.1:${pb}`,
    "--timeout",
    "1",
    "--state-dir",
    state,
  ];
  const a = new ChatProc([...args, "--no-keep"]);
  try {
    await a.write("one\ntwo\n");
    await a.closeStdin();
    assert.equal((await a.exit()).code, 1);
    assert.match(a.stderr, /gave up after 1 s: 2 messages not delivered and dropped \(--no-keep\)/);
  } finally {
    a.kill();
  }
  // A later run with the same state directory has nothing left to send.
  const again = new ChatProc([...args]);
  try {
    await again.closeStdin();
    assert.equal((await again.exit()).code, 0);
  } finally {
    again.kill();
    Deno.removeSync(state, { recursive: true });
  }
});

Deno.test("a line over the size limit makes pipe mode exit 1", async () => {
  // Nothing else is pending, so without the refusal the run would end with 0 at once.
  const [pa, nobody] = freePorts(2);
  const a = new ChatProc(["-p", String(pa), "--peer", `127.0.0.1:${nobody}`, "--timeout", "1"]);
  try {
    await a.write("x".repeat(1024 * 1024 + 1) + "\n");
    await a.closeStdin();
    assert.equal((await a.exit()).code, 1);
    assert.match(
      a.stderr,
      /Cannot send message: [\d,]+ (bytes|characters) is over the limit of [\d,]+ bytes/,
    );
    assert.doesNotMatch(a.stderr, /gave up/);
  } finally {
    a.kill();
  }
});

Deno.test("datagrams from other addresses and garbage are counted, never shown", async () => {
  const { a, b } = pair("", "");
  const stranger = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await a.until(() => a.of("ready").length === 1, "ready");
    const port = a.of("ready")[0].port;
    for (let i = 0; i < 20; i++) {
      await stranger.send(new TextEncoder().encode(`junk ${i}`), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
    }
    await b.command({ type: "send", text: "real" });
    await a.until(() => a.of("message").length === 1, "the real message");
    await a.command({ type: "stats" });
    await a.until(() => a.of("stats").length === 1, "stats");
    assert.equal(a.of("stats")[0].foreign, 20);
    assert.deepEqual(a.of("message").map((m) => m.text), ["real"]);
    await quitBoth(a, b);
  } finally {
    stranger.close();
    a.kill();
    b.kill();
  }
});

Deno.test("a malformed JSON line gets an error event and the session carries on", async () => {
  const { a, b } = pair("", "");
  try {
    await a.write(
      'not json\n{"type":"send"}\n[1]\n{"type":"launch"}\n{"type":"send","text":"still here"}\n',
    );
    await b.until(() => b.of("message").length === 1, "the good message");
    const errors = a.of("error");
    assert.deepEqual(errors.map((e) => e.code), [
      "bad_input",
      "bad_input",
      "bad_input",
      "bad_input",
    ]);
    assert.equal(errors[0].message, "Cannot parse input line: not JSON");
    assert.equal(b.of("message")[0].text, "still here");
    await a.command({ type: "quit" });
    await b.command({ type: "quit" });
    // The session carried on, but lines were refused: exit 1 (the README's exit codes).
    assert.equal((await a.exit()).code, 1, a.stderr);
    assert.equal((await b.exit()).code, 0, b.stderr);
  } finally {
    a.kill();
    b.kill();
  }
});

Deno.test("bad arguments get one clear line on stderr and exit code 2", async () => {
  const [busy] = freePorts(1);
  const holder = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: busy });
  try {
    const cases: [string[], RegExp][] = [
      [["--bogus"], /^chatnet: Unknown option --bogus \(see chatnet --help\)\n$/],
      [
        ["-p", "99999", "--peer", "127.0.0.1:1"],
        /^chatnet: Cannot parse local port: 99999 is outside 1-65535\n$/,
      ],
      [
        ["-p", "9000", "--peer", "::1:9000"],
        /^chatnet: Cannot parse peer address: put an IPv6 address in brackets, as \[::1\]:9000\n$/,
      ],
      [
        ["-p", "9000", "--peer", "localhost"],
        /^chatnet: Cannot parse peer address: missing port\n$/,
      ],
      [
        ["-p", "9000", "--peer", "[::1:9000"],
        /^chatnet: Cannot parse peer address: missing \] after the IPv6 address, as in \[::1\]:9000\n$/,
      ],
      [
        ["9102", "127.0.0.1", "9102"],
        /^chatnet: Cannot chat with yourself: the peer 127\.0\.0\.1 port 9102 is this chatnet's own address; give the other host's address and port\n$/,
      ],
      [
        ["9000", "no-such-host.invalid", "9001"],
        /^chatnet: Cannot resolve peer host "no-such-host.invalid": no such host\n$/,
      ],
      [
        [String(busy), "127.0.0.1", "9001"],
        new RegExp(`^chatnet: Cannot listen on UDP 0\\.0\\.0\\.0:${busy}: port already in use\\n$`),
      ],
      [
        ["--sim", "loss=abc", "9000", "127.0.0.1", "9001"],
        /^chatnet: Cannot parse --sim: loss must be 0-100%, got "abc"\n$/,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await runOnce(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.equal(r.stdout, "");
    }
  } finally {
    holder.close();
  }
});

Deno.test("--help lists every option and --version prints the version", async () => {
  const help = await runOnce(["--help"]);
  assert.equal(help.code, 0);
  for (
    const o of ["--port", "--peer", "--bind", "--name", "--json", "--sim", "--timeout", "--version"]
  ) {
    assert.ok(help.stdout.includes(o), o);
  }
  const version = await runOnce(["--version"]);
  assert.match(version.stdout, /^chatnet \d+\.\d+\.\d+/);
});

Deno.test("the demo shows a conversation surviving 30% loss and exits 0", async () => {
  const r = await runOnce(["demo"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /all delivered exactly once and in order/);
  assert.match(r.stdout, /alice's stats:/);
});
