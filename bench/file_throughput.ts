/**
 * File throughput: a file over loopback (or a shaped link, see LINK) with chatnet (plain, and
 * sealed under a passphrase, by OpenSSL's cipher and again by node:crypto's), against plain TCP
 * copies of the same file measured in the same run (socat when installed, and a minimal Deno
 * read/write loop), and against chatnet's sealed copy loop alone in two processes
 * (bench/sealed_copy.ts), the least a Deno program does to move the file sealed. Prints MB/s, CPU
 * per MiB, the ratios, peak RSS of both chatnet processes, and chat latency while the file moves.
 *
 * Each method runs three times, interleaved, and the median is reported: loopback and page-cache
 * speeds here vary run to run by 2× or more.
 *
 * With LINK (a tc rate: "1gbit", "2500mbit"; root), the two ends of every copy run in two network
 * namespaces joined by a veth pair shaped to that rate, as two hosts on a LAN would be; the Deno
 * loop, whose two ends share one process, is left out.
 *
 *   deno run -A bench/file_throughput.ts [SIZE_MIB=1024] [MESSAGES=100] [ROUNDS=3] [LINK]
 */
import { join } from "node:path";
import { ChatProc, type Json, PERMISSIONS, processCpuMs } from "../tests/proc.ts";
import { freePorts } from "../lib/demo.ts";
import { CHUNK, writeAll } from "../lib/net/file_stream.ts";
import { readLines } from "../lib/ui/output.ts";
import { aeadName, openInto, sealInto, TAG_BYTES } from "../lib/crypto/aead.ts";
import { OPT_OUT_ENV, useOpenSsl } from "../lib/native/openssl_aead.ts";
import { createHash } from "node:crypto";
import { makeHosts, unavailable } from "../tests/netns/netns.ts";

const sizeMiB = Number(Deno.args[0] ?? 1024);
const messages = Number(Deno.args[1] ?? 100);
const rounds = Number(Deno.args[2] ?? 3);
const size = sizeMiB * 2 ** 20;
const root = await Deno.makeTempDir({ prefix: "chatnet-bench-" });
const source = join(root, "payload.bin");
const link = Deno.args[3];
const why = link && await unavailable();
if (why) {
  console.log(`A shaped link needs network namespaces, and ${why}`);
  Deno.exit(1);
}
const hosts = link ? await makeHosts() : undefined;
await hosts?.limit(link);
/** Where the receiving and the sending end run: the command prefix and the address. */
const receiving = { prefix: hosts?.exec(hosts.nsB) ?? [], ip: hosts?.ipB ?? "127.0.0.1" };
const sending = { prefix: hosts?.exec(hosts.nsA) ?? [], ip: hosts?.ipA ?? "127.0.0.1" };

async function makePayload(): Promise<void> {
  const block = new Uint8Array(CHUNK);
  for (let o = 0; o < CHUNK; o += 65536) crypto.getRandomValues(block.subarray(o, o + 65536));
  const f = await Deno.open(source, { write: true, create: true });
  for (let left = size; left > 0; left -= CHUNK) {
    block[0]++; // every megabyte differs
    await writeAll(f, block.subarray(0, Math.min(CHUNK, left)));
  }
  // On disk before any copy starts: a first copy that ran while it was still being written back
  // ran at 230 MB/s, against 344 once it was synced.
  await f.syncData();
  f.close();
}

/** Deletes what the previous copies wrote; every copy calls it just before it starts. This VM
 * hands freed memory back to its host about two seconds after it is freed, and writing into memory
 * fresh from the host is 6 to 8 times slower than into pages just freed (dd wrote 1 GiB in 0.35 s
 * within a second of deleting the last copy, and in 2.2 to 2.8 s two seconds or more after). A
 * copy that starts later than the others after the deletion (chatnet's, which starts two processes
 * first) would pay for that alone. */
async function settle(): Promise<void> {
  for (const out of ["copy.bin", "socat.bin", "bare.bin", "a/payload.bin", "b/payload.bin"]) {
    await Deno.remove(join(root, out)).catch(() => {});
  }
}

/** The baseline: a plain read/write loop with one 1 MiB buffer on each side. */
async function denoCopy(): Promise<{ ms: number; cpuMs: number } | undefined> {
  if (hosts) return undefined;
  await settle();
  const cpu = await processCpuMs(Deno.pid);
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
  return { ms: performance.now() - started, cpuMs: await processCpuMs(Deno.pid) - cpu };
}

