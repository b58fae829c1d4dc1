/** Test files: seeded pseudo-random content, and the SHA-256 of a file on disk. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CHUNK } from "../lib/net/file_stream.ts";
import { seededRng } from "../lib/rng.ts";
import type { ChatProc, Json } from "./proc.ts";

export const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 5);

/** Writes `size` pseudo-random bytes (seeded), 1 MiB at a time. */
export async function makeFile(path: string, size: number, seed = SEED): Promise<string> {
  const rng = seededRng(seed);
  const block = new Uint8Array(Math.min(size, CHUNK) || 1);
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let left = size; left > 0;) {
    const n = Math.min(block.length, left);
    for (let i = 0; i < n; i += 4) {
      const r = (rng() * 2 ** 32) >>> 0;
      block[i] = r, block[i + 1] = r >> 8, block[i + 2] = r >> 16, block[i + 3] = r >> 24;
    }
    let chunk = block.subarray(0, n);
    while (chunk.length) chunk = chunk.subarray(await f.write(chunk));
    left -= n;
  }
  f.close();
  return await sha256(path);
}

export async function sha256(path: string): Promise<string> {
  const h = createHash("sha256");
  const f = await Deno.open(path);
  const buf = new Uint8Array(CHUNK);
  for (let n; (n = await f.read(buf)) !== null;) h.update(buf.subarray(0, n));
  f.close();
  return h.digest("hex");
}

/** Two running peers started from their sides, and a cleanup that stops both and removes `root`. */
export interface RunningPair {
  a: ChatProc;
  b: ChatProc;
  cleanup(): Promise<void>;
}

/** Starts both sides and waits until A sees B online. */
export async function startPair<S>(
  { root, sides, start }: { root: string; sides: [S, S]; start: (side: S) => ChatProc },
): Promise<RunningPair> {
  const a = start(sides[0]), b = start(sides[1]);
  const cleanup = async () => {
    a.kill();
    b.kill();
    await a.exit();
    await b.exit();
    await Deno.remove(root, { recursive: true });
  };
  await a.until(() => a.of("peer").some((e: Json) => e.state === "online"), "peer online");
  return { a, b, cleanup };
}

/** Latencies (ms) of chat lines sent while a file is on its way. */
export interface ChatDuring {
  n: number;
  p50: number;
  p99: number;
}

/** From `from`, a line "during i" every 20 ms (at most `max`) until `to` has a file; waits for
 * them all at `to`, asserts they came in order and exactly, and returns their latencies. */
export async function chatDuringTransfer(
  { from, to, max }: { from: ChatProc; to: ChatProc; max: number },
): Promise<ChatDuring> {
  const sentAt: number[] = [];
  for (let i = 0; i < max && to.of("file_received").length === 0; i++) {
    sentAt[i] = performance.now();
    await from.command({ type: "send", text: `during ${i}` });
    await new Promise((r) => setTimeout(r, 20));
  }
  const n = sentAt.length;
  await to.until(() => to.of("message").length === n, "the lines sent during the transfer");
  const lat = to.of("message").map((m: Json, i: number) => {
    assert.equal(m.text, `during ${i}`);
    return to.arrivedAt[to.lines.findIndex((l) => l.includes(`"during ${i}"`))] - sentAt[i];
  }).sort((x: number, y: number) => x - y);
  return { n, p50: lat[n >> 1], p99: lat[Math.min(n - 1, Math.ceil(n * 0.99) - 1)] };
}

/** The size of the one `.part` of a file named `base` in `dir` ("base.<id>.part"). */
export async function partSize(dir: string, base: string): Promise<number> {
  const parts = (await Array.fromAsync(Deno.readDir(dir))).filter((e) =>
    e.name.startsWith(`${base}.`) && e.name.endsWith(".part")
  );
  if (parts.length !== 1) {
    throw new Error(`Expected one .part of ${base}: ${parts.map((e) => e.name)}`);
  }
  return (await Deno.stat(`${dir}/${parts[0].name}`)).size;
}
