/**
 * The harness of the latency benches (bench/latency.ts, bench/congestion.ts): one-way latency and
 * goodput of ChatNet, a plain TCP chat (TCP_NODELAY) and the old app's stop-and-wait between two
 * hosts. A message's latency is from writing it to the sender's stdin to reading it from the
 * receiver's stdout, the same harness for every protocol.
 */
import { ChatProc, type Json } from "../tests/proc.ts";
import type { Hosts } from "../tests/netns/netns.ts";

export type Proto = "chatnet" | "tcp" | "stopwait";
export const PROTOS: Proto[] = ["chatnet", "tcp", "stopwait"];

export interface Result {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Messages per second from first write to last arrival. */
  rate: number;
  /** CPU time of both processes per delivered message, µs. */
  cpuUs: number;
  exact: boolean;
  /** Every message's latency, ascending. */
  latencies: number[];
}

export function start(h: Hosts, proto: Proto): [ChatProc, ChatProc] {
  const bench = (name: string) => new URL(`./${name}`, import.meta.url).pathname;
  const at = (ns: string, args: string[], script?: string) =>
    new ChatProc(args, { prefix: h.exec(ns), script });
  if (proto === "chatnet") {
    const args = (
      peer: string,
    ) => ["--json", "-p", "7000", "--peer", `${peer}:7000`, "--downloads", "/tmp"];
    return [at(h.nsA, args(h.ipB)), at(h.nsB, args(h.ipA))];
  }
  if (proto === "tcp") {
    const receiver = at(h.nsB, ["listen", "7100"], bench("tcp_chat.ts"));
    return [at(h.nsA, ["connect", h.ipB, "7100"], bench("tcp_chat.ts")), receiver];
  }
  return [
    at(h.nsA, ["7200", h.ipB, "7200"], bench("stop_and_wait.ts")),
    at(h.nsB, ["7200", h.ipA, "7200"], bench("stop_and_wait.ts")),
  ];
}

/** Time the process has run on a CPU, in ns, from /proc/PID/schedstat (ticks are too coarse).
 * Read through cat: Deno asks for --allow-all to read another process's /proc files. */
async function cpuNs(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", {
    args: [`/proc/${pid}/schedstat`],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  return Number(new TextDecoder().decode(out.stdout).split(" ")[0]);
}

export const pct = (xs: number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.floor(xs.length * p))];

export async function measure(h: Hosts, proto: Proto, count: number, gap: number): Promise<Result> {
  const [s, r] = start(h, proto);
  try {
    const ready = proto === "chatnet"
      ? () => s.of("peer").some((e: Json) => e.state === "online")
      : () => s.of("ready").length > 0 && r.of("ready").length > 0;
    // TCP's connect backs off 1, 3, 7, 15 s... when a SYN is lost, so give it time.
    await s.until(ready, `${proto} ready`, 180_000);
    const cpu0 = await cpuNs(s.child.pid) + await cpuNs(r.child.pid);
    const sentAt: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      sentAt[i] = performance.now();
      if (proto === "chatnet") await s.command({ type: "send", text: `m${i}` });
      else await s.write(`m${i}\n`);
      if (gap) await new Promise((res) => setTimeout(res, gap));
    }
    await r.until(() => r.of("message").length >= count, `${proto}: ${count} messages`, 300_000);
    const cpu = await cpuNs(s.child.pid) + await cpuNs(r.child.pid) - cpu0;
    const arrivals = r.lines.flatMap((line, i) => {
      const e = JSON.parse(line);
      return e.type === "message" ? [{ text: e.text as string, at: r.arrivedAt[i] }] : [];
    });
    const latency = arrivals.map((a) => a.at - sentAt[Number(a.text.slice(1))]).sort((x, y) =>
      x - y
    );
    return {
      p50: pct(latency, 0.5),
      p90: pct(latency, 0.9),
      p99: pct(latency, 0.99),
      max: latency[latency.length - 1],
      rate: count / ((arrivals[arrivals.length - 1].at - t0) / 1000),
      cpuUs: cpu / 1000 / count,
      exact: arrivals.length === count && arrivals.every((a, i) => a.text === `m${i}`),
      latencies: latency,
    };
  } finally {
    s.kill();
    r.kill();
    await s.exit();
    await r.exit();
  }
}

export interface Goodput {
  /** Messages over seconds, all rounds together. */
  overall: number;
  /** The median round's rate. */
  median: number;
  rounds: number[];
}

/** One retry: a run can stall on something neither protocol controls (TCP's connect backing
 * off for minutes after lost SYNs at 20% loss). */
export async function once(proto: Proto, run: () => Promise<Result>): Promise<Result> {
  try {
    return await run();
  } catch (e) {
    console.log(`  ${proto} run failed (${(e as Error).message.split(";")[0]}); again`);
    return await run();
  }
}

/** `rounds` bursts of `messages` at once; goodput is all of them over all the rounds' time. */
export async function goodputRounds(
  hosts: Hosts,
  proto: Proto,
  o: { rounds: number; messages: number },
): Promise<Goodput> {
  const rates: number[] = [];
  for (let i = 0; i < o.rounds; i++) {
    rates.push((await once(proto, () => measure(hosts, proto, o.messages, 0))).rate);
  }
  const seconds = rates.reduce((sum, rate) => sum + o.messages / rate, 0);
  return {
    overall: o.messages * rates.length / seconds,
    median: rates.toSorted((x, y) => x - y)[Math.floor(rates.length / 2)],
    rounds: rates,
  };
}