const BARE = new URL("./sealed_copy.ts", import.meta.url).pathname;

/** The bare sealed copy (bench/sealed_copy.ts): chatnet's sealed copy loop alone, its two ends in
 * two processes, where chatnet's would run. */
async function bareSealedCopy(): Promise<{ ms: number; cpuMs: number }> {
  await settle();
  const [port] = freePorts(1);
  const end = (prefix: string[], args: string[]) => {
    const argv = [...prefix, Deno.execPath(), "run", ...PERMISSIONS, BARE, ...args];
    return new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped" }).spawn();
  };
  const out = join(root, "bare.bin");
  const receiver = end(receiving.prefix, ["recv", receiving.ip, String(port), out, String(size)]);
  const lines = readLines(receiver.stdout);
  if ((await lines.next()).value !== "ready") throw new Error("Bare sealed copy: no receiver");
  const sender = await end(sending.prefix, ["send", receiving.ip, String(port), source]).output();
  const rest = [];
  for await (const line of lines) rest.push(line);
  if (!sender.success || !(await receiver.status).success) {
    throw new Error("Bare sealed copy failed");
  }
  const field = (name: string, text: string) =>
    Number(new RegExp(`${name} ([\\d.]+)`).exec(text)?.[1] ?? NaN);
  const received = rest.join("\n"), sent = new TextDecoder().decode(sender.stdout);
  return { ms: field("ms", received), cpuMs: field("cpu", sent) + field("cpu", received) };
}

/** socat run through sh (behind `prefix`), whose `times` then prints the CPU time socat used. */
function timed(prefix: string[], args: string[]): Deno.ChildProcess {
  const argv = [...prefix, "sh", "-c", 'socat "$@" && times', "sh", ...args];
  return new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped" }).spawn();
}

/** User plus system ms from the second line of `times` ("0m1.234s 0m0.567s"). */
function childCpuMs(out: Uint8Array): number {
  const line = new TextDecoder().decode(out).trim().split("\n").at(-1) ?? "";
  return [...line.matchAll(/(\d+)m([\d.]+)s/g)]
    .reduce((ms, m) => ms + (Number(m[1]) * 60 + Number(m[2])) * 1000, 0);
}

async function socatCopy(): Promise<{ ms: number; cpuMs: number } | undefined> {
  try {
    await new Deno.Command("socat", { args: ["-V"], stdout: "null" }).output();
  } catch {
    return undefined;
  }
  await settle();
  const [port] = freePorts(1);
  const started = performance.now();
  const server = timed(receiving.prefix, [
    "-u",
    `TCP-LISTEN:${port},bind=${receiving.ip},reuseaddr`,
    `CREATE:${join(root, "socat.bin")}`,
  ]);
  await new Promise((r) => setTimeout(r, 200));
  const to = `TCP:${receiving.ip}:${port}`;
  const client = await timed(sending.prefix, ["-u", `OPEN:${source}`, to]).output();
  const served = await server.output();
  if (!client.success || !served.success) return undefined;
  return {
    ms: performance.now() - started - 200,
    cpuMs: childCpuMs(client.stdout) + childCpuMs(served.stdout),
  };
}

async function chatnetCopy(secret?: string, openssl = true): Promise<
  { ms: number; cpuMs: number; rss: number[]; latency: number[]; ok: boolean }
> {
  const [pa, pb] = freePorts(2);
  const dirs = [join(root, "a"), join(root, "b")];
  for (const d of dirs) await Deno.mkdir(d, { recursive: true });
  const args = (
    p: number,
    q: string,
    d: string,
  ) => ["--json", "-p", String(p), "--peer", q, "--downloads", d];
  const env = {
    ...(secret ? { CHATNET_SECRET: secret } : {}),
    ...(openssl ? {} : { [OPT_OUT_ENV]: "0" }),
  };
  const a = new ChatProc(args(pa, `${receiving.ip}:${pb}`, dirs[0]), { env, ...sending });
  const b = new ChatProc(args(pb, `${sending.ip}:${pa}`, dirs[1]), { env, ...receiving });
  await a.until(() => a.of("peer").length > 0 && b.of("peer").length > 0, "peers online");
  await settle();
  const sentAt = new Map<string, number>();
  const cpuBefore = await a.cpuMs() + await b.cpuMs();
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
  const cpuMs = await a.cpuMs() + await b.cpuMs() - cpuBefore;
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
  const ok = got.sha256 === sentEvent.sha256 && got.size === size && inOrder;
  return { ms, cpuMs, rss, latency, ok };
}

