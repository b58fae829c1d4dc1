/**
 * Is ChatNet a good network citizen that keeps its tail-latency lead (issue 20)? Four goals, each
 * against a baseline measured in the same run, on real kernel paths between network namespaces:
 *   1. bottleneck: 2,000 lines of 500 B through `tbf rate 1mbit burst 4kb limit 16kb` on the
 *      sender's egress, against a TCP chat (TCP_NODELAY): time and bytes at most 1.3x TCP's,
 *      ChatNet's queue drops at most 5% of its packets (tc -s qdisc);
 *   2. fairness: ChatNet bulk and an iperf3 TCP flow share that bottleneck for 30 s, each gets a
 *      third to two thirds; against CUBIC and against the machine's default (BBR here) if it
 *      differs; chat p99 meanwhile, a line every 100 ms on a second ChatNet pair;
 *   3. dark path: at most 2 datagrams a second from 10 s after the path goes dark; the backlog
 *      delivered within 1 s of its return;
 *   4. random loss is not congestion: the latency bench's goals, shorter (bench/latency.ts has
 *      all of it): p99 at 10% loss at most 0.5x TCP's and p50 at 0% within 1.5x, on the fast link
 *      and the 25±5 ms delay link; goodput at 20% loss at least TCP's on the delay link.
 * Needs root, tc, nft and iperf3; skips with the reason otherwise.
 *
 *   sudo deno task bench:congestion
 */
import { makeDelayHosts, makeHosts, unavailable } from "../tests/netns/netns.ts";
import { type Burst, burst, BURST_LINES, LINE_BYTES, share, SHARE_SECONDS } from "./bottleneck.ts";
import { darkPath, SETTLED_AFTER } from "./dark_path.ts";
import { type Check, lossGoals } from "./loss_goals.ts";

/** Parts to run ("1,2,3,4" by default): a recorded run is all of them together. */
const PARTS = new Set((Deno.env.get("BENCH_PARTS") ?? "1,2,3,4").split(",").map(Number));
const BOTTLENECK = ["tbf", "rate", "1mbit", "burst", "4kb", "limit", "16kb"];
const RATE_BYTES = 1_000_000 / 8;

/** The machine's load average (1, 5, 15 min): the bench shares its cores. */
function load(): string {
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}

async function missing(): Promise<string | undefined> {
  const why = await unavailable();
  if (why) return why;
  for (const tool of ["tc", "iperf3"]) {
    const found = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`] }).output();
    if (!found.success) return `${tool} is not installed (apt-get install iproute2 iperf3)`;
  }
  return undefined;
}

const reason = await missing();
if (reason) {
  console.log(`bench/congestion.ts skipped: ${reason}`);
  Deno.exit(0);
}

const goals: Check[] = [];
const check = (goal: string, figure: string, ok: boolean) => {
  goals.push({ goal, figure, ok });
  console.log(`  ${ok ? "pass" : "FAIL"}  ${goal}: ${figure}`);
};
const f2 = (x: number) => x.toFixed(2);
console.log(`bench:congestion, ${new Date().toISOString()}, load average ${load()}`);

const hosts = await makeHosts();
try {
  await hosts.bottleneck(BOTTLENECK);
  if (PARTS.has(1)) await bottleneck();
  if (PARTS.has(2)) await fairness();
  await hosts.bottleneck();
  if (PARTS.has(3)) await dark();
} finally {
  await hosts.cleanup();
}

async function bottleneck() {
  console.log(
    `\n1. Bottleneck: ${BOTTLENECK.join(" ")} on A's egress; ${BURST_LINES} x ` +
      `${LINE_BYTES} B at once (load ${load()})`,
  );
  const show = (name: string, b: Burst) => {
    const offered = b.queue.packets + b.queue.dropped;
    console.log(
      `  ${name.padEnd(7)} ${(b.ms / 1000).toFixed(2)} s, ${b.queue.bytes} B through the queue ` +
        `in ${b.queue.packets} packets, ${b.queue.dropped} dropped (${
          (100 * b.queue.dropped / offered).toFixed(1)
        }% of ${offered}), ${b.reverseBytes} B back${b.exact ? "" : " (NOT EXACT)"}`,
    );
  };
  const tcp = await burst(hosts, "tcp");
  show("TCP", tcp);
  console.log(`  (TCP with NODELAY, congestion control ${await defaultCc(hosts.nsA)})`);
  const cn = await burst(hosts, "chatnet");
  show("ChatNet", cn);
  const s = cn.stats;
  console.log(
    `  ChatNet's sender: cwnd ${s.cwnd} B, ssthresh ${s.ssthresh}, srtt ${s.srtt.toFixed(1)} ms, ` +
      `min RTT ${s.minRtt} ms, congestion events ` +
      `${s.congestionEvents}, random losses ${s.randomLosses}, retransmits ${s.retransmits} ` +
      `(spurious ${s.spuriousRetransmits}, ${(100 * s.spuriousRate).toFixed(0)}%), timeouts ` +
      `${s.timeouts}, probes ${s.tailProbes}, ` +
      `redundant ${s.redundant}, bundled ${s.bundled}, datagrams ${s.datagramsOut}`,
  );
  const drops = cn.queue.dropped / (cn.queue.packets + cn.queue.dropped);
  const wire = cn.queue.bytes / tcp.queue.bytes;
  const both = (cn.queue.bytes + cn.reverseBytes) / (tcp.queue.bytes + tcp.reverseBytes);
  check("bottleneck time <= 1.3x TCP's", `${f2(cn.ms / tcp.ms)}x`, cn.ms <= 1.3 * tcp.ms);
  check(
    "bottleneck bytes <= 1.3x TCP's",
    `${f2(wire)}x through the queue, ${f2(both)}x both ways`,
    wire <= 1.3 && both <= 1.3,
  );
  check("ChatNet's queue drops <= 5%", `${(100 * drops).toFixed(1)}%`, drops <= 0.05);
  check("bursts delivered exactly, in order", `${cn.exact && tcp.exact}`, cn.exact && tcp.exact);
}

