/**
 * ChatNet at a bottleneck, against TCP through the same queue (bench/congestion.ts runs it): a
 * burst of lines through it one protocol at a time, and both protocols' bulk flows sharing it.
 */
import { ChatProc, type Json } from "../tests/proc.ts";
import { nft, nftCounters, type QueueStats, type VethHosts } from "../tests/netns/netns.ts";
import { pct, start } from "./chat_latency.ts";

export const BURST_LINES = 2000;
export const LINE_BYTES = 500;
export const SHARE_SECONDS = 30;
export const CHAT_GAP_MS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A line of exactly `LINE_BYTES` that names its number. */
export function line(prefix: string, i: number): string {
  return `${prefix}${i} `.padEnd(LINE_BYTES, "x");
}

/** Two chatnet processes in --json mode, A sending to B on `port`. */
export function chatPair(h: VethHosts, port: number): [ChatProc, ChatProc] {
  const side = (ns: string, peer: string) =>
    new ChatProc(
      ["--json", "-p", String(port), "--peer", `${peer}:${port}`, "--no-history"],
      { prefix: h.exec(ns) },
    );
  return [side(h.nsA, h.ipB), side(h.nsB, h.ipA)];
}

export async function online(a: ChatProc, b: ChatProc): Promise<void> {
  const up = (p: ChatProc) => p.of("peer").some((e: Json) => e.state === "online");
  await a.until(() => up(a) && up(b), "peers online", 60_000);
}

/** The sender's stats event, asked for now. */
export async function stats(p: ChatProc): Promise<Json> {
  const n = p.of("stats").length;
  await p.command({ type: "stats" });
  await p.until(() => p.of("stats").length > n, "stats");
  return p.of("stats")[n];
}

export interface Burst {
  ms: number;
  /** What the bottleneck queue passed (bytes, packets) and dropped during the burst. */
  queue: QueueStats;
  /** Bytes from B back to A (ACKs), by B's interface counter. */
  reverseBytes: number;
  exact: boolean;
  stats?: Json;
}

async function txBytes(h: VethHosts): Promise<number> {
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", h.nsB, "cat", `/sys/class/net/${h.devB}/statistics/tx_bytes`],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(out.stdout));
}

/** BURST_LINES lines written at once to the sender, until the last is read from the receiver. */
export async function burst(h: VethHosts, proto: "chatnet" | "tcp"): Promise<Burst> {
  const [s, r] = proto === "chatnet" ? chatPair(h, 7000) : start(h, "tcp");
  try {
    if (proto === "chatnet") await online(s, r);
    else await s.until(() => s.of("ready").length > 0 && r.of("ready").length > 0, "tcp ready");
    await sleep(500); // the handshake's datagrams out of the counters
    const lines = Array.from({ length: BURST_LINES }, (_, i) => line("b", i));
    const input = proto === "chatnet"
      ? lines.map((text) => JSON.stringify({ type: "send", text })).join("\n") + "\n"
      : lines.join("\n") + "\n";
    const q0 = await h.queue(), rev0 = await txBytes(h);
    const t0 = performance.now();
    await s.write(input);
    const tracing = proto === "chatnet" && Deno.env.get("BENCH_TRACE") !== undefined;
    while (tracing && r.of("message").length < BURST_LINES) {
      const x = await stats(s);
      console.log(
        `    ${(performance.now() - t0).toFixed(0)} ms: got ${
          r.of("message").length
        }, cwnd ${x.cwnd} ` +
          `ssthresh ${x.ssthresh} srtt ${x.srtt.toFixed(1)} rttvar ${x.rttvar.toFixed(1)} min ` +
          `${x.minRtt} rto ${
            x.rto.toFixed(0)
          } events ${x.congestionEvents} random ${x.randomLosses} ` +
          `rtx ${x.retransmits} to ${x.timeouts} probes ${x.tailProbes} spurious ` +
          `${x.spuriousRetransmits} inFlight ${x.inFlight} dgrams ${x.datagramsOut}`,
      );
      await sleep(200);
    }
    await r.until(() => r.of("message").length >= BURST_LINES, `${proto} burst`, 180_000);
    const ms = r.arrivedAt[r.lines.length - 1] - t0;
    await sleep(300); // the last ACKs and anything sent after them count too
    const q1 = await h.queue(), rev1 = await txBytes(h);
    const got = r.of("message").map((m: Json) => m.text);
    return {
      ms,
      queue: {
        bytes: q1.bytes - q0.bytes,
        packets: q1.packets - q0.packets,
        dropped: q1.dropped - q0.dropped,
      },
      reverseBytes: rev1 - rev0,
      exact: got.length === BURST_LINES && got.every((t: string, i: number) => t === lines[i]),
      stats: proto === "chatnet" ? await stats(s) : undefined,
    };
  } finally {
    for (const p of [s, r]) {
      p.kill();
      await p.exit();
    }
  }
}