const mbps = (ms: number) => size / 1e6 / (ms / 1000);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const pct = (xs: number[], p: number) =>
  [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const perMiB = (cpuMs: number) => `${(cpuMs / sizeMiB).toFixed(2)} ms CPU/MiB`;

/** CPU ms per MiB of what a sealed transfer cannot do without, measured on this process's core:
 * sealing, opening, and the sender's SHA-256. */
function cipherCost(): { seal: number; open: number; hash: number } {
  const key = crypto.getRandomValues(new Uint8Array(32)), aad = new Uint8Array(8);
  const plaintext = new Uint8Array(CHUNK), sealed = new Uint8Array(CHUNK + TAG_BYTES);
  const out = new Uint8Array(CHUNK);
  const each = (f: () => void) => {
    f(); // warm
    const n = 64, t = performance.now();
    for (let i = 0; i < n; i++) f();
    return (performance.now() - t) / n;
  };
  const hash = createHash("sha256");
  return {
    seal: each(() => sealInto(key, { counter: 1n, aad, plaintext, out: sealed })),
    open: each(() => openInto(key, { counter: 1n, aad, sealed, out })),
    hash: each(() => hash.update(plaintext)),
  };
}

const noOpenSsl = useOpenSsl(Deno.env.get(OPT_OUT_ENV));
if (noOpenSsl) console.log(`OpenSSL's cipher is not in use: ${noOpenSsl}`);

await makePayload();
type Round = {
  deno: Awaited<ReturnType<typeof denoCopy>>;
  socat?: Awaited<ReturnType<typeof socatCopy>>;
  bare: Awaited<ReturnType<typeof bareSealedCopy>>;
  chat: Awaited<ReturnType<typeof chatnetCopy>>;
  sealed: Awaited<ReturnType<typeof chatnetCopy>>;
  sealedNode: Awaited<ReturnType<typeof chatnetCopy>>;
};
const runs: Round[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    runs.push({
      deno: await denoCopy(),
      socat: await socatCopy(),
      bare: await bareSealedCopy(),
      chat: await chatnetCopy(),
      sealed: await chatnetCopy("bench-passphrase"),
      sealedNode: await chatnetCopy("bench-passphrase", false),
    });
  }
} finally {
  await hosts?.cleanup();
  await Deno.remove(root, { recursive: true });
}
// Each ratio is taken within a round (the runs are seconds apart) and the median of those is
// reported: this machine's loopback speed drifts by 2x over minutes, which a ratio of two
// separate medians would mix in.
const ratio = (base: (r: Round) => number | undefined, of: (r: Round) => number) => {
  const xs = runs.filter((r) => base(r) !== undefined).map((r) => base(r)! / of(r));
  return xs.length ? median(xs).toFixed(2) : "n/a";
};
const socatMs = (r: Round) => r.socat?.ms;
const chatnet = (pick: (r: Round) => Round["chat"]) => ({
  ms: median(runs.map((r) => pick(r).ms)),
  cpuMs: median(runs.map((r) => pick(r).cpuMs)),
  ok: runs.every((r) => pick(r).ok),
  rss: [0, 1].map((i) => Math.max(...runs.map((r) => pick(r).rss[i]))),
  latency: runs.flatMap((r) => pick(r).latency),
});
const chat = chatnet((r) => r.chat), sealed = chatnet((r) => r.sealed);
const sealedNode = chatnet((r) => r.sealedNode);
/** The medians of a plain copy's runs, or undefined if it did not run. */
const plain = (xs: ({ ms: number; cpuMs: number } | undefined)[]) => {
  const got = xs.filter((x) => x !== undefined);
  return got.length === 0 ? undefined : {
    ms: median(got.map((x) => x.ms)),
    cpuMs: median(got.map((x) => x.cpuMs)),
  };
};
const deno = plain(runs.map((r) => r.deno)), socat = plain(runs.map((r) => r.socat));
const bare = plain(runs.map((r) => r.bare))!;

