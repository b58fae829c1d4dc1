/** The terminal at 40, 80 and 120 columns, with CJK and emoji: exact output. */
import assert from "node:assert/strict";
import { keys, message, setup } from "./terminal_fixture.ts";
import type { ChatEvent } from "../lib/events.ts";
import { formatBar, formatStats } from "../lib/ui/format.ts";
import { columns } from "../lib/ui/width.ts";

const CJK = "日本語のテストです、よろしくお願いします"; // 20 wide characters, 40 columns
const PARTY = "🎉🎉🎉 party time 🎉🎉🎉"; // 6 emoji (12 columns) + 12
const HEAD = "[09:05:03] you #5: "; // 19 columns
const PROMPT = "\r\x1b[2K● > \r\x1b[4C";

/** The ✓ rewrite: up `up` rows, the mark's row again from its start (`before`), the tick, back
 * down. */
const tick = (up: number, before: string) =>
  `\r\x1b[2K\x1b[${up}A\r${before}✓\x1b[K\x1b[${up}B\r` + PROMPT;

for (
  const [cols, cjkTick, partyTick] of [
    // 40: 19 + 10 wide (39), the 11th moves whole to row 2: 10 wide (20), " …" → mark at 22.
    [40, tick(1, `${CJK.slice(10)} `), tick(1, "🎉🎉 ")],
    // (The emoji line at 40: the 5th emoji would need columns 40-41, so it moves to row 2, where
    // two emoji and " " put the mark at column 6.)
    // 80: 19 + 40 + " " = 60 → mark at column 61, on the first row.
    [80, tick(1, `${HEAD}${CJK} `), tick(1, `${HEAD}${PARTY} `)],
    [120, tick(1, `${HEAD}${CJK} `), tick(1, `${HEAD}${PARTY} `)],
  ] as const
) {
  Deno.test(`at ${cols} columns, a CJK line keeps its whole text and its tick lands on its mark`, () => {
    const t = setup({ columns: cols });
    t.ui.onEvent({ type: "sent", id: 5, text: CJK });
    assert.equal(t.take(), `\r\x1b[2K${HEAD}${CJK} …\r\n` + PROMPT);
    t.ui.onEvent({ type: "delivered", id: 5 });
    assert.equal(t.take(), cjkTick);
  });

  Deno.test(`at ${cols} columns, an emoji line's tick lands after its last emoji`, () => {
    const t = setup({ columns: cols });
    t.ui.onEvent({ type: "sent", id: 5, text: PARTY });
    t.take();
    t.ui.onEvent({ type: "delivered", id: 5 });
    assert.equal(t.take(), partyTick);
  });
}

Deno.test("the 40-column emoji line wraps at 40 and its mark sits on the second row", () => {
  // The 5th emoji moves whole to the second row (one column of the first stays blank).
  const t = setup({ columns: 40 });
  t.ui.onEvent({ type: "sent", id: 5, text: PARTY });
  t.take();
  t.ui.onEvent(message("next"));
  t.take();
  t.ui.onEvent({ type: "delivered", id: 5 });
  assert.equal(t.take(), tick(2, "🎉🎉 "));
});

Deno.test("a skin-toned emoji line's tick rewrites its whole row, whatever width the terminal draws", () => {
  // 👍🏽 is one grapheme of two columns by Unicode; some terminals draw it as 👍 and a swatch
  // (four). A jump to a computed column would then land inside the text; the row is rewritten.
  const t = setup({ columns: 80 });
  t.ui.onEvent({ type: "sent", id: 5, text: "👍🏽 sure" });
  assert.equal(t.take(), `\r\x1b[2K${HEAD}👍🏽 sure …\r\n` + PROMPT);
  t.ui.onEvent({ type: "delivered", id: 5 });
  assert.equal(t.take(), tick(1, `${HEAD}👍🏽 sure `));
});

const progress = (name: string): ChatEvent & { type: "progress" } => ({
  type: "progress",
  id: "f1",
  name,
  direction: "receive",
  bytes: 3 * 2 ** 20,
  size: 12 * 2 ** 20,
  speed: 2 ** 20,
  eta: 9,
});

