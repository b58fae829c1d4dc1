/**
 * Random loss is not congestion (bench/congestion.ts runs it): the latency bench's three goals in
 * a shorter run, with bench/latency.ts's harness: p99 at 10% loss and p50 at 0% against TCP's on
 * both links (three rounds of 300 messages each, taking turns), goodput at 20% loss on both (the
 * goal on the delay link; the fast link's rounds reported, since TCP's swing between them).
 */
import type { DelayLink, Hosts } from "../tests/netns/netns.ts";
import { goodputRounds, measure, once, pct, type Result } from "./chat_latency.ts";

const MESSAGES = Number(Deno.env.get("BENCH_MESSAGES") ?? 300);
const GAP_MS = 20;
const GOODPUT = { rounds: 9, messages: 2000 };
const LATENCY_ROUNDS = 3;

export interface Check {
  goal: string;
  figure: string;
  ok: boolean;
}

const ms = (x: number) => x >= 100 ? x.toFixed(0) : x.toFixed(1);
const cell = (r: Result) =>
  `${ms(r.p50)} / ${ms(r.p90)} / ${ms(r.p99)} / ${ms(r.max)}${r.exact ? "" : " (NOT EXACT)"}`;

/** The rounds' latencies as one sample. */
function pool(rounds: Result[]): Result {
  const all = rounds.flatMap((r) => r.latencies).sort((x, y) => x - y);
  return {
    p50: pct(all, 0.5),
    p90: pct(all, 0.9),
    p99: pct(all, 0.99),
    max: all[all.length - 1],
    rate: NaN,
    cpuUs: NaN,
    exact: rounds.every((r) => r.exact),
    latencies: all,
  };
}

async function link(
  name: string,
  hosts: Hosts,
  setLoss: (loss: number) => Promise<void>,
): Promise<Check[]> {
  const checks: Check[] = [];
  // Rounds of each protocol in turn, their latencies pooled: the load of a shared machine drifts
  // over a run (a single round each put ChatNet's p50 at 0% loss anywhere from 1.0 to 1.4 ms
  // against TCP's 0.9), and taking turns gives both protocols the same share of it.
  const latency = async (loss: number) => {
    await setLoss(loss);
    const rounds: { cn: Result[]; tcp: Result[] } = { cn: [], tcp: [] };
    for (let i = 0; i < LATENCY_ROUNDS; i++) {
      rounds.cn.push(await once("chatnet", () => measure(hosts, "chatnet", MESSAGES, GAP_MS)));
      rounds.tcp.push(await once("tcp", () => measure(hosts, "tcp", MESSAGES, GAP_MS)));
    }
    const cn = pool(rounds.cn), tcp = pool(rounds.tcp);
    console.log(
      `  ${name}, ${loss}% loss, p50 / p90 / p99 / max ms: ChatNet ${cell(cn)}; TCP ${cell(tcp)}` +
        ` (p50 of each round, ChatNet ${rounds.cn.map((r) => ms(r.p50)).join(" ")}; TCP ` +
        `${rounds.tcp.map((r) => ms(r.p50)).join(" ")})`,
    );
    return { cn, tcp };
  };
  /** ChatNet's percentile at `loss` against TCP's, at most `most` times it, delivered exactly. */
  const against = async (loss: number, p: "p50" | "p99", most: number) => {
    const { cn, tcp } = await latency(loss);
    const ratio = cn[p] / tcp[p];
    checks.push({
      goal: `${name}: ${p} at ${loss}% loss <= ${most}x TCP's`,
      figure: `${ms(cn[p])} / ${ms(tcp[p])} ms = ${ratio.toFixed(2)}x`,
      ok: ratio <= most && cn.exact,
    });
  };
  await against(0, "p50", 1.5);
  await against(10, "p99", 0.5);
  await setLoss(20);
  const cn = await goodputRounds(hosts, "chatnet", GOODPUT);
  const tcp = await goodputRounds(hosts, "tcp", GOODPUT);
  const rounds = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(" ");
  console.log(
    `  ${name}, 20% loss, goodput (${GOODPUT.rounds} rounds of ${GOODPUT.messages} messages ` +
      `at once) msg/s: ChatNet ${cn.overall.toFixed(0)} (median ${cn.median.toFixed(0)}; ` +
      `rounds ${rounds(cn.rounds)}), TCP ${tcp.overall.toFixed(0)} (median ` +
      `${tcp.median.toFixed(0)}; rounds ${rounds(tcp.rounds)})`,
  );
  const ratio = cn.overall / tcp.overall;
  checks.push({
    goal: `${name}: goodput at 20% loss${name.startsWith("delay") ? " >= TCP's" : " (reported)"}`,
    figure: `${cn.overall.toFixed(0)} / ${tcp.overall.toFixed(0)} msg/s = ${ratio.toFixed(2)}x`,
    ok: !name.startsWith("delay") || ratio >= 1,
  });
  return checks;
}

export async function lossGoals(
  fast: Hosts,
  delay: Hosts & { link(l: DelayLink): Promise<void> },
): Promise<Check[]> {
  const checks: Check[] = [];
  try {
    checks.push(
      ...await link(`fast (veth + ${fast.method})`, fast, (loss) => fast.impair({ loss, dup: 0 })),
    );
  } finally {
    await fast.cleanup();
  }
  try {
    checks.push(
      ...await link(
        "delay (25±5 ms each way)",
        delay,
        (loss) => delay.link({ delay: 25, jitter: 5, loss, dup: 0, corrupt: 0 }),
      ),
    );
  } finally {
    await delay.cleanup();
  }
  return checks;
}
