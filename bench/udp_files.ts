/**
 * Files over the UDP session against the TCP path (issue 21): one file from host A to host B in
 * two network namespaces joined by a veth pair, with `--files udp` and with `--files tcp`, each
 * measured in the same run, on a clean link and with 5% random loss each way (nftables). One chat
 * line each way every 20 ms while the file moves; its p99 is reported for each. Prints MB/s and
 * the ratio UDP/TCP. Needs root.
 *
 * Goals (issue 21): on the clean link at least 0.5x the TCP path; at 5% loss at least TCP's rate.
 *
 *   deno run -A bench/udp_files.ts [SIZE_MIB=256] [ROUNDS=1] [SECRET]
 */
import { join } from "node:path";
import { ChatProc, type Json, tempStateHome } from "../tests/proc.ts";
import { makeHosts, unavailable } from "../tests/netns/netns.ts";
import { makeFile } from "../tests/file_fixtures.ts";

const sizeMiB = Number(Deno.args[0] ?? 256);
const rounds = Number(Deno.args[1] ?? 1);
const secret = Deno.args[2];
const size = sizeMiB * 2 ** 20;
const GAP_MS = 20;

const why = await unavailable();
if (why) {
  console.log(`bench/udp_files.ts needs network namespaces, and ${why}`);
  Deno.exit(1);
}

/** The machine's load average, said with every run: other jobs share its cores. */
const loadavg = async () =>
  (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const loadBefore = await loadavg();
const root = await Deno.makeTempDir({ prefix: "chatnet-bench-udp-" });
const source = join(root, "payload.bin");
const hosts = await makeHosts();

interface Run {
  ms: number;
  /** CPU ms per MiB of the sender's and the receiver's process during the transfer. */
  cpu: [number, number];
  chat: number[];
  stats: Json;
  ok: boolean;
}

async function transfer(mode: "tcp" | "udp"): Promise<Run> {
  const dirs = [join(root, "a"), join(root, "b")];
  for (const d of dirs) {
    await Deno.remove(d, { recursive: true }).catch(() => {});
    await Deno.mkdir(d);
  }
  const start = (ns: string, name: string, peer: string, dir: string) =>
    new ChatProc(
      [
        ...["--json", "--name", name, "-p", "7000", "--peer", `${peer}:7000`],
        ...["--downloads", dir, "--files", mode],
      ],
      {
        prefix: hosts.exec(ns),
        stateHome: tempStateHome(),
        env: secret ? { CHATNET_SECRET: secret } : {},
      },
    );
  const a = start(hosts.nsA, "alice", hosts.ipB, dirs[0]);
  const b = start(hosts.nsB, "bob", hosts.ipA, dirs[1]);
  try {
    await a.until(() => a.of("peer").length > 0 && b.of("peer").length > 0, "online", 60_000);
    const sentAt = new Map<string, number>();
    const cpuBefore = [await a.cpuMs(), await b.cpuMs()];
    const started = performance.now();
    await a.command({ type: "file", path: source });
    let i = 0;
    while (b.of("file_received").length === 0 && performance.now() - started < 900_000) {
      for (const [p, who] of [[a, "a"], [b, "b"]] as const) {
        const text = `${who}${i}`;
        sentAt.set(text, performance.now());
        await p.command({ type: "send", text });
      }
      i++;
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    await b.until(() => b.of("file_received").length === 1, "the file", 900_000);
    const ms = b.timeOf("file_received") - started;
    const cpu: [number, number] = [
      (await a.cpuMs() - cpuBefore[0]) / sizeMiB,
      (await b.cpuMs() - cpuBefore[1]) / sizeMiB,
    ];
    await a.until(
      () => a.of("message").length === i && b.of("message").length === i,
      "the chat lines",
    );
    await a.until(() => a.of("file_sent").length === 1, "the confirmation");
    // Lines sent while the file moved (the last round may have gone after it arrived).
    const chat = [a, b].flatMap((p) =>
      p.of("message").map((m: Json) =>
        p.timeOf("message", (e) => e.text === m.text) - sentAt.get(m.text)!
      )
    );
    await a.command({ type: "stats" });
    await a.until(() => a.of("stats").length === 1, "stats");
    const got = b.of("file_received")[0], sent = a.of("file_sent")[0];
    const via = b.of("file_start")[0].via;
    return {
      ms,
      cpu,
      chat,
      stats: a.of("stats")[0],
      ok: got.sha256 === sent.sha256 && got.size === size && via === mode,
    };
  } finally {
    for (const p of [a, b]) {
      p.kill();
      await p.exit();
    }
  }
}

const BLAST = new URL("./udp_blast.ts", import.meta.url).pathname;
const BLAST_COUNT = 100_000;

/** The raw ceiling (bench/udp_blast.ts): 1,200-byte datagrams from a bare Deno socket in A to one
 * in B, as fast as they go; what B receives, per second. */
async function blast(): Promise<{ mbps: number; perSec: number; lost: number; cpuUs: number }> {
  const end = (ns: string, args: string[]) => {
    const argv = [...hosts.exec(ns), Deno.execPath(), "run", "-A", BLAST, ...args];
    return new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped" }).spawn();
  };
  const receiver = end(hosts.nsB, ["recv", hosts.ipB, "7100", String(BLAST_COUNT)]);
  const lines = receiver.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const r = await lines.read();
    if (r.done) throw new Error("udp_blast.ts: no receiver");
    text += r.value;
  }
  await end(hosts.nsA, ["send", hosts.ipB, "7100", String(BLAST_COUNT)]).output();
  for (let r; !(r = await lines.read()).done;) text += r.value;
  await receiver.status;
  const m = /got (\d+) ms ([\d.]+) cpu ([\d.]+)/.exec(text);
  if (!m) throw new Error(`udp_blast.ts: ${text}`);
  const [got, ms, cpu] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return {
    mbps: got * 1200 / 1e6 / (ms / 1000),
    perSec: got / (ms / 1000),
    lost: 1 - got / BLAST_COUNT,
    cpuUs: cpu * 1000 / got,
  };
}

const mbps = (ms: number) => size / 1e6 / (ms / 1000);
const pct = (xs: number[], p: number) =>
  [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.ceil(xs.length * p) - 1)];
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

