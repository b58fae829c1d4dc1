/** Seeded randomness for the simulator: its own draws, and WebCrypto's for the peers. */
import { type Rng, seededRng } from "../../lib/rng.ts";

export type { Rng };

export function rngFor(seed: number): Rng {
  return seededRng(seed);
}

export function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}

export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)];
}

const realRandom = crypto.getRandomValues.bind(crypto);

/** Makes crypto.getRandomValues draw from `rng` (epochs, PAKE scalars, transfer ids, salts), so
 * a seed replays bit for bit; the peers take their randomness from WebCrypto, not from an effect,
 * and every part of both peers runs in this one process. `restore()` puts the real one back. */
export function seedWebCrypto(rng: Rng): { restore(): void } {
  const seeded = <T extends ArrayBufferView | null>(array: T): T => {
    if (!array) return array;
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rng() * 256);
    return array;
  };
  crypto.getRandomValues = seeded as typeof crypto.getRandomValues;
  return { restore: () => crypto.getRandomValues = realRandom as typeof crypto.getRandomValues };
}