Deno.test("progress bars fit 40, 80 and 120 columns exactly, dropping speed and ETA when narrow", () => {
  const name = "休暇の写真🎉アルバム.tar";
  const bars = new Map([
    [40, "↓ …🎉アルバム.tar [████░░░░░░░░░░░░] 25%"],
    [50, "↓ …アルバム.tar [████░░░░░░░░░░░] 25% 3 MiB/12 MiB"],
    [80, "↓ …写真🎉アルバム.tar [█████░░░░░░░░░░░░░░░░] 25% 3 MiB/12 MiB 1 MiB/s ETA 00:09"],
    [
      120,
      "↓ 休暇の写真🎉アルバム.tar [██████████████░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] " +
      "25% 3 MiB/12 MiB 1 MiB/s ETA 00:09",
    ],
  ]);
  for (const [cols, bar] of bars) {
    assert.equal(formatBar(progress(name), cols), bar, `at ${cols}`);
    assert.equal(columns(bar), cols, `at ${cols}`);
  }
  for (let cols = 1; cols <= 200; cols++) {
    assert.ok(columns(formatBar(progress(name), cols)) <= cols, `at ${cols}`);
  }
  // The screen leaves the last column free, so the bar never wraps.
  const t = setup({ columns: 41 });
  t.ui.onEvent(progress(name));
  assert.equal(t.take(), `\r\x1b[2K${bars.get(40)}\r\n` + PROMPT);
});

Deno.test("a resize redraws the bar at the new width", () => {
  let cols = 81;
  const t = setup({ columns: () => cols });
  t.ui.onEvent(progress("a.bin"));
  t.take();
  cols = 41;
  t.ui.redraw();
  const out = t.take();
  assert.equal(
    out,
    "\r\x1b[2K\x1b[1A\r\x1b[J" + `\r\x1b[2K${formatBar(progress("a.bin"), 40)}\r\n` + PROMPT,
  );
});

Deno.test("the input line measures CJK and emoji in columns: the cursor and the scroll", () => {
  const t = setup({ columns: 40 });
  t.ui.onKeys(keys("日本🎉"));
  // Prompt "● > " is 4 columns, the text 6: the cursor goes 10 right.
  assert.equal(t.take(), "\r\x1b[2K● > 日本🎉\r\x1b[10C");
  t.ui.onKeys(keys("\x1b[D"));
  assert.equal(t.take(), "\r\x1b[2K● > 日本🎉\r\x1b[8C");
  // 40 - 4 - 1 = 35 columns of room: 20 wide characters scroll so the cursor stays inside.
  t.ui.onKeys(keys("\x1b[F\x15" + CJK));
  assert.equal(t.take(), "\r\x1b[2K● > " + CJK.slice(3) + "\r\x1b[38C");
  // A flag is one cursor step; a combining mark joins its letter.
  t.ui.onKeys(keys("\x15🇯🇵e\u0301\x1b[D\x7f"));
  assert.equal(t.take(), "\r\x1b[2K● > e\u0301\r\x1b[4C");
});

Deno.test("/stats wraps at word boundaries at 40 columns", () => {
  const t = setup({ columns: 40 });
  t.ui.onKeys(keys("/stats\r"));
  const lines = t.take().split("\r\n").map((l) => l.replace(/^[^]*\x1b\[2K/, "")).filter(Boolean);
  assert.deepEqual(lines.slice(0, 6), [
    "RTT 0.0 ms (±0.0), RTO 200.0 ms, in",
    "flight 0, queued 0, unacknowledged",
    "messages 0",
    "retransmissions 0 (fast 0, timeouts 0,",
    "tail probes 0), redundant datagrams 0,",
    "bundled copies 0",
  ]);
  for (const l of lines) assert.ok(columns(l) <= 40, l);
  // No word is cut: the rows put back together are the four /stats lines.
  assert.deepEqual(
    lines.slice(0, -1).join(" ").split(" "),
    formatStats(t.peer.stats()).join(" ").split(" "),
  );
});