type Row = { loss: number; tcp: Run[]; udp: Run[]; raw: Awaited<ReturnType<typeof blast>>[] };
const rows: Row[] = [];
try {
  await makeFile(source, size, 21);
  for (const loss of [0, 5]) {
    await hosts.impair({ loss, dup: 0 });
    const row: Row = { loss, tcp: [], udp: [], raw: [] };
    for (let r = 0; r < rounds; r++) {
      // Interleaved, so a drift of the machine's speed hits both alike.
      row.tcp.push(await transfer("tcp"));
      row.udp.push(await transfer("udp"));
      row.raw.push(await blast());
    }
    rows.push(row);
  }
} finally {
  await hosts.cleanup();
  await Deno.remove(root, { recursive: true });
}

console.log(
  `File of ${sizeMiB} MiB from one namespace to another over a veth pair (${hosts.method}), ` +
    `${secret ? "sealed" : "plain"}, one chat line each way every ${GAP_MS} ms meanwhile ` +
    `(median of ${rounds} run${rounds > 1 ? "s" : ""} each); load average ${loadBefore} before, ` +
    `${await loadavg()} after`,
);
for (const row of rows) {
  const tcp = median(row.tcp.map((r) => r.ms)), udp = median(row.udp.map((r) => r.ms));
  const ratio = median(row.tcp.map((r, i) => r.ms / row.udp[i].ms));
  const chat = (runs: Run[]) => {
    const xs = runs.flatMap((r) => r.chat);
    return `chat p50 ${pct(xs, 0.5).toFixed(1)} / p99 ${pct(xs, 0.99).toFixed(1)} ms`;
  };
  const goal = row.loss === 0 ? 0.5 : 1;
  const s = row.udp.at(-1)!.stats;
  const cpu = (runs: Run[]) =>
    [0, 1].map((i) => median(runs.map((r) => r.cpu[i])).toFixed(2)).join(" + ") +
    " CPU ms/MiB (sender + receiver)";
  console.log(`  ${row.loss}% loss each way`);
  console.log(`    TCP path    ${mbps(tcp).toFixed(1)} MB/s, ${chat(row.tcp)}, ${cpu(row.tcp)}`);
  console.log(
    `    UDP session ${mbps(udp).toFixed(1)} MB/s, ${chat(row.udp)}, ${cpu(row.udp)}`,
  );
  console.log(
    `      sender's session: ${s.retransmits} retransmits (${s.spuriousRetransmits} spurious), ` +
      `${s.timeouts} timeouts, ${s.congestionEvents} congestion events, cwnd ${s.cwnd} B, ` +
      `srtt ${s.srtt.toFixed(1)} ms`,
  );
  if (Deno.env.get("DUMP")) console.log(JSON.stringify(s));
  const raw = row.raw.at(-1)!;
  console.log(
    `    raw Deno UDP ${raw.mbps.toFixed(1)} MB/s (${raw.perSec.toFixed(0)} datagrams/s of 1,200 ` +
      `bytes received, ${(raw.lost * 100).toFixed(0)}% lost unpaced, receiver ` +
      `${raw.cpuUs.toFixed(1)} us CPU each): the ceiling of one datagram per call`,
  );
  console.log(
    `    UDP/TCP ${ratio.toFixed(2)} (goal at least ${goal}: ${ratio >= goal ? "met" : "MISSED"})` +
      `; verified ${[...row.tcp, ...row.udp].every((r) => r.ok)}`,
  );
}
