/**
 * What happens in one simulated run: the two peers' passphrases and disks, the weather, and a
 * timeline of user actions and faults. `generate(seed)` draws one at random; the regression
 * scenarios (regressions.ts) are written out by hand.
 */
import { CALM, type Weather } from "./net.ts";
import { chance, int, pick, type Rng, rngFor } from "./random.ts";

export type Who = "A" | "B";

export type Action =
  | { kind: "send"; who: Who; text: string }
  /** Offers files (their contents are made at the start of the run). */
  | { kind: "file"; who: Who; path: string }
  | { kind: "crash" | "power" | "quit" | "freeze" | "thaw" | "start"; who: Who }
  | { kind: "partition" | "heal" }
  | { kind: "weather"; weather: Weather }
  /** The mount has `room` bytes left from now on (the disk fills). */
  | { kind: "fill"; who: Who; mount: "/state" | "/downloads"; room: number }
  /** The next `count` writes on the mount fail with EIO. */
  | { kind: "eio"; who: Who; mount: "/state" | "/downloads"; count: number };

export interface Timed {
  at: number;
  action: Action;
}

export interface SourceFile {
  who: Who;
  path: string;
  size: number;
}

export interface Scenario {
  seed: number;
  label: string;
  secrets: [string | undefined, string | undefined];
  stateBytes: number;
  downloadBytes: number;
  weather: Weather;
  files: SourceFile[];
  timeline: Timed[];
  /** Faults and users act until then; then the network heals, every fault clears, both peers
   * run, and the checks wait `settleMs` for everything to arrive. */
  activeMs: number;
  settleMs: number;
  /** Both peers run with --accept ask, and a simulated user answers every offer (proc.ts); the
   * default is all, as in JSON mode. */
  accept?: "ask";
}

export const SETTLE_MS = 60_000;

