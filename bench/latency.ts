/**
 * One-way chat latency and goodput, ChatNet against a plain TCP chat (TCP_NODELAY) and the old
 * app's stop-and-wait, on two kernel paths between network namespaces:
 *   fast:  a veth pair, loss by nftables (netem where the kernel has it);
 *   delay: tests/netns/tapfwd.py, 25±5 ms each way, loss in the forwarder.
 * A message's latency is from writing it to the sender's stdin to reading it from the receiver's
 * stdout, the same harness for every protocol. Needs root.
 *
 *   deno task bench:latency            (BENCH_MESSAGES=300 per run by default)
 */
import { type Hosts, makeDelayHosts, makeHosts, unavailable } from "../tests/netns/netns.ts";
import {
  type Goodput,
  goodputRounds,
  measure,
  once,
  type Proto,
  PROTOS,
  type Result,
} from "./chat_latency.ts";

const LOSSES = (Deno.env.get("BENCH_LOSSES") ?? "0,5,10,20").split(",").map(Number);
const MESSAGES = Number(Deno.env.get("BENCH_MESSAGES") ?? 300);
const GAP_MS = 20;
const STOP_AND_WAIT_MESSAGES = 15;
const GOODPUT_MESSAGES = 2000;
/** Goodput under loss swings widely from round to round: a retransmission timeout costs TCP at
 * least 200 ms, a third of its rounds on the fast link. Goodput is what all rounds delivered over
 * the time they took, so those timeouts count as often as they happen; the median round is
 * printed beside it. */
const GOODPUT_ROUNDS = 9;

interface LinkReport {
  name: string;
  latency: Record<Proto, Result>[];
  goodput: { chatnet: Goodput; tcp: Goodput };
}

async function runLink(
  name: string,
  hosts: Hosts,
  setLoss: (loss: number) => Promise<void>,
): Promise<LinkReport> {
  const latency: Record<Proto, Result>[] = [];
  try {
    for (const loss of LOSSES) {
      await setLoss(loss);
      const row = {} as Record<Proto, Result>;
      for (const proto of PROTOS) {
        const count = proto === "stopwait" ? STOP_AND_WAIT_MESSAGES : MESSAGES;
        row[proto] = await once(proto, () => measure(hosts, proto, count, GAP_MS));
      }
      latency.push(row);
      console.log(
        `  ${name} ${loss}% loss: ${
          PROTOS.map((p) => `${p} p99 ${row[p].p99.toFixed(1)} ms`).join(", ")
        }`,
      );
    }
    await setLoss(20);
    const rounds = async (proto: Proto): Promise<Goodput> => {
      const g = await goodputRounds(hosts, proto, {
        rounds: GOODPUT_ROUNDS,
        messages: GOODPUT_MESSAGES,
      });
      console.log(
        `  ${name} goodput rounds, ${proto}: ${g.rounds.map((r) => r.toFixed(0)).join(" ")}`,
      );
      return g;
    };
    const goodput = { chatnet: await rounds("chatnet"), tcp: await rounds("tcp") };
    return { name, latency, goodput };
  } finally {
    await hosts.cleanup();
  }
}

function table(r: LinkReport): string {
  const f = (x: number) => x >= 100 ? x.toFixed(0) : x.toFixed(1);
  const lines = [
    `${r.name}: one-way latency in ms (p50 / p90 / p99 / max), ${MESSAGES} messages ${GAP_MS} ms apart`,
    "| loss | ChatNet | TCP (NODELAY) | stop-and-wait | p99 ChatNet/TCP | p50 ChatNet/TCP |",
    "| ---: | --- | --- | --- | ---: | ---: |",
  ];
  r.latency.forEach((row, i) => {
    const cell = (x: Result) =>
      `${f(x.p50)} / ${f(x.p90)} / ${f(x.p99)} / ${f(x.max)}${x.exact ? "" : " (!)"}`;
    lines.push(
      `| ${LOSSES[i]}% | ${cell(row.chatnet)} | ${cell(row.tcp)} | ${cell(row.stopwait)} | ` +
        `${(row.chatnet.p99 / row.tcp.p99).toFixed(2)} | ${
          (row.chatnet.p50 / row.tcp.p50).toFixed(2)
        } |`,
    );
  });
  const g = r.goodput;
  const first = r.latency[0], last = r.latency[r.latency.length - 1];
  const us = (x: Result) => x.cpuUs.toFixed(0);
  const rate = (x: number) => x.toFixed(0);
  lines.push(
    "",
    `Goodput at 20% loss (${GOODPUT_ROUNDS} rounds of ${GOODPUT_MESSAGES} messages at once; ` +
      `all messages over all the rounds' time): ChatNet ${rate(g.chatnet.overall)} msg/s, TCP ${
        rate(g.tcp.overall)
      } msg/s, ratio ${(g.chatnet.overall / g.tcp.overall).toFixed(2)}. The median round: ` +
      `ChatNet ${rate(g.chatnet.median)}, TCP ${rate(g.tcp.median)}, ratio ${
        (g.chatnet.median / g.tcp.median).toFixed(2)
      }. Rounds, ChatNet: ${g.chatnet.rounds.map(rate).join(", ")}; TCP: ${
        g.tcp.rounds.map(rate).join(", ")
      }.`,
    "",
    `CPU per delivered message, both processes: ChatNet ${us(first.chatnet)} µs at ${
      LOSSES[0]
    }% loss ` +
      `and ${us(last.chatnet)} µs at ${LOSSES.at(-1)}%; TCP chat ${us(first.tcp)} and ${
        us(last.tcp)
      } µs`,
  );
  return lines.join("\n");
}

