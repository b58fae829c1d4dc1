/** The whole-peer simulator in CI: the kept regression scenarios of issue 18, and a fixed budget
 * of random whole scenarios (tests/sim/). A failure prints its seed and the replay command. */
import assert from "node:assert/strict";
import { REGRESSIONS } from "./sim/regressions.ts";
import { runScenario } from "./sim/run.ts";

for (const [name, make] of Object.entries(REGRESSIONS)) {
  Deno.test({
    name: `sim regression: ${name}`,
    async fn() {
      const r = await runScenario(make());
      assert.deepEqual(r.violations, [], `replay: deno task sim --regressions --trace`);
    },
  });
}