const path = link ? `a veth pair shaped to ${link} (tbf) between two namespaces` : "loopback";
console.log(
  `File of ${sizeMiB} MiB over ${path}, ${messages} chat messages each way meanwhile ` +
    `(median of ${rounds} runs each; CPU is both ends together)`,
);
if (deno) {
  console.log(`  plain Deno copy   ${mbps(deno.ms).toFixed(0)} MB/s, ${perMiB(deno.cpuMs)}`);
}
if (socat) {
  console.log(`  socat             ${mbps(socat.ms).toFixed(0)} MB/s, ${perMiB(socat.cpuMs)}`);
}
console.log(
  `  bare sealed copy  ${mbps(bare.ms).toFixed(0)} MB/s, ${perMiB(bare.cpuMs)} ` +
    `(chatnet's sealed copy loop alone, in two processes: no chat, no events, no fsync)`,
);
console.log(
  `  chatnet           ${mbps(chat.ms).toFixed(0)} MB/s, ${perMiB(chat.cpuMs)} ` +
    `(SHA-256 both sides, fsync, verified: ${chat.ok})`,
);
console.log(
  `  chatnet sealed    ${mbps(sealed.ms).toFixed(0)} MB/s, ${perMiB(sealed.cpuMs)} ` +
    `(ChaCha20-Poly1305 records by ${aeadName()}, SHA-256 on the sender, verified: ${sealed.ok})`,
);
console.log(
  `  sealed, node:crypto ${mbps(sealedNode.ms).toFixed(0)} MB/s, ${perMiB(sealedNode.cpuMs)} ` +
    `(the same with ${OPT_OUT_ENV}=0, verified: ${sealedNode.ok})`,
);
console.log(`  ratio chatnet/Deno copy  ${ratio((r) => r.deno?.ms, (r) => r.chat.ms)}`);
console.log(`  ratio chatnet/socat      ${ratio(socatMs, (r) => r.chat.ms)}`);
console.log(`  ratio sealed/socat       ${ratio(socatMs, (r) => r.sealed.ms)}`);
console.log(`  ratio sealed/Deno copy   ${ratio((r) => r.deno?.ms, (r) => r.sealed.ms)}`);
console.log(`  ratio sealed/chatnet     ${ratio((r) => r.chat.ms, (r) => r.sealed.ms)}`);
console.log(`  ratio bare sealed/socat  ${ratio(socatMs, (r) => r.bare.ms)}`);
console.log(`  ratio sealed/bare sealed ${ratio((r) => r.bare.ms, (r) => r.sealed.ms)}`);
console.log(`  ratio sealed node:crypto/socat ${ratio(socatMs, (r) => r.sealedNode.ms)}`);
console.log(`  peak RSS: sender ${mb(chat.rss[0])}, receiver ${mb(chat.rss[1])}`);
console.log(`  peak RSS sealed: sender ${mb(sealed.rss[0])}, receiver ${mb(sealed.rss[1])}`);
if (socat && !link) {
  // However well the two ends share out their work, a sealed copy costs at least the ciphers and
  // one SHA-256 on top of what the plain copy costs, and both ends share this host's cores. A real
  // one does worse: the hash and the sealing run on the sender's one thread (README).
  const c = cipherCost(), cores = navigator.hardwareConcurrency;
  const copy = Math.min(socat.cpuMs, deno?.cpuMs ?? Infinity) / sizeMiB;
  const floor = c.seal + c.open + c.hash + copy;
  const ceiling = cores / floor * 1000 * 2 ** 20 / 1e6;
  console.log(
    `  ceiling for a sealed copy whose work spread evenly over this host's cores: ` +
      `${ceiling.toFixed(0)} MB/s, ` +
      `${(ceiling / mbps(socat.ms)).toFixed(2)}× socat (seal ${c.seal.toFixed(2)} + open ` +
      `${c.open.toFixed(2)} + SHA-256 ${c.hash.toFixed(2)} + the cheaper plain copy's ` +
      `${copy.toFixed(2)} ms CPU/MiB, over ${cores} cores shared by both ends)`,
  );
}
for (const [name, c] of [["", chat], [" (sealed)", sealed]] as const) {
  if (c.latency.length === 0) continue;
  console.log(
    `  chat latency during the transfer${name} (ms, incl. JSON pipes): ` +
      `p50 ${pct(c.latency, 0.5).toFixed(1)}, p99 ${pct(c.latency, 0.99).toFixed(1)}, ` +
      `max ${Math.max(...c.latency).toFixed(1)}`,
  );
}
if (!chat.ok || !sealed.ok || !sealedNode.ok) Deno.exit(1);