/** One random scenario; `accept: "ask"` runs the same one with a user answering every offer. */
export function generate(seed: number, o: { accept?: "ask" } = {}): Scenario {
  const rng = rngFor(seed ^ 0x5eed);
  const activeMs = int(rng, 5_000, 40_000);
  const mode = pick(rng, ["none", "none", "same", "same", "same", "one", "different"] as const);
  const secrets: Scenario["secrets"] = mode === "none"
    ? [undefined, undefined]
    : mode === "same"
    ? ["correct horse", "correct horse"]
    : mode === "one"
    ? (chance(rng, 0.5) ? ["correct horse", undefined] : [undefined, "correct horse"])
    : ["correct horse", "battery staple"];
  const weather = chance(rng, 0.3) ? CALM : {
    loss: pick(rng, [0, 0.01, 0.05, 0.2]),
    duplicate: pick(rng, [0, 0.01, 0.05]),
    corrupt: pick(rng, [0, 0.001, 0.01]),
    delayMs: pick(rng, [0.5, 5, 30, 100]),
    jitterMs: pick(rng, [0, 2, 20]),
    reorder: pick(rng, [0, 0.02, 0.1]),
  };
  const files: SourceFile[] = [];
  const timeline: Timed[] = [];
  const add = (at: number, action: Action) => timeline.push({ at, action });
  const who = (): Who => chance(rng, 0.6) ? "A" : "B";
  const counts = { A: 0, B: 0 };
  const stateBytes = chance(rng, 0.1) ? int(rng, 4_000, 40_000) : 2 ** 30;
  const downloadBytes = chance(rng, 0.15) ? int(rng, 50_000, 600_000) : 2 ** 30;
  // Start: both at once, one late, or one a moment later.
  add(0, { kind: "start", who: "A" });
  add(chance(rng, 0.3) ? int(rng, 0, 5_000) : 0, { kind: "start", who: "B" });
  const events = int(rng, 3, 40);
  for (let i = 0; i < events; i++) {
    const at = rng() * activeMs;
    const w = who();
    const r = rng();
    if (r < 0.55) {
      const long = chance(rng, 0.1);
      const n = ++counts[w];
      const body = long ? "x".repeat(int(rng, 1_000, 30_000)) : "hello ".repeat(int(rng, 0, 10));
      add(at, { kind: "send", who: w, text: `${w}#${n} ${body}` });
    } else if (r < 0.65) {
      const size = pick(rng, [0, 1, 1000, int(rng, 1, 300_000), int(rng, 1, 3_000_000)]);
      const path = `/home/${w}/f${files.length}.bin`;
      files.push({ who: w, path, size });
      add(at, { kind: "file", who: w, path });
    } else if (r < 0.68) {
      const dir = `/home/${w}/d${files.length}`;
      // Now and then a big folder, which must flow a few files at a time (bug 3).
      const k = int(rng, 1, 12) === 12 ? 150 : int(rng, 1, 11);
      for (let j = 0; j < k; j++) {
        files.push({ who: w, path: `${dir}/${j}.txt`, size: int(rng, 0, 5000) });
      }
      add(at, { kind: "file", who: w, path: dir });
    } else if (r < 0.7) {
      // Two files at once that fit a small downloads disk one at a time, not together (bug 5).
      const size = downloadBytes < 2 ** 30
        ? Math.floor(downloadBytes * 0.6)
        : int(rng, 1, 2_000_000);
      for (const n of [0, 1]) {
        const path = `/home/${w}/p${files.length}-${n}.bin`;
        files.push({ who: w, path, size });
        add(at, { kind: "file", who: w, path });
      }
    } else if (r < 0.74) {
      add(at, { kind: "crash", who: w });
      add(at + int(rng, 10, 5_000), { kind: "start", who: w });
    } else if (r < 0.77) {
      add(at, { kind: "quit", who: w });
      add(at + int(rng, 10, 5_000), { kind: "start", who: w });
    } else if (r < 0.79) {
      add(at, { kind: "power", who: w });
      add(at + int(rng, 10, 5_000), { kind: "start", who: w });
    } else if (r < 0.82) {
      add(at, { kind: "freeze", who: w });
      add(at + int(rng, 10, 20_000), { kind: "thaw", who: w });
    } else if (r < 0.86) {
      add(at, { kind: "partition" });
      add(at + int(rng, 100, 20_000), { kind: "heal" });
    } else if (r < 0.89) {
      add(at, {
        kind: "fill",
        who: w,
        mount: chance(rng, 0.5) ? "/state" : "/downloads",
        room: int(rng, 0, 3000),
      });
    } else if (r < 0.91) {
      add(at, {
        kind: "eio",
        who: w,
        mount: chance(rng, 0.5) ? "/state" : "/downloads",
        count: int(rng, 1, 3),
      });
    }
  }
  timeline.sort((a, b) => a.at - b.at);
  // Numbered in the order they are typed, which the checks hold the receiver to.
  const typed = { A: 0, B: 0 };
  for (const t of timeline) {
    const a = t.action;
    if (a.kind === "send") {
      a.text = `${a.who}#${++typed[a.who]}${a.text.slice(a.text.indexOf(" "))}`;
    }
  }
  return {
    seed,
    label: `random (${mode} passphrase${o.accept ? ", --accept ask" : ""})`,
    ...(o.accept ? { accept: o.accept } : {}),
    secrets,
    stateBytes,
    downloadBytes,
    weather,
    files,
    timeline,
    activeMs,
    settleMs: SETTLE_MS,
  };
}

/** The bytes of a source file: seeded by its path, so they do not depend on the order drawn. */
export function contentOf(seed: number, f: SourceFile): Uint8Array {
  let h = seed >>> 0;
  for (const c of f.path) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const rng: Rng = rngFor(h);
  const bytes = new Uint8Array(f.size);
  for (let i = 0; i < bytes.length; i += 4) {
    const v = rng() * 2 ** 32 >>> 0;
    bytes[i] = v, bytes[i + 1] = v >> 8, bytes[i + 2] = v >> 16, bytes[i + 3] = v >> 24;
  }
  return bytes;
}