/** The TCP congestion control a namespace's sockets get by default. */
async function defaultCc(ns: string): Promise<string> {
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", ns, "cat", "/proc/sys/net/ipv4/tcp_congestion_control"],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Against CUBIC (RFC 9438, Linux's default) and against this machine's default if it differs. */
async function fairness() {
  const ccs = [...new Set(["cubic", await defaultCc(hosts.nsA)])];
  for (const cc of (Deno.env.get("BENCH_TCP_CC")?.split(",") ?? ccs)) await compete(cc);
}

async function compete(cc: string) {
  console.log(
    `\n2. Fairness: ChatNet bulk and iperf3 (TCP ${cc}) share it for ${SHARE_SECONDS} s; ` +
      `a chat line every 100 ms on a second pair (load ${load()})`,
  );
  const sh = await share(hosts, { rateBytesPerSec: RATE_BYTES, cc });
  const kb = (x: number) => (x / 1000).toFixed(0);
  console.log(
    `  KB/s each second, ChatNet/TCP: ${
      sh.perSecond.map((p) => `${kb(p.chatnet)}/${kb(p.tcp)}`).join(" ")
    }`,
  );
  const t = sh.stats;
  const iperf = sh.iperf
    ? `${(sh.iperf.end.sum_received.bits_per_second / 1000).toFixed(0)} kbit/s received, ` +
      `${sh.iperf.end.sum_sent.retransmits} retransmits`
    : "no report";
  console.log(
    `  Bottleneck used ${(100 * sh.utilisation).toFixed(0)}% by the two flows; iperf3: ` +
      `${iperf}; ChatNet's sender: cwnd ${t.cwnd}, srtt ${t.srtt.toFixed(1)} ms, min RTT ` +
      `${t.minRtt} ms, congestion events ${t.congestionEvents}, random losses ` +
      `${t.randomLosses}, retransmits ${t.retransmits} (spurious ${t.spuriousRetransmits}), ` +
      `timeouts ${t.timeouts}`,
  );
  if (Deno.env.get("BENCH_TRACE")) {
    for (const x of sh.trace) {
      console.log(
        `    cwnd ${x.cwnd} ssthresh ${x.ssthresh} srtt ${x.srtt.toFixed(1)} min ${x.minRtt} ` +
          `events ${x.congestionEvents} random ${x.randomLosses} retransmits ${x.retransmits} ` +
          `timeouts ${x.timeouts} probes ${x.tailProbes} spurious ${x.spuriousRetransmits}`,
      );
    }
  }
  const fair = (x: number) => x >= 1 / 3 && x <= 2 / 3;
  check(
    `fairness against TCP ${cc}, each flow between 1/3 and 2/3`,
    `ChatNet ${f2(sh.chatnetShare)}, TCP ${f2(sh.tcpShare)}`,
    fair(sh.chatnetShare) && fair(sh.tcpShare),
  );
  console.log(
    `  chat p50 ${sh.chatP50.toFixed(0)} ms, p99 ${sh.chatP99.toFixed(0)} ms over ` +
      `${sh.chatLines} lines during the competition (reported, no goal)`,
  );
}

async function dark() {
  console.log(
    `\n3. Dark path: both ways dropped at A with a message unacknowledged (load ${load()})`,
  );
  const d = await darkPath(hosts);
  console.log(`  datagrams from A each second after dark: ${d.perSecond.join(" ")}`);
  console.log(
    `  A before the return: rto ${
      d.stats.rto.toFixed(0)
    } ms, backoff ${d.stats.backoff}, timeouts ` +
      `${d.stats.timeouts}, probes ${d.stats.tailProbes}`,
  );
  check(
    `dark path, datagrams/s from ${SETTLED_AFTER} s after dark <= 2`,
    `${f2(d.settledRate)}/s`,
    d.settledRate <= 2,
  );
  check(
    "backlog delivered <= 1 s after the path returns",
    `${d.recoveryMs.toFixed(0)} ms${d.exact ? "" : " (NOT EXACT)"}`,
    d.recoveryMs <= 1000 && d.exact,
  );
}

if (PARTS.has(4)) {
  console.log(`\n4. Random loss is not congestion (load ${load()})`);
  const fast = await makeHosts();
  const delay = await makeDelayHosts(7);
  for (const r of await lossGoals(fast, delay)) check(r.goal, r.figure, r.ok);
}

console.log(`\nbench:congestion done, load average ${load()}`);
console.log("\n| goal | figure | |\n| --- | --- | --- |");
for (const g of goals) console.log(`| ${g.goal} | ${g.figure} | ${g.ok ? "pass" : "FAIL"} |`);
if (goals.some((g) => !g.ok)) Deno.exit(1);
