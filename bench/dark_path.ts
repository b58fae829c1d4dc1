/**
 * A dark path (bench/congestion.ts runs it): two ChatNet peers online, then every datagram either
 * way is dropped at A's interface while a message is unacknowledged, and more are typed into the
 * dark. What A emits is counted per second; then the path returns and the backlog is timed.
 */
import type { Json } from "../tests/proc.ts";
import { nft, nftCounters, type VethHosts } from "../tests/netns/netns.ts";
import { chatPair, online, stats } from "./bottleneck.ts";

export const DARK_SECONDS = 30;
/** The rate is counted from this long after the path went dark. */
export const SETTLED_AFTER = 10;
const PORT = 7002;
const BACKLOG = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Dark {
  /** Datagrams A emitted in each second after the path went dark. */
  perSecond: number[];
  /** Per second from SETTLED_AFTER to DARK_SECONDS. */
  settledRate: number;
  /** From the path's return until B had the whole backlog, ms. */
  recoveryMs: number;
  exact: boolean;
  /** A's stats just before the path returned. */
  stats: Json;
}

export async function darkPath(h: VethHosts): Promise<Dark> {
  const [a, b] = chatPair(h, PORT);
  const table = "netdev chatnet_dark";
  try {
    await online(a, b);
    await a.command({ type: "send", text: "before" });
    await b.until(() => b.of("message").length === 1, "the first message");
    await sleep(1000);
    await nft(
      h.nsA,
      [
        "table netdev chatnet_dark {",
        "  chain out {",
        `    type filter hook egress device "${h.devA}" priority 0;`,
        `    udp sport ${PORT} counter drop comment "sent"`,
        "  }",
        "  chain in {",
        `    type filter hook ingress device "${h.devA}" priority 0;`,
        `    udp dport ${PORT} drop`,
        "  }",
        "}",
      ].join("\n"),
    );
    const t0 = performance.now();
    // A counter that cannot be read is an error: read as 0 it would pass the goal.
    const sent = async () => {
      const counter = (await nftCounters(h.nsA, table)).get("sent");
      if (!counter) throw new Error(`Dark path: no "sent" counter in ${table}`);
      return counter.packets;
    };
    const samples = [await sent()];
    const texts = Array.from({ length: BACKLOG }, (_, i) => `dark ${i}`);
    await a.command({ type: "send", text: texts[0] }); // unacknowledged as the path goes dark
    for (let s = 1; s <= DARK_SECONDS; s++) {
      await sleep(t0 + s * 1000 - performance.now());
      samples.push(await sent());
      if (s < BACKLOG) await a.command({ type: "send", text: texts[s] });
    }
    const before = await stats(a);
    const backlogFrom = b.of("message").length;
    await nft(h.nsA, `delete table ${table}`);
    const restored = performance.now();
    await b.until(() => b.of("message").length >= 1 + BACKLOG, "the backlog", 120_000);
    const lastAt = b.timeOf("message", (m: Json) => m.text === texts[BACKLOG - 1]);
    const got = b.of("message").slice(1).map((m: Json) => m.text);
    return {
      perSecond: samples.slice(1).map((c, i) => c - samples[i]),
      settledRate: (samples[DARK_SECONDS] - samples[SETTLED_AFTER]) /
        (DARK_SECONDS - SETTLED_AFTER),
      recoveryMs: lastAt - restored,
      exact: backlogFrom === 1 && got.length === BACKLOG && got.every((t, i) => t === texts[i]),
      stats: before,
    };
  } finally {
    await new Deno.Command("ip", {
      args: [...h.exec(h.nsA).slice(1), "nft", "delete", "table", ...table.split(" ")],
      stderr: "null",
    }).output();
    for (const p of [a, b]) {
      p.kill();
      await p.exit();
    }
  }
}
