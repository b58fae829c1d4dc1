/**
 * `chatnet demo`: two peers in this process, talking over loopback through the `--sim`
 * impairment in both directions. It shows the conversation, checks it, and prints the stats.
 */
import { Peer } from "./peer.ts";
import { describeSim, type ImpairSpec } from "./net/impair.ts";
import type { FileDoneEvent, MessageEvent } from "./events.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { formatStats } from "./ui/format.ts";
import type { Out } from "./ui/output.ts";

const SCRIPT: [who: 0 | 1, text: string][] = [
  [0, "Hi Bob! This link loses, delays, duplicates, corrupts and reorders datagrams."],
  [1, "Hi Alice. Every line still arrives exactly once, in order."],
  [0, "Watch: I'll send a burst of 50 numbered lines while you send yours."],
  [1, "Go ahead."],
];
const BURST = 50;
const FILE_BYTES = 4 * 1024 * 1024;

export async function runDemo(sim: ImpairSpec, out: Out): Promise<number> {
  const ports = freePorts(2);
  const dir = await Deno.makeTempDir({ prefix: "chatnet-demo-" });
  const peers = [0, 1].map((i) =>
    new Peer({
      bind: "127.0.0.1",
      port: ports[i],
      peerIp: "127.0.0.1",
      peerPort: ports[1 - i],
      name: i === 0 ? "alice" : "bob",
      sim: { ...sim, seed: sim.seed + i },
      filePort: 0,
      downloads: join(dir, i === 0 ? "alice" : "bob"),
      maxFileSize: FILE_BYTES,
    })
  );
  const received: FileDoneEvent[] = [];
  peers[1].on((e) => {
    if (e.type === "file_received") received.push(e);
  });
  const got: MessageEvent[][] = [[], []];
  const started = performance.now();
  out.write(`Two peers on 127.0.0.1:${ports[0]} and :${ports[1]}, each sending through\n`);
  out.write(`  --sim "${describeSim(sim)}"\n\n`);
  peers.forEach((p, i) =>
    p.on((e) => {
      if (e.type !== "message") return;
      got[i].push(e);
      if (e.text.startsWith("burst ")) return;
      const text = e.text.length > 200
        ? `(a ${e.text.length.toLocaleString("en")}-character message)`
        : e.text;
      out.write(`  ${e.name} #${e.id}: ${text}\n`);
    })
  );
  peers.forEach((p) => p.start());
  const expected: string[][] = [[], []];
  const say = (who: 0 | 1, text: string) => {
    peers[who].send(text);
    expected[1 - who].push(text);
  };
  for (const [who, text] of SCRIPT) {
    say(who, text);
    await until(() => got[1 - who].length === expected[1 - who].length, 30_000);
  }
  for (let i = 1; i <= BURST; i++) for (const who of [0, 1] as const) say(who, `burst ${i}`);
  const long = "x".repeat(64 * 1024);
  say(0, long);
  // A file goes over TCP meanwhile (TCP does its own recovery; --sim affects the UDP chat).
  const file = new Uint8Array(FILE_BYTES);
  for (let o = 0; o < FILE_BYTES; o += 65536) crypto.getRandomValues(file.subarray(o, o + 65536));
  const source = join(dir, "holiday-photos.bin");
  await Deno.writeFile(source, file);
  await peers[0].sendFiles([source]);
  const done = await until(
    () =>
      got[0].length === expected[0].length && got[1].length === expected[1].length &&
      received.length === 1,
    60_000,
  );
  const sha = createHash("sha256").update(file).digest("hex");
  const fileOk = received[0]?.sha256 === sha &&
    createHash("sha256").update(await Deno.readFile(received[0].path)).digest("hex") === sha;
  out.write(
    `\nA 4 MiB file over TCP at the same time: ` +
      (fileOk ? `received and verified (SHA-256 ${sha.slice(0, 16)}…)\n` : "NOT received intact\n"),
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const ok = done && fileOk &&
    [0, 1].every((i) =>
      got[i].length === expected[i].length && got[i].every((m, k) => m.text === expected[i][k])
    );
  out.write(
    `\n${BURST} burst lines each way and one 64 KiB message: ` +
      (ok ? `all delivered exactly once and in order (${seconds} s)\n` : "NOT all delivered\n"),
  );
  for (const [i, p] of peers.entries()) {
    out.write(`\n${["alice", "bob"][i]}'s stats:\n`);
    for (const line of formatStats(p.stats())) out.write(`  ${line}\n`);
  }
  peers.forEach((p) => p.close());
  await Deno.remove(dir, { recursive: true });
  return ok ? 0 : 1;
}

function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  return new Promise((resolve) => {
    const check = () => {
      if (cond()) resolve(true);
      else if (performance.now() > end) resolve(false);
      else setTimeout(check, 5);
    };
    check();
  });
}

/** Ports the OS says are free right now for UDP and TCP alike (bound, then released). */
export function freePorts(n: number): number[] {
  const held: { close(): void }[] = [];
  const ports: number[] = [];
  // A peer binds UDP and TCP on the same number on all interfaces: both must be free.
  for (let tries = 0; ports.length < n && tries < 100; tries++) {
    const udp = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
    held.push(udp);
    const port = (udp.addr as Deno.NetAddr).port;
    try {
      held.push(Deno.listen({ hostname: "0.0.0.0", port }));
      ports.push(port);
    } catch { /* the TCP side is taken: try another */ }
  }
  held.forEach((c) => c.close());
  return ports;
}
