/**
 * The `--sim` impairment model: what netem would do to a datagram, decided by a seeded RNG.
 * Pure: `apply` says when each copy would arrive; the caller schedules it. Tests run the same
 * model under virtual time.
 */
import { type Rng, seededRng } from "../rng.ts";

export interface ImpairSpec {
  /** Probabilities in [0, 1]. */
  loss: number;
  dup: number;
  corrupt: number;
  reorder: number;
  /** Milliseconds. */
  delay: number;
  jitter: number;
  seed: number;
}

export const NO_IMPAIRMENT: ImpairSpec = {
  loss: 0,
  dup: 0,
  corrupt: 0,
  reorder: 0,
  delay: 0,
  jitter: 0,
  seed: 1,
};

/** How long a reordered datagram is held when there is no delay for it to skip. */
const REORDER_HOLD_MS = 5;

const PERCENT_KEYS = ["loss", "dup", "corrupt", "reorder"] as const;
const TIME_KEYS = ["delay", "jitter"] as const;

/** Parses "loss=20%,delay=40ms,jitter=20ms,dup=5%,corrupt=5%,reorder=10%,seed=7". */
export function parseSim(text: string): ImpairSpec | string {
  const spec = { ...NO_IMPAIRMENT, seed: Date.now() % 2 ** 31 };
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z]+)=(.+)$/.exec(part);
    if (!m) return `Cannot parse --sim: expected key=value, got "${part}"`;
    const [, key, value] = m;
    if ((PERCENT_KEYS as readonly string[]).includes(key)) {
      const v = /^(\d+(?:\.\d+)?)%?$/.exec(value);
      if (!v || Number(v[1]) > 100) {
        return `Cannot parse --sim: ${key} must be 0-100%, got "${value}"`;
      }
      spec[key as typeof PERCENT_KEYS[number]] = Number(v[1]) / 100;
    } else if ((TIME_KEYS as readonly string[]).includes(key)) {
      const v = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
      if (!v) return `Cannot parse --sim: ${key} must be a duration like 40ms, got "${value}"`;
      spec[key as typeof TIME_KEYS[number]] = Number(v[1]) * (v[2] === "s" ? 1000 : 1);
    } else if (key === "seed") {
      if (!/^\d+$/.test(value)) return `Cannot parse --sim: seed must be a whole number`;
      spec.seed = Number(value) >>> 0;
    } else {
      return `Cannot parse --sim: unknown key "${key}"`;
    }
  }
  return spec;
}

export function describeSim(s: ImpairSpec): string {
  const pct = (x: number) => `${+(x * 100).toFixed(2)}%`;
  return `loss=${pct(s.loss)},delay=${s.delay}ms,jitter=${s.jitter}ms,dup=${pct(s.dup)},` +
    `corrupt=${pct(s.corrupt)},reorder=${pct(s.reorder)},seed=${s.seed}`;
}

export interface Arrival {
  at: number;
  data: Uint8Array;
}

export class Impairment {
  #spec: ImpairSpec;
  #rng: Rng;
  counts = { dropped: 0, duplicated: 0, corrupted: 0, reordered: 0 };

  constructor(spec: ImpairSpec) {
    this.#spec = spec;
    this.#rng = seededRng(spec.seed);
  }

  apply(data: Uint8Array, now: number): Arrival[] {
    const s = this.#spec;
    const r = this.#rng;
    if (r() < s.loss) {
      this.counts.dropped++;
      return [];
    }
    const copies = r() < s.dup ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    const out: Arrival[] = [];
    for (let i = 0; i < copies; i++) {
      let bytes = data;
      if (r() < s.corrupt && data.length > 0) {
        bytes = data.slice();
        const bit = Math.floor(r() * data.length * 8);
        bytes[bit >> 3] ^= 1 << (bit & 7);
        this.counts.corrupted++;
      }
      let delay = Math.max(0, s.delay + (r() * 2 - 1) * s.jitter);
      if (r() < s.reorder) {
        delay = s.delay > 0 ? 0 : REORDER_HOLD_MS;
        this.counts.reordered++;
      }
      out.push({ at: now + delay, data: bytes });
    }
    return out;
  }
}
