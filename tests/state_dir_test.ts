/** A state directory that cannot be written: read-only or full at start is one line and exit 2;
 * full in the middle of a chat is one warning (JSON, the web window's socket, the terminal), the
 * chat goes on, and what waited is written once there is room. Real file systems: tmpfs mounts (we
 * are root), remounted read-only or filled. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProc, type Json, jsonPeer, runOnce } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { setup } from "./terminal_fixture.ts";
import { tmpfs } from "./tmpfs.ts";

const probe = await tmpfs("64k");
const reason = typeof probe === "string" ? probe : undefined;
if (typeof probe !== "string") await probe.unmount();
if (reason) console.log(`Skipping the state directory tests: ${reason}`);

async function remount(dir: string, option: string): Promise<void> {
  const r = await new Deno.Command("mount", { args: ["-o", `remount,${option}`, dir] }).output();
  assert.ok(r.success, `remount,${option} ${dir}`);
}

/** Writes zeros into `path` until the file system is full. */
function fill(path: string): void {
  const f = Deno.openSync(path, { write: true, create: true });
  const block = new Uint8Array(4096);
  try {
    for (;;) f.writeSync(block);
  } catch (e) {
    assert.equal((e as { code?: string }).code, "ENOSPC");
  } finally {
    f.close();
  }
}

const chat = (dir: string) => {
  const [port, peer] = freePorts(2);
  return ["-p", String(port), "--peer", `127.0.0.1:${peer}`, "--state-dir", dir];
};

/** A state directory made unusable after an earlier run left its journal there, and how. */
const SPOILED: {
  what: string;
  size: string;
  why: string;
  spoil(dir: string): void | Promise<void>;
}[] = [
  {
    what: "read-only",
    size: "1m",
    why: "the file system is read-only",
    spoil: (dir) => remount(dir, "ro"),
  },
  { what: "full", size: "256k", why: "the disk is full", spoil: (dir) => fill(join(dir, "fill")) },
];

for (const { what, size, why, spoil } of SPOILED) {
  Deno.test({
    name: `a ${what} state directory is one line in our words and exit 2, new or existing`,
    ignore: reason !== undefined,
    async fn() {
      const fs = await tmpfs(size);
      assert.ok(typeof fs !== "string");
      try {
        const existing = join(fs.dir, "existing");
        // A real earlier run leaves its journal, history and lock there.
        const first = await runOnce([...chat(existing), "--timeout", "0"]);
        assert.equal(first.code, 0, first.stderr);
        await spoil(fs.dir);
        for (const dir of [join(fs.dir, "new"), existing]) {
          const r = await runOnce(chat(dir));
          assert.equal(r.stderr, `chatnet: Cannot use state directory ${dir}: ${why}\n`);
          assert.equal(r.code, 2);
          assert.equal(r.stdout, "");
        }
      } finally {
        await fs.unmount();
      }
    },
  });
}

/** The events a web window's socket receives, from connect until `stop()`. */
function watchSocket(url: string): { events: Json[]; opened: Promise<void>; stop(): void } {
  const u = new URL(url);
  const events: Json[] = [];
  // @ts-ignore: Deno's WebSocket takes headers; the server checks the Origin.
  const ws = new WebSocket(`ws://${u.host}/ws${u.search}`, { headers: { origin: u.origin } });
  ws.onmessage = (m) => events.push(JSON.parse(String(m.data)));
  const opened = new Promise<void>((r) => ws.onopen = () => r());
  return { events, opened, stop: () => ws.close() };
}

Deno.test({
  name: "a state disk that fills mid-chat is one warning everywhere; nothing is reported sent " +
    "until it is stored, and what waited is written and reported once there is room",
  ignore: reason !== undefined,
  async fn() {
    const fs = await tmpfs("512k");
    assert.ok(typeof fs !== "string");
    const state = join(fs.dir, "alice");
    const [pa, pb] = freePorts(2);
    const a = new ChatProc([
      ...["--json", "--web", "--name", "alice", "-p", String(pa), "--peer", `127.0.0.1:${pb}`],
      ...["--state-dir", state],
    ]);
    // Bob in pipe mode: he shows nothing about alice's disk.
    const b = jsonPeer({ name: "bob", port: pb, peer: pa });
    try {
      const url = await a.webUrl();
      const page = watchSocket(url);
      await page.opened;
      await a.until(() => a.of("peer").length > 0, "bob online");
      await a.command({ type: "send", text: "before" });
      await a.until(() => a.of("delivered").length === 1, "the first tick");
      fill(join(fs.dir, "fill"));
      // Each of these needs more than the page the journal's last record left free.
      const big = (i: number) => `big ${i} ` + "x".repeat(6000);
      for (let i = 1; i <= 3; i++) await a.command({ type: "send", text: big(i) });
      await b.until(() => b.of("message").length === 4, "bob has all four");
      // Bob has them, but alice could not store them: not "sent" (a crash now would lose them).
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(a.of("sent").map((e) => e.text), ["before"]);
      assert.deepEqual(a.of("delivered").map((e) => e.id), [1]);
      const warning = {
        type: "error",
        code: "state_write_failed",
        message: `Cannot write the state directory ${state}: the disk is full. Until it can be ` +
          "written, messages that arrive wait unshown and yours are not reported sent (the " +
          "peer keeps them, so nothing is lost or shown twice), and a restart would not resume " +
          "the files being sent; trying again every second",
      };
      // Dozens of failed writes (one per datagram), one warning.
      assert.deepEqual(a.of("error"), [warning]);
      assert.deepEqual(page.events.filter((e) => e.type === "error"), [warning]);
      // A page opened now learns it too, once.
      const reloaded = watchSocket(url);
      await reloaded.opened;
      await a.until(() => reloaded.events.some((e) => e.type === "error"), "the replayed warning");
      assert.deepEqual(reloaded.events.filter((e) => e.type === "error"), [warning]);
      reloaded.stop();
      // Room again: within the second's retry what waited is written, then reported.
      await Deno.remove(join(fs.dir, "fill"));
      await a.until(() => a.of("delivered").length === 4, "the three reported once stored");
      assert.deepEqual(a.of("sent").map((e) => e.text), ["before", big(1), big(2), big(3)]);
      await a.command({ type: "send", text: "after" });
      await a.until(() => a.of("delivered").length === 5, "the fifth tick");
      const later = watchSocket(url);
      await later.opened;
      await a.until(() => later.events.some((e) => e.type === "ready"), "the page's replay");
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(later.events.filter((e) => e.type === "error"), []);
      later.stop();
      page.stop();
      await a.closeStdin();
      const status = await a.exit();
      assert.equal(status.code, 0, a.stderr);
      assert.deepEqual(a.of("error"), [warning]);
      const history = (await Deno.readTextFile(join(state, "history.jsonl"))).trim().split("\n")
        .map((l) => JSON.parse(l).text);
      assert.deepEqual(history, ["before", big(1), big(2), big(3), "after"]);
    } finally {
      a.kill();
      b.kill();
      await a.exit().catch(() => {});
      await b.closeStdin();
      await b.exit();
      await fs.unmount();
    }
  },
});

Deno.test("the terminal shows the state warning in yellow as a warning, not an error", () => {
  const t = setup({ color: true });
  t.ui.onEvent({ type: "error", code: "state_write_failed", message: "Cannot write X: full" });
  assert.equal(
    t.take(),
    "\r\x1b[2K\x1b[33mwarning: Cannot write X: full\x1b[39m\r\n\r\x1b[2K\x1b[32m●\x1b[39m > \r\x1b[4C",
  );
});
