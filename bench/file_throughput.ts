/**
 * File throughput: a file over loopback with chatnet (plain, and sealed under a passphrase),
 * against plain TCP copies of the same file measured in the same run (socat when installed, and a
 * minimal Deno read/write loop). Prints MB/s,
 * the ratio, peak RSS of both chatnet processes, and chat latency while the file moves.
 *
 * Each method runs three times, interleaved, and the median is reported: loopback and page-cache
 * speeds here vary run to run by 2× or more.
 *
 *   deno run -A bench/file_throughput.ts [SIZE_MIB=1024] [MESSAGES=100] [ROUNDS=3]
 */
import { join } from "node:path";
import { ChatProc, type Json } from "../tests/proc.ts";
import { freePorts } from "../lib/demo.ts";
import { CHUNK, writeAll } from "../lib/net/file_stream.ts";

const sizeMiB = Number(Deno.args[0] ?? 1024);
const messages = Number(Deno.args[1] ?? 100);
const rounds = Number(Deno.args[2] ?? 3);
const size = sizeMiB * 2 ** 20;
const root = await Deno.makeTempDir({ prefix: "chatnet-bench-" });
const source = join(root, "payload.bin");

async function makePayload(): Promise<void> {
  const block = new Uint8Array(CHUNK);
  for (let o = 0; o < CHUNK; o += 65536) crypto.getRandomValues(block.subarray(o, o + 65536));
  const f = await Deno.open(source, { write: true, create: true });
  for (let left = size; left > 0; left -= CHUNK) {
    block[0]++; // every megabyte differs
    await writeAll(f, block.subarray(0, Math.min(CHUNK, left)));
  }
  f.close();
}

