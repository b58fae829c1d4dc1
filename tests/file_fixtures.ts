/** Test files: seeded pseudo-random content, and the SHA-256 of a file on disk. */
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
