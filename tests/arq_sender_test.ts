import assert from "node:assert/strict";
import { SimNet } from "./sim.ts";
import { NO_IMPAIRMENT } from "../lib/net/impair.ts";

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 7);

Deno.test("on a dark path the sender backs off to under two datagrams a second within 10 s (the issue's dark-path goal), and the backlog follows the peer's return", () => {
  let fromA: number[] = [];
  const n = new SimNet({
    impair: { ...NO_IMPAIRMENT, seed: SEED, delay: 1 },
    wire: (from) => {
      if (from === "a") fromA.push(n.now);
    },
  });
  n.send("a", "first");
  assert.ok(n.run(() => n.a.delivered.length === 1, 5_000), `seed ${SEED}`);
  n.up.b = false; // b hears nothing from now on: the path is dark
  const darkAt = n.now;
  for (let i = 0; i < 50; i++) n.send("a", `dark${i}`);
  fromA = [];
  n.run(() => false, 40_000);
  const late = fromA.filter((t) => t >= darkAt + 10_000);
  const span = (n.now - (darkAt + 10_000)) / 1000;
  assert.ok(late.length <= 2 * span, `${late.length} datagrams in ${span} s, seed ${SEED}`);
  n.up.b = true;
  const back = n.now;
  n.send("b", "I am back");
  assert.ok(n.run(() => n.a.delivered.length === 51, 5_000), `seed ${SEED}`);
  assert.ok(n.now - back < 50, `backlog took ${n.now - back} ms`);
  assert.deepEqual(n.b.received.slice(-50), Array.from({ length: 50 }, (_, i) => `dark${i}`));
});
