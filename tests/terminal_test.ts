import assert from "node:assert/strict";
import { splitPaths } from "../lib/ui/terminal/completion.ts";
import { keys, message, setup } from "./terminal_fixture.ts";
import { bufferedOut } from "../lib/ui/output.ts";
import { runTerminal } from "../lib/ui/terminal/run.ts";

Deno.test("an incoming message never disturbs the line being typed", () => {
  const t = setup();
  t.ui.onKeys(keys("hel"));
  t.take();
  t.ui.onEvent(message("hi there"));
  assert.equal(
    t.take(),
    "\r\x1b[2K[09:05:03] bob@192.0.2.7:9001 #7: hi there\r\n" + "\r\x1b[2K● > hel\r\x1b[7C",
  );
  t.ui.onKeys(keys("lo\r"));
  assert.deepEqual(t.sent, ["hello"]);
  assert.match(t.take(), /● > \r\x1b\[4C$/);
});

Deno.test("your message shows as pending, then its mark turns into a tick in place", () => {
  const t = setup();
  t.ui.onEvent({ type: "sent", id: 1, text: "ping" });
  const line = t.take();
  assert.match(line, /^\r\x1b\[2K\[\d\d:\d\d:\d\d\] you #1: ping …\r\n/);
  t.ui.onEvent(message("one"));
  t.ui.onEvent(message("two"));
  t.take();
  t.ui.onEvent({ type: "delivered", id: 1 });
  // Up three rows (the mark's row, two messages below it), the row again with ✓, back down.
  assert.equal(
    t.take(),
    "\r\x1b[2K\x1b[3A\r[09:05:03] you #1: ping ✓\x1b[K\x1b[3B\r" + "\r\x1b[2K● > \r\x1b[4C",
  );
});

Deno.test("a tick for a line that wrapped lands on the right row", () => {
  const t = setup({ columns: 20 });
  t.ui.onEvent({ type: "sent", id: 1, text: "a long message that wraps" });
  t.take();
  t.ui.onEvent({ type: "delivered", id: 1 });
  // "[hh:mm:ss] you #1: a long message that wraps …" is 46 columns: rows 0-2, mark on row 2.
  assert.match(t.take(), /^\r\x1b\[2K\x1b\[1A\rraps ✓\x1b\[K\x1b\[1B\r/);
});

Deno.test("escape sequences from the peer are shown, not obeyed", () => {
  const t = setup();
  t.ui.onEvent(message("\x1b[2Jgotcha\x07"));
  const out = t.take();
  assert.ok(out.includes("^[[2Jgotcha^G"), JSON.stringify(out));
  assert.ok(!out.includes("\x1b[2J"));
});

Deno.test("commands: /stats, unknown commands, // sends a slash, /quit", () => {
  const t = setup({ columns: 200 });
  t.ui.onKeys(keys("/stats\r"));
  const stats = t.take();
  assert.match(stats, /RTT 0\.0 ms/);
  assert.match(stats, /corrupt 3, malformed 0, foreign 2/);
  assert.match(stats, /out 0; cipher ChaCha20-Poly1305 \(OpenSSL 3\.0\.19\)\r\n/);
  t.ui.onKeys(keys("/frobnicate\r"));
  assert.match(t.take(), /Unknown command \/frobnicate: type \/help for the list/);
  t.ui.onKeys(keys("//not a command\r"));
  assert.deepEqual(t.sent, ["/not a command"]);
  t.ui.onKeys(keys("/quit\r"));
  assert.equal(t.ui.quit, "wait");
});

Deno.test("line editing: arrows, backspace, Ctrl-U, Ctrl-W and history", () => {
  const t = setup();
  t.ui.onKeys(keys("helo\x1b[D\x1b[Dl\x1b[F!\r"));
  assert.deepEqual(t.sent, ["hello!"]);
  t.ui.onKeys(keys("one two\x17three\r"));
  assert.deepEqual(t.sent, ["hello!", "one three"]);
  t.ui.onKeys(keys("junk\x15\x1b[A\x1b[A\r"));
  assert.deepEqual(t.sent, ["hello!", "one three", "hello!"]);
  t.ui.onKeys(keys("x\x7f\x7fy\r"));
  assert.deepEqual(t.sent.at(-1), "y");
});

Deno.test("an escape sequence split across reads is still understood", () => {
  const t = setup();
  t.ui.onKeys(keys("ab\x1b["));
  t.ui.onKeys(keys("Dc\r"));
  assert.deepEqual(t.sent, ["acb"]);
});

Deno.test("colour only when asked (NO_COLOR turns it off)", () => {
  const plain = setup({ color: false });
  plain.ui.onEvent({ type: "peer", state: "offline" });
  assert.ok(!/\x1b\[3\dm/.test(plain.take()));
  const coloured = setup({ color: true });
  coloured.ui.onEvent({ type: "peer", state: "offline" });
  assert.ok(/\x1b\[33m/.test(coloured.take()));
});

Deno.test("/send takes several paths, with quotes and escaped spaces", () => {
  const t = setup();
  t.ui.onKeys(keys('/send a.txt "my photos" b\\ c.pdf\r'));
  assert.deepEqual(t.sentFiles, ["a.txt", "my photos", "b c.pdf"]);
  t.ui.onKeys(keys("/send\r"));
  assert.match(t.take(), /Usage: \/send PATH/);
  assert.deepEqual(splitPaths(` 'x y'  z `), ["x y", "z"]);
});

Deno.test("a progress bar sits above the prompt and messages print above it", () => {
  const t = setup({ columns: 100 });
  t.ui.onEvent({
    type: "progress",
    id: "f1",
    name: "big.iso",
    direction: "receive",
    bytes: 512 * 2 ** 20,
    size: 2 ** 30,
    speed: 100 * 2 ** 20,
    eta: 5,
  });
  const bar = t.take();
  assert.match(
    bar,
    /^\r\x1b\[2K↓ big\.iso \[█+░+\] 50% 512 MiB\/1 GiB 100 MiB\/s ETA 00:05\r\n\r\x1b\[2K● > /,
  );
  t.ui.onEvent(message("during the transfer"));
  // Up over the one bar line, clear, the message, then the bar and prompt again.
  assert.match(
    t.take(),
    /^\r\x1b\[2K\x1b\[1A\r\x1b\[J\r\x1b\[2K\[09:05:03\] bob@192\.0\.2\.7:9001 #7: during the transfer\r\n\r\x1b\[2K↓ big\.iso/,
  );
  t.ui.onEvent({
    type: "file_received",
    id: "f1",
    name: "big.iso",
    path: "/dl/big.iso",
    size: 2 ** 30,
    sha256: "ab".repeat(32),
  });
  const done = t.take();
  assert.match(done, /✓ Received big\.iso → \/dl\/big\.iso \(1 GiB, SHA-256 abababababababab…\)/);
  assert.ok(!done.slice(done.indexOf("✓")).includes("big.iso ["), "the bar is gone");
});

Deno.test("Tab completes /send paths: one match, a common prefix, or the list of choices", () => {
  const tree: Record<string, [string, boolean][]> = {
    ".": [["docs", true], ["dog photo.jpg", false], ["notes.txt", false], [".hidden", false]],
    "docs/": [["a.pdf", false], ["b.pdf", false]],
  };
  const t = setup({
    listDir: (dir) => (tree[dir] ?? []).map(([name, isDirectory]) => ({ name, isDirectory })),
  });
  t.ui.onKeys(keys("/send n\t"));
  t.ui.onKeys(keys("do\t"));
  t.take();
  t.ui.onKeys(keys("\t"));
  assert.match(t.take(), /docs\/ {2}dog photo\.jpg/, "two choices are listed");
  t.ui.onKeys(keys("g\t"));
  t.ui.onKeys(keys("\r"));
  assert.deepEqual(t.sentFiles, ["notes.txt", "dog photo.jpg"]);
  t.take();
  t.ui.onKeys(keys("/send docs/\t"));
  assert.match(t.take(), /a\.pdf {2}b\.pdf/);
  t.ui.onKeys(keys("b\t\r"));
  assert.deepEqual(t.sentFiles.slice(2), ["docs/b.pdf"]);
  t.ui.onKeys(keys("hello\t\r"));
  assert.deepEqual(t.sent, ["hello"], "Tab does nothing in a message");
});

Deno.test("/history N shows the last N stored lines, dimmed, with the tick on your own", () => {
  const t = setup();
  t.ui.onKeys(keys("/history 2\r"));
  const shown = t.take();
  assert.match(shown, /\[09:05:03\] bob #4: older\r\n/);
  assert.match(shown, /\[09:05:03\] you #9: mine ✓\r\n/);
  t.ui.onKeys(keys("/history 1\r"));
  assert.doesNotMatch(t.take(), /older/);
  t.ui.onKeys(keys("/history lots\r"));
  assert.match(t.take(), /Usage: \/history \[N\]/);
});

Deno.test("stdout writes a task's first text at once, gathers the rest, and holds all while told", async () => {
  const writes: string[] = [];
  const dec = new TextDecoder();
  const out = bufferedOut({ writeSync: (p) => (writes.push(dec.decode(p)), p.length) });
  out.write("a");
  out.write("b");
  out.write("c");
  assert.deepEqual(writes, ["a"]);
  await Promise.resolve();
  assert.deepEqual(writes, ["a", "bc"]);
  // Held: nothing goes out, not even the first text, until flush().
  out.hold();
  out.write("d");
  out.write("e");
  assert.deepEqual(writes, ["a", "bc"]);
  out.flush();
  assert.deepEqual(writes, ["a", "bc", "de"]);
  out.write("f");
  await Promise.resolve();
  assert.deepEqual(writes, ["a", "bc", "de", "f"]);
  // A hold nobody flushes still ends with the task.
  out.hold();
  out.write("g");
  await Promise.resolve();
  assert.deepEqual(writes, ["a", "bc", "de", "f", "g"]);
});

Deno.test("Ctrl-L clears the screen and draws the prompt and the typed line again", () => {
  const t = setup();
  t.ui.onKeys(keys("draft"));
  t.take();
  t.ui.onKeys(keys("\x0c"));
  assert.equal(t.take(), "\x1b[H\x1b[2J\r\x1b[2K● > draft\r\x1b[9C\r\x1b[2K● > draft\r\x1b[9C");
});

Deno.test("Tab completes command names: one match, a common prefix, the choices", () => {
  const t = setup();
  t.ui.onKeys(keys("/he\t"));
  assert.match(t.take(), /● > \/help \r\x1b\[10C$/);
  t.ui.onKeys(keys("\x15/\t"));
  assert.match(
    t.take(),
    /\/help {2}\/send {2}\/stats {2}\/history {2}\/offers {2}\/accept {2}\/decline {2}\/quit {2}\/exit\r\n/,
  );
  t.ui.onKeys(keys("\x15/st\t\r"));
  assert.match(t.take(), /RTT 0\.0 ms/);
});

Deno.test("~ and ~/… in /send name the home folder, and Tab completes after them", () => {
  const listed: string[] = [];
  const t = setup({
    home: "/home/ann",
    listDir: (dir) => {
      listed.push(dir);
      return dir === "/home/ann/" ? [{ name: "Pictures", isDirectory: true }] : [
        { name: "holiday", isDirectory: true },
      ];
    },
  });
  t.ui.onKeys(keys("/send ~\t"));
  t.ui.onKeys(keys("P\t"));
  t.ui.onKeys(keys("h\t\r"));
  assert.deepEqual(listed, ["/home/ann/", "/home/ann/Pictures/"]);
  assert.deepEqual(t.sentFiles, ["/home/ann/Pictures/holiday/"]);
  t.ui.onKeys(keys("/send ~/a.txt ~ b~\r"));
  assert.deepEqual(t.sentFiles.slice(1), ["/home/ann/a.txt", "/home/ann", "b~"]);
});

Deno.test("/send while the peer is offline says the file goes when it returns", () => {
  const t = setup({ online: false });
  t.ui.onKeys(keys("/send a.txt\r"));
  assert.match(t.take(), /○ The peer is offline: the file goes when it returns\r\n/);
  t.ui.onKeys(keys("/send a.txt b.txt\r"));
  assert.match(t.take(), /the files go when it returns/);
  assert.deepEqual(t.sentFiles, ["a.txt", "a.txt", "b.txt"]);
});

Deno.test("a message that waited shows the sender's time, and when it arrived if much later", () => {
  const t = setup();
  const sentAt = new Date(2026, 10, 22, 9, 5, 3).toISOString();
  const at = new Date(2026, 10, 22, 9, 25, 7).toISOString();
  t.ui.onEvent({ ...message("written earlier"), sentAt, at });
  assert.match(
    t.take(),
    /^\r\x1b\[2K\[09:05:03\] bob@192\.0\.2\.7:9001 #7: written earlier \(arrived 09:25:07\)\r\n/,
  );
  t.ui.onEvent({
    ...message("a few seconds"),
    sentAt,
    at: new Date(Date.parse(sentAt) + 20_000).toISOString(),
  });
  assert.match(t.take(), /^\r\x1b\[2K\[09:05:03\] bob@192\.0\.2\.7:9001 #7: a few seconds\r\n/);
});

Deno.test("files waiting their turn are counted in one line under the bars, not a bar each", () => {
  const t = setup({ columns: 100 });
  const queued = (id: string, direction: "send" | "receive") =>
    t.ui.onEvent({ type: "file_queued", id, name: `${id}.txt`, size: 10, direction, position: 1 });
  for (const id of ["s1", "s2", "s3"]) queued(id, "send");
  t.take();
  queued("r1", "receive");
  // Up over the one line drawn before, clear, and the line again with the prompt under it.
  assert.match(
    t.take(),
    /^\r\x1b\[2K\x1b\[1A\r\x1b\[J\r\x1b\[2K⋯ waiting their turn: 3 to send, 1 to receive\r\n\r\x1b\[2K● > /,
  );
  t.ui.onEvent({
    type: "file_start",
    id: "s1",
    name: "s1.txt",
    size: 10,
    offset: 0,
    direction: "send",
    via: "tcp",
  });
  t.ui.onEvent({ type: "error", code: "declined", message: "The peer declined r1.txt", id: "r1" });
  assert.match(t.take(), /⋯ waiting their turn: 2 to send\r\n\r\x1b\[2K● > \r\x1b\[4C$/);
  t.ui.onEvent({
    type: "file_start",
    id: "s2",
    name: "s2.txt",
    size: 10,
    offset: 0,
    direction: "send",
    via: "tcp",
  });
  t.ui.onEvent({
    type: "file_start",
    id: "s3",
    name: "s3.txt",
    size: 10,
    offset: 0,
    direction: "send",
    via: "tcp",
  });
  const last = t.take();
  assert.match(last, /↑ Sending s3\.txt \(10 B\)\r\n\r\x1b\[2K● > \r\x1b\[4C$/);
  assert.ok(!last.slice(last.lastIndexOf("s3.txt")).includes("waiting"), "the line is gone");
});

Deno.test("Ctrl-C leaves the terminal with exit status 130, /quit with 0", async () => {
  for (const [typed, code] of [["\x03", 130], ["/quit\r", 0]] as const) {
    const { peer } = setup();
    let fed = false;
    const stdin = {
      setRaw() {},
      read(p: Uint8Array) {
        if (fed) return new Promise<number | null>(() => {});
        fed = true;
        const bytes = keys(typed);
        p.set(bytes);
        return Promise.resolve(bytes.length);
      },
    };
    const status = await runTerminal({
      peer,
      out: { write() {} },
      color: false,
      columns: () => 80,
      rows: () => 24,
      stdin,
      quitWaitMs: 0,
    });
    assert.equal(status, code, JSON.stringify(typed));
  }
});

Deno.test("while the state directory cannot be written, a typed line shows at once as unsaved, and once only", () => {
  const t = setup();
  (t.peer as { keeping: boolean }).keeping = false;
  t.take();
  t.ui.onKeys(keys("disk is full\r"));
  assert.deepEqual(t.sent, ["disk is full"]);
  assert.equal(
    t.take(),
    "\r\x1b[2K[09:05:03] you #1: disk is full … unsaved\r\n" + "\r\x1b[2K● > \r\x1b[4C".repeat(2),
  );
  // The disk has room again: the journal keeps it, and its "sent" shows nothing new.
  (t.peer as { keeping: boolean }).keeping = true;
  t.ui.onEvent({ type: "sent", id: 1, text: "disk is full" });
  assert.equal(t.take(), "");
  t.ui.onEvent({ type: "delivered", id: 1 });
  assert.equal(
    t.take(),
    "\r\x1b[2K\x1b[1A\r[09:05:03] you #1: disk is full ✓\x1b[K\x1b[1B\r" + "\r\x1b[2K● > \r\x1b[4C",
  );
});

Deno.test("a notice (a pair kept) prints above the prompt, not after it", () => {
  const t = setup();
  t.take();
  t.ui.onEvent({ type: "notice", message: "Paired with bob: next time, chatnet --join bob" });
  assert.equal(
    t.take(),
    "\r\x1b[2KPaired with bob: next time, chatnet --join bob\r\n" + "\r\x1b[2K● > \r\x1b[4C",
  );
});

Deno.test("a folder's files are one line as it starts and one when all are through, not two each", () => {
  const t = setup();
  t.take();
  const group = { id: "g1", name: "many/", files: 3, size: 15 };
  const file = (i: number) => ({ id: `f${i}`, name: `many/d/f${i}.txt`, size: 5, group });
  for (let i = 0; i < 3; i++) {
    t.ui.onEvent({ type: "file_start", ...file(i), offset: 0, direction: "receive" });
  }
  for (let i = 0; i < 3; i++) {
    t.ui.onEvent({
      type: "file_received",
      ...file(i),
      path: `/dl/many (1)/d/f${i}.txt`,
      sha256: "ab".repeat(32),
    });
  }
  const prompt = "\r\x1b[2K● > \r\x1b[4C";
  // What is printed above the prompt (redrawn after each event, which adds nothing).
  assert.equal(
    t.take().split(prompt).join(""),
    "\r\x1b[2K↓ Receiving many/ (3 files, 15 B)\r\n" +
      "\r\x1b[2K✓ Received many/ (3 files, 15 B) → /dl/many (1)\r\n",
  );
});

Deno.test("a typed line shows at once as typed, and its later sent event adds nothing", () => {
  const t = setup();
  t.take();
  t.ui.onKeys(keys("right away\r"));
  assert.equal(
    t.take().split("\r\x1b[2K● > \r\x1b[4C").join(""),
    "\r\x1b[2K[09:05:03] you #1: right away …\r\n",
  );
  t.ui.onEvent({ type: "sent", id: 1, text: "right away" });
  assert.equal(t.take(), "");
});

Deno.test("a tick whose mark wrapped onto the next row clears that row too", () => {
  // "[09:05:03] you #1: " is 19 columns; at 24 columns "abcd … unsaved" puts "… unsa" on the
  // first row's end and "ved" on the second.
  const t = setup({ columns: 24 });
  (t.peer as { keeping: boolean }).keeping = false;
  t.take();
  t.ui.onKeys(keys("ab\r"));
  t.take();
  t.ui.onEvent({ type: "delivered", id: 1 });
  assert.equal(
    t.take(),
    "\r\x1b[2K\x1b[2A\r[09:05:03] you #1: ab ✓\x1b[K\x1b[1B\r\x1b[2K\x1b[1B\r" +
      "\r\x1b[2K● > \r\x1b[4C",
  );
});