export interface Share {
  /** Bytes that crossed the bottleneck each second, per flow (B's ingress counters). */
  perSecond: { chatnet: number; tcp: number; chat: number }[];
  chatnetShare: number;
  tcpShare: number;
  /** Both bulk flows' bytes over the bottleneck's rate in the period. */
  utilisation: number;
  chatP50: number;
  chatP99: number;
  chatLines: number;
  iperf?: Json;
  stats: Json;
  /** The bulk sender's stats each second. */
  trace: Json[];
}

/** ChatNet bulk (a paste far longer than the period) and an iperf3 TCP flow started together and
 * sharing the bottleneck for SHARE_SECONDS; meanwhile a second ChatNet pair sends a short line
 * every CHAT_GAP_MS, timed end to end. */
export async function share(
  h: VethHosts,
  o: { rateBytesPerSec: number; cc: string },
): Promise<Share> {
  const rateBytesPerSec = o.rateBytesPerSec;
  const [bulkA, bulkB] = chatPair(h, 7000);
  const [chatA, chatB] = chatPair(h, 7001);
  const server = new Deno.Command("ip", {
    args: [...h.exec(h.nsB).slice(1), "iperf3", "-s", "-1", "-p", "5201"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await nft(
    h.nsB,
    [
      "table netdev chatnet_share {",
      "  chain in {",
      `    type filter hook ingress device "${h.devB}" priority 0;`,
      '    udp dport 7000 counter comment "chatnet"',
      '    udp dport 7001 counter comment "chat"',
      '    tcp dport 5201 counter comment "tcp"',
      "  }",
      "}",
    ].join("\n"),
  );
  let client: Deno.ChildProcess | undefined;
  try {
    await online(bulkA, bulkB);
    await online(chatA, chatB);
    await sleep(500);
    // Enough for the whole bottleneck for twice the period: the paste never runs dry.
    const paste = Array.from(
      { length: Math.ceil(2 * SHARE_SECONDS * rateBytesPerSec / LINE_BYTES) },
      (_, i) => JSON.stringify({ type: "send", text: line("p", i) }),
    ).join("\n") + "\n";
    const counts = () =>
      nftCounters(h.nsB, "netdev chatnet_share").then((m) => ({
        chatnet: m.get("chatnet")?.bytes ?? 0,
        tcp: m.get("tcp")?.bytes ?? 0,
        chat: m.get("chat")?.bytes ?? 0,
      }));
    const c0 = await counts();
    const writing = bulkA.write(paste);
    client = new Deno.Command("ip", {
      args: [
        ...h.exec(h.nsA).slice(1),
        ...["iperf3", "-c", h.ipB, "-p", "5201", "-t", String(SHARE_SECONDS), "-J"],
        ...["-C", o.cc],
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const t0 = performance.now();
    const sentAt: number[] = [];
    const chatting = (async () => {
      for (let i = 0; performance.now() - t0 < SHARE_SECONDS * 1000; i++) {
        sentAt[i] = performance.now();
        await chatA.command({ type: "send", text: `c${i}` });
        await sleep(CHAT_GAP_MS - ((performance.now() - t0) % CHAT_GAP_MS));
      }
    })();
    const samples = [c0];
    const trace: Json[] = [];
    for (let s = 1; s <= SHARE_SECONDS; s++) {
      await sleep(t0 + s * 1000 - performance.now());
      samples.push(await counts());
      trace.push(await stats(bulkA));
    }
    await chatting;
    const iperfOut = await client.output();
    client = undefined;
    await chatB.until(() => chatB.of("message").length >= sentAt.length, "chat lines", 30_000);
    const arrivals = chatB.lines.flatMap((l, i) => {
      const e = JSON.parse(l);
      return e.type === "message" ? [chatB.arrivedAt[i] - sentAt[Number(e.text.slice(1))]] : [];
    }).sort((x, y) => x - y);
    const last = samples[samples.length - 1];
    const bulk = last.chatnet - c0.chatnet, tcp = last.tcp - c0.tcp;
    void writing.catch(() => {});
    let iperf: Json;
    try {
      iperf = JSON.parse(new TextDecoder().decode(iperfOut.stdout));
    } catch { /* reported as missing */ }
    return {
      perSecond: samples.slice(1).map((c, i) => ({
        chatnet: c.chatnet - samples[i].chatnet,
        tcp: c.tcp - samples[i].tcp,
        chat: c.chat - samples[i].chat,
      })),
      chatnetShare: bulk / (bulk + tcp),
      tcpShare: tcp / (bulk + tcp),
      utilisation: (bulk + tcp) / (rateBytesPerSec * SHARE_SECONDS),
      chatP50: pct(arrivals, 0.5),
      chatP99: pct(arrivals, 0.99),
      chatLines: arrivals.length,
      iperf,
      stats: await stats(bulkA),
      trace,
    };
  } finally {
    try {
      client?.kill();
      server.kill();
    } catch { /* gone */ }
    await server.status;
    await new Deno.Command("ip", {
      args: [...h.exec(h.nsB).slice(1), "nft", "delete", "table", "netdev", "chatnet_share"],
    }).output();
    for (const p of [bulkA, bulkB, chatA, chatB]) {
      p.kill();
      await p.exit();
    }
  }
}
