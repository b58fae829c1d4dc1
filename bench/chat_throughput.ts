/**
 * What encryption costs the chat: messages per second from one chatnet process to another over
 * loopback, plain against sealed (a passphrase on both sides), measured in the same run. Each side
 * also reports its CPU time per message and peak memory.
 *
 *   deno run -A bench/chat_throughput.ts [MESSAGES=20000] [ROUNDS=3]
 */
import { ChatProc } from "../tests/proc.ts";
import { freePorts } from "../lib/demo.ts";

const messages = Number(Deno.args[0] ?? 20_000);
const rounds = Number(Deno.args[1] ?? 3);

async function cpuSeconds(p: ChatProc): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${p.child.pid}/stat`] }).output();
  const f = new TextDecoder().decode(out.stdout).split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function run(secret?: string): Promise<{ rate: number; cpuPerMsg: number; peak: number }> {
  const [pa, pb] = freePorts(2);
  const env = secret ? { env: { CHATNET_SECRET: secret } } : {};
  const side = (p: number, q: number) =>
    new ChatProc(["--json", "-p", String(p), "--peer", `127.0.0.1:${q}`, "--no-history"], env);
  const a = side(pa, pb), b = side(pb, pa);
  try {
    await a.until(() => a.of("peer").length > 0 && b.of("peer").length > 0, "peers online");
    const cpu0 = (await cpuSeconds(a)) + (await cpuSeconds(b));
    const lines = Array.from(
      { length: messages },
      (_, i) => JSON.stringify({ type: "send", text: `message ${i} ${"x".repeat(40)}` }),
    ).join("\n") + "\n";
    const started = performance.now();
    await a.write(lines);
    await b.until(() => b.of("message").length === messages, "all messages", 600_000);
    const ms = b.timeOf("message", (m) => m.text.startsWith(`message ${messages - 1} `)) - started;
    const cpu = (await cpuSeconds(a)) + (await cpuSeconds(b)) - cpu0;
    const inOrder = b.of("message").every((m, i) => m.text.startsWith(`message ${i} `));
    if (!inOrder) throw new Error("Messages arrived out of order");
    const peak = Math.max((await a.memory()).peak, (await b.memory()).peak);
    return { rate: messages / (ms / 1000), cpuPerMsg: cpu / messages * 1000, peak };
  } finally {
    for (const p of [a, b]) {
      p.kill();
      await p.exit();
    }
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const plain: Awaited<ReturnType<typeof run>>[] = [];
const sealed: typeof plain = [];
for (let r = 0; r < rounds; r++) {
  plain.push(await run());
  sealed.push(await run("bench-passphrase"));
}
const show = (label: string, list: typeof plain) =>
  console.log(
    `  ${label}  ${median(list.map((r) => r.rate)).toFixed(0).padStart(6)} msg/s, ` +
      `CPU ${median(list.map((r) => r.cpuPerMsg)).toFixed(3)} ms/msg (both processes), ` +
      `peak RSS ${(Math.max(...list.map((r) => r.peak)) / 2 ** 20).toFixed(0)} MiB`,
  );
console.log(`${messages} chat messages one way over loopback (median of ${rounds} runs)`);
show("plain ", plain);
show("sealed", sealed);
const ratio = median(sealed.map((r) => r.rate)) / median(plain.map((r) => r.rate));
console.log(
  `  sealed/plain throughput ${ratio.toFixed(2)} (cost of encryption ${
    ((1 - ratio) * 100).toFixed(0)
  }%)`,
);
