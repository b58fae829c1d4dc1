import assert from "node:assert/strict";
import { Pacer } from "../lib/protocol/arq/pacer.ts";

Deno.test("a fresh bucket lets a burst out at once, then the next datagram waits for its bytes", () => {
  const p = new Pacer(1, 1000); // 1 byte per ms, 1,000 bytes of burst
  p.refill(0);
  assert.ok(p.ready);
  p.spend(600);
  assert.ok(p.ready, "400 bytes left");
  p.spend(600);
  assert.ok(!p.ready, "200 bytes owed");
  // The debt of 200 bytes takes 200 ms at 1 byte/ms (plus the epsilon that absorbs rounding).
  assert.equal(p.readyAt(), 200.000001);
  p.refill(199.9);
  assert.ok(!p.ready);
  p.refill(p.readyAt());
  assert.ok(p.ready);
});

Deno.test("a timer set for readyAt always finds the bucket ready, whatever the rate", () => {
  for (const rate of [0.3, 1 / 7, 125, 23_200]) {
    const p = new Pacer(rate, 1200);
    p.refill(3);
    for (let i = 0; i < 50; i++) {
      while (p.ready) p.spend(1157);
      const at = p.readyAt();
      assert.ok(at > 3, `rate ${rate}`);
      p.refill(at);
      assert.ok(p.ready, `rate ${rate}, round ${i}`);
    }
  }
});

Deno.test("an idle spell refills the bucket only up to its burst", () => {
  const p = new Pacer(10, 1000);
  p.refill(0);
  p.spend(1000);
  assert.ok(!p.ready);
  p.refill(10_000);
  p.spend(999);
  assert.ok(p.ready, "1 byte left of the 1,000 burst");
  p.spend(2);
  assert.ok(!p.ready, "the hour idle gave no more than the burst");
});

Deno.test("paced at a rate, 100 datagrams take as long as their bytes at that rate beyond the burst", () => {
  const p = new Pacer(125, 2400); // 1 Mbit/s, two datagrams of burst
  let now = 0;
  p.refill(now);
  const sent: number[] = [];
  for (let i = 0; sent.length < 100 && i < 1000; i++) {
    p.refill(now);
    if (p.ready) {
      p.spend(1250);
      sent.push(now);
    } else now = p.readyAt();
  }
  // Two go at once (the second takes the balance to -100 bytes), the third once those 100 bytes
  // are back (0.8 ms), then one every 1,250 bytes at 125 bytes/ms: 10 ms apart.
  const ms = (t: number) => Math.round(t * 1000) / 1000;
  assert.deepEqual(sent.slice(0, 4).map(ms), [0, 0, 0.8, 10.8]);
  assert.equal(ms(sent[99]), 970.8);
});

Deno.test("lowering the burst takes away tokens beyond the new burst at once", () => {
  const p = new Pacer(1, 1000);
  p.refill(0);
  p.configure(1, 100);
  p.spend(100);
  assert.ok(!p.ready);
  assert.equal(p.readyAt(), 0.000001);
});