/** The baseline: a plain read/write loop with one 1 MiB buffer on each side. */
async function denoCopy(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const started = performance.now();
  const receive = (async () => {
    const conn = await listener.accept();
    const out = await Deno.open(join(root, "copy.bin"), {
      write: true,
      create: true,
      truncate: true,
    });
    const buf = new Uint8Array(CHUNK);
    for (let n; (n = await conn.read(buf)) !== null;) await writeAll(out, buf.subarray(0, n));
    out.close();
    conn.close();
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const file = await Deno.open(source);
  const buf = new Uint8Array(CHUNK);
  for (let n; (n = await file.read(buf)) !== null;) await writeAll(conn, buf.subarray(0, n));
  file.close();
  await conn.closeWrite();
  await receive;
  listener.close();
  return performance.now() - started;
}

async function socatCopy(): Promise<number | undefined> {
  try {
    await new Deno.Command("socat", { args: ["-V"], stdout: "null" }).output();
  } catch {
    return undefined;
  }
  const [port] = freePorts(1);
  const started = performance.now();
  const server = new Deno.Command("socat", {
    args: [
      "-u",
      `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`,
      `CREATE:${join(root, "socat.bin")}`,
    ],
  }).spawn();
  await new Promise((r) => setTimeout(r, 200));
  const client = await new Deno.Command("socat", {
    args: ["-u", `OPEN:${source}`, `TCP:127.0.0.1:${port}`],
  })
    .output();
  await server.status;
  return client.success ? performance.now() - started - 200 : undefined;
}

async function chatnetCopy(secret?: string): Promise<
  { ms: number; rss: number[]; latency: number[]; ok: boolean }
> {
  const [pa, pb] = freePorts(2);
  const dirs = [join(root, "a"), join(root, "b")];
  for (const d of dirs) {
    await Deno.remove(d, { recursive: true }).catch(() => {});
    await Deno.mkdir(d, { recursive: true });
  }
  const args = (
    p: number,
    q: number,
    d: string,
  ) => ["--json", "-p", String(p), "--peer", `127.0.0.1:${q}`, "--downloads", d];
  const env = secret ? { env: { CHATNET_SECRET: secret } } : {};
  const a = new ChatProc(args(pa, pb, dirs[0]), env), b = new ChatProc(args(pb, pa, dirs[1]), env);
  await a.until(() => a.of("peer").length > 0 && b.of("peer").length > 0, "peers online");
  const sentAt = new Map<string, number>();
  const started = performance.now();
  await a.command({ type: "file", path: source });
  // Chat both ways while the file moves, one message every 20 ms each way.
  for (let i = 0; i < messages; i++) {
    for (const [p, who] of [[a, "a"], [b, "b"]] as const) {
      const text = `${who}${i}`;
      sentAt.set(text, performance.now());
      await p.command({ type: "send", text });
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await b.until(() => b.of("file_received").length === 1, "the file", 600_000);
  const ms = b.timeOf("file_received") - started;
  await a.until(
    () => a.of("message").length === messages && b.of("message").length === messages,
    "messages",
  );
  const latency = [a, b].flatMap((p) =>
    p.of("message").map((m: Json) =>
      p.timeOf("message", (e) => e.text === m.text) - sentAt.get(m.text)!
    )
  );
  const got: Json = b.of("file_received")[0];
  const sentEvent: Json = await a.until(() => a.of("file_sent").length === 1, "confirmation").then(
    () => a.of("file_sent")[0],
  );
  const rss = [(await a.memory()).peak, (await b.memory()).peak];
  const inOrder = a.of("message").every((m: Json, i: number) => m.text === `b${i}`) &&
    b.of("message").every((m: Json, i: number) => m.text === `a${i}`);
  a.kill();
  b.kill();
  await a.exit();
  await b.exit();
  return { ms, rss, latency, ok: got.sha256 === sentEvent.sha256 && got.size === size && inOrder };
}

const mbps = (ms: number) => size / 1e6 / (ms / 1000);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const pct = (xs: number[], p: number) =>
  [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
await makePayload();
const runs = {
  deno: [] as number[],
  socat: [] as number[],
  chat: [] as Awaited<ReturnType<typeof chatnetCopy>>[],
  sealed: [] as Awaited<ReturnType<typeof chatnetCopy>>[],
};
for (let r = 0; r < rounds; r++) {
  runs.deno.push(await denoCopy());
  const s = await socatCopy();
  if (s) runs.socat.push(s);
  runs.chat.push(await chatnetCopy());
  runs.sealed.push(await chatnetCopy("bench-passphrase"));
}
await Deno.remove(root, { recursive: true });
const deno = median(runs.deno);
const socat = runs.socat.length ? median(runs.socat) : undefined;
const summary = (list: typeof runs.chat) => ({
  ms: median(list.map((c) => c.ms)),
  ok: list.every((c) => c.ok),
  rss: [Math.max(...list.map((c) => c.rss[0])), Math.max(...list.map((c) => c.rss[1]))],
  latency: list.flatMap((c) => c.latency),
});
const chat = summary(runs.chat), sealed = summary(runs.sealed);

console.log(
  `File of ${sizeMiB} MiB over loopback, ${messages} chat messages each way meanwhile ` +
    `(median of ${rounds} runs each)`,
);
console.log(`  plain Deno copy   ${mbps(deno).toFixed(0)} MB/s`);
if (socat) console.log(`  socat             ${mbps(socat).toFixed(0)} MB/s`);
console.log(
  `  chatnet           ${
    mbps(chat.ms).toFixed(0)
  } MB/s (SHA-256 both sides, fsync, verified: ${chat.ok})`,
);
console.log(
  `  chatnet sealed    ${
    mbps(sealed.ms).toFixed(0)
  } MB/s (AES-256-GCM records, verified: ${sealed.ok})`,
);
console.log(`  ratio chatnet/Deno copy  ${(deno / chat.ms).toFixed(2)}`);
if (socat) console.log(`  ratio chatnet/socat      ${(socat / chat.ms).toFixed(2)}`);
if (socat) console.log(`  ratio sealed/socat       ${(socat / sealed.ms).toFixed(2)}`);
console.log(`  ratio sealed/Deno copy   ${(deno / sealed.ms).toFixed(2)}`);
console.log(`  peak RSS: sender ${mb(chat.rss[0])}, receiver ${mb(chat.rss[1])}`);
console.log(`  peak RSS sealed: sender ${mb(sealed.rss[0])}, receiver ${mb(sealed.rss[1])}`);
console.log(
  `  chat latency during the transfer (ms, incl. JSON pipes): p50 ${
    pct(chat.latency, 0.5).toFixed(1)
  }, ` +
    `p99 ${pct(chat.latency, 0.99).toFixed(1)}, max ${Math.max(...chat.latency).toFixed(1)}`,
);
if (!chat.ok || !sealed.ok) Deno.exit(1);
