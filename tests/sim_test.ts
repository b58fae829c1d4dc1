/** The whole-peer simulator in CI: the kept regression scenarios of issue 18, and a fixed budget
 * of random whole scenarios (tests/sim/). A failure prints its seed and the replay command. */
import assert from "node:assert/strict";
import { REGRESSIONS } from "./sim/regressions.ts";
import { runScenario } from "./sim/run.ts";
import { World } from "./sim/world.ts";
import { rngFor } from "./sim/random.ts";

for (const [name, make] of Object.entries(REGRESSIONS)) {
  Deno.test({
    name: `sim regression: ${name}`,
    async fn() {
      const r = await runScenario(make());
      assert.deepEqual(r.violations, [], `replay: deno task sim --regressions --trace`);
    },
  });
}

Deno.test("sim world: what starts outside an event settles at that instant, not at the next event", async () => {
  const world = new World(rngFor(1));
  const seen: string[] = [];
  world.at(5_000, () => seen.push(`event at ${world.now}`));
  // As run.ts starts a process at the settle: its first microtasks (arming its timers) must run
  // now, or its HELLO retries wait for whatever event comes next (seed 847: 10 s).
  queueMicrotask(() => seen.push(`microtask at ${world.now}`));
  await world.run(10_000);
  assert.deepEqual(seen, ["microtask at 0", "event at 5000"]);
});

Deno.test("sim world: a long chain of awaits an event sets off ends at that event's instant", async () => {
  const world = new World(rngFor(1));
  const seen: string[] = [];
  world.at(10, async () => {
    // A folder listing is such a chain (an async generator); it used to end at the next event.
    for (let i = 0; i < 1_000; i++) await null;
    seen.push(`chain ended at ${world.now}`);
  });
  world.at(500, () => seen.push(`next event at ${world.now}`));
  await world.run(1_000);
  assert.deepEqual(seen, ["chain ended at 10", "next event at 500"]);
});
