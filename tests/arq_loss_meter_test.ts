import assert from "node:assert/strict";
import { LossMeter, mayCopy, type RedundancyBudget } from "../lib/protocol/arq/loss_meter.ts";
import { LOSS_EWMA, LOSS_GRACE, LOSS_PRIOR, LOSS_WINDOW } from "../lib/protocol/constants.ts";

Deno.test("before a window is measured the meter assumes LOSS_PRIOR; a clean first window replaces it with 0", () => {
  const m = new LossMeter();
  for (let pn = 1; pn <= LOSS_WINDOW; pn++) m.note(pn, pn);
  assert.equal(m.loss, LOSS_PRIOR);
  m.note(LOSS_WINDOW + 1, 100); // a later window begins; the first is measured after the grace
  m.note(LOSS_WINDOW + 2, 100 + LOSS_GRACE);
  assert.equal(m.loss, 0);
});

Deno.test("one datagram missing from each window of eight measures one eighth", () => {
  const m = new LossMeter();
  let t = 0;
  for (let pn = 0; pn < 800; pn++) if (pn % LOSS_WINDOW !== 3) m.note(pn, t += 10);
  assert.ok(Math.abs(m.loss - 1 / LOSS_WINDOW) < 1e-9, `loss ${m.loss}`);
});

Deno.test("a datagram overtaken within the grace still counts as received", () => {
  const m = new LossMeter();
  const order = [0, 1, 2, 4, 5, 6, 7, 8, 9, 3]; // 3 arrives after the next window began
  order.forEach((pn, i) => m.note(pn, i));
  m.note(10, 10 + LOSS_GRACE);
  assert.equal(m.loss, 0);
});

Deno.test("each window is measured the grace after the next one began, window after window", () => {
  const m = new LossMeter();
  // Window 0 whole, window 1 missing half; each measured LOSS_GRACE after the next began.
  for (let pn = 0; pn < LOSS_WINDOW; pn++) m.note(pn, 0);
  for (let pn = LOSS_WINDOW; pn < 1.5 * LOSS_WINDOW; pn++) m.note(pn, 10);
  m.note(1.5 * LOSS_WINDOW, 10 + LOSS_GRACE);
  assert.equal(m.loss, 0, "window 0 measured");
  m.note(2 * LOSS_WINDOW, 100); // window 2 begins: window 1 is measured at 100 + LOSS_GRACE
  m.note(2 * LOSS_WINDOW + 1, 100 + LOSS_GRACE - 1);
  assert.equal(m.loss, 0, "window 1 is still in its grace");
  m.note(2 * LOSS_WINDOW + 2, 100 + LOSS_GRACE);
  assert.ok(Math.abs(m.loss - LOSS_EWMA * 0.375) < 1e-9, `loss ${m.loss}`);
});

Deno.test("packet numbers across 2^32 are measured like any others", () => {
  const m = new LossMeter();
  const start = 2 ** 32 - 2 * LOSS_WINDOW; // two clean windows, then the wrap and 1 in 8 lost
  for (let i = 0; i < 600; i++) {
    if (i < 2 * LOSS_WINDOW || i % LOSS_WINDOW !== 0) m.note((start + i) >>> 0, i * 100);
  }
  assert.ok(Math.abs(m.loss - 1 / LOSS_WINDOW) < 0.001, `loss ${m.loss}`);
});

const base: RedundancyBudget = {
  lossOut: 0.05,
  congested: false,
  flightBytes: 1000,
  window: 10_000,
  backlog: false,
};

Deno.test("copies go for random loss on an uncongested path, within the window", () => {
  assert.ok(mayCopy(base, 500));
  assert.ok(mayCopy(base, 9000));
  assert.ok(!mayCopy(base, 9001), "past the window");
});

Deno.test("no copies under congestion, ahead of waiting data, or on a clean link", () => {
  assert.ok(!mayCopy({ ...base, congested: true }, 100));
  assert.ok(!mayCopy({ ...base, backlog: true }, 100));
  assert.ok(!mayCopy({ ...base, lossOut: 0 }, 100));
  assert.ok(!mayCopy({ ...base, lossOut: 0.004 }, 100));
  assert.ok(mayCopy({ ...base, lossOut: 0.005 }, 100));
});