/** p99 against loss, log scale, one panel per link. */
function chart(reports: LinkReport[]): string {
  const W = 420, H = 300, M = { l: 60, r: 20, t: 40, b: 50 };
  const colors: Record<Proto, string> = { chatnet: "#1a7f37", tcp: "#0969da", stopwait: "#cf222e" };
  const labels: Record<Proto, string> = {
    chatnet: "ChatNet",
    tcp: "TCP (NODELAY)",
    stopwait: "stop-and-wait 500 ms",
  };
  const all = reports.flatMap((r) => r.latency.flatMap((row) => PROTOS.map((p) => row[p].p99)));
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.1, Math.min(...all)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all))));
  const y = (v: number) =>
    M.t +
    (H - M.t - M.b) *
      (1 - (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)));
  const x = (i: number) => M.l + (W - M.l - M.r) * (i / (LOSSES.length - 1));
  const panels = reports.map((r, k) => {
    const ticks = [];
    for (let v = lo; v <= hi; v *= 10) {
      ticks.push(
        `<line x1="${M.l}" x2="${W - M.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>` +
          `<text x="${M.l - 6}" y="${y(v) + 4}" text-anchor="end">${
            v >= 1000 ? `${v / 1000} s` : `${v} ms`
          }</text>`,
      );
    }
    const xl = LOSSES.map((l, i) =>
      `<text x="${x(i)}" y="${H - M.b + 18}" text-anchor="middle">${l}%</text>`
    );
    const lines = PROTOS.map((p) => {
      const pts = r.latency.map((row, i) => `${x(i).toFixed(1)},${y(row[p].p99).toFixed(1)}`).join(
        " ",
      );
      const dots = r.latency.map((row, i) =>
        `<circle cx="${x(i)}" cy="${y(row[p].p99)}" r="3" fill="${colors[p]}"/>`
      ).join("");
      return `<polyline points="${pts}" fill="none" stroke="${
        colors[p]
      }" stroke-width="2"/>${dots}`;
    });
    return `<g transform="translate(${k * W},0)"><text x="${
      W / 2
    }" y="22" text-anchor="middle" font-weight="bold">` +
      `${r.name}</text>${ticks.join("")}${xl.join("")}<text x="${W / 2}" y="${
        H - 12
      }" text-anchor="middle">` +
      `loss each way</text>${lines.join("")}</g>`;
  });
  const legend = PROTOS.map((p, i) =>
    `<rect x="${M.l + i * 200}" y="${H + 4}" width="14" height="4" fill="${colors[p]}"/>` +
    `<text x="${M.l + i * 200 + 20}" y="${H + 10}">${labels[p]}</text>`
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * reports.length}" height="${
    H + 20
  }" ` +
    `font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>` +
    `<text x="10" y="14" font-size="11" fill="#555">p99 one-way chat latency</text>` +
    `${panels.join("")}${legend.join("")}</svg>\n`;
}

const reason = await unavailable();
if (reason) {
  console.log(`bench/latency.ts skipped: ${reason}`);
  Deno.exit(0);
}
const fast = await makeHosts();
console.log(`Fast link: veth, impaired by ${fast.method}`);
const reports = [
  await runLink(`veth + ${fast.method}`, fast, (loss) => fast.impair({ loss, dup: 0 })),
];
const slow = await makeDelayHosts(7);
reports.push(
  await runLink(
    "TAP forwarder, 25±5 ms each way",
    slow,
    (loss) => slow.link({ delay: 25, jitter: 5, loss, dup: 0, corrupt: 0 }),
  ),
);
const text = reports.map(table).join("\n\n");
console.log("\n" + text);
const out = new URL("./", import.meta.url).pathname;
await Deno.writeTextFile(`${out}latency.svg`, chart(reports));
await Deno.writeTextFile(`${out}latency.md`, text + "\n");
// Formatted as `deno fmt --check` (run by CI) wants them, so a fresh run can be committed as is.
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", `${out}latency.svg`, `${out}latency.md`],
  cwd: new URL("../", import.meta.url).pathname,
}).output();
console.log(`\nWrote bench/latency.svg and bench/latency.md`);
