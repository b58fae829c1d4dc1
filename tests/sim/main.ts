/**
 * `deno task sim --seeds N [--from S]`: runs N random whole scenarios; each failure prints its
 * seed, a one-line replay command and the reason. `--seed S --trace` replays one and prints both
 * peers' events with virtual timestamps. `--regressions` runs the kept bug scenarios. With
 * `--accept ask` both peers ask about every offer and a simulated user answers (proc.ts).
 */
import { generate } from "./scenario.ts";
import { runScenario } from "./run.ts";
import { REGRESSIONS } from "./regressions.ts";

export interface Summary {
  runs: number;
  failed: number[];
  ms: number;
}

/** Runs seeds from..from+count-1; with `budgetMs`, stops once it is spent and at least
 * `minRuns` have run. */
export async function runSeeds(
  o: {
    from: number;
    count: number;
    budgetMs?: number;
    minRuns?: number;
    print?: (s: string) => void;
    accept?: "ask";
  },
): Promise<Summary> {
  const start = performance.now();
  const summary: Summary = { runs: 0, failed: [], ms: 0 };
  for (let seed = o.from; seed < o.from + o.count; seed++) {
    const spent = o.budgetMs !== undefined && performance.now() - start > o.budgetMs;
    if (spent && summary.runs >= (o.minRuns ?? 0)) break;
    const r = await runScenario(generate(seed, { accept: o.accept }));
    summary.runs++;
    if (r.violations.length) {
      summary.failed.push(seed);
      o.print?.(failureText(seed, r.violations, o.accept));
    }
  }
  summary.ms = performance.now() - start;
  return summary;
}

export function failureText(seed: number, violations: string[], accept?: "ask"): string {
  return `seed ${seed} failed:\n  ${violations.slice(0, 5).join("\n  ")}\n` +
    `  replay: deno task sim --seed ${seed}${accept ? " --accept ask" : ""} --trace`;
}

if (import.meta.main) {
  const args = Deno.args;
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const print = (s: string) => console.log(s);
  const accept = flag("--accept") === "ask" ? "ask" : undefined;
  if (args.includes("--regressions")) {
    let bad = 0;
    for (const [name, make] of Object.entries(REGRESSIONS)) {
      const r = await runScenario(make());
      if (args.includes("--trace")) print(r.trace.join("\n"));
      print(
        `${r.violations.length ? "FAIL" : "ok  "} ${name}${
          r.violations.length ? "\n  " + r.violations.join("\n  ") : ""
        }`,
      );
      if (r.violations.length) bad++;
    }
    Deno.exit(bad ? 1 : 0);
  }
  const one = flag("--seed");
  if (one !== undefined) {
    const r = await runScenario(generate(Number(one), { accept }));
    if (args.includes("--trace")) print(r.trace.join("\n"));
    print(
      r.violations.length ? failureText(Number(one), r.violations, accept) : `seed ${one} passed`,
    );
    Deno.exit(r.violations.length ? 1 : 0);
  }
  const count = Number(flag("--seeds") ?? 100), from = Number(flag("--from") ?? 1);
  const s = await runSeeds({ from, count, print, accept });
  print(`${s.runs} scenarios in ${(s.ms / 1000).toFixed(1)} s: ${s.failed.length} failed`);
  Deno.exit(s.failed.length ? 1 : 0);
}
