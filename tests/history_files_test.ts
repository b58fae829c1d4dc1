/** The history carries finished file transfers: a restart replays them (JSON, the terminal), the
 * web window's socket replays them to a page opened later, and /history lists them with the
 * messages, in order. Real processes over loopback. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { type FileEntry, History, type HistoryEntry } from "../lib/store/history.ts";
import { type Json, jsonPeer, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { AT, setup } from "./terminal_fixture.ts";

Deno.test("file lines read back as written, among messages; a malformed one is skipped", () => {
  const dir = Deno.makeTempDirSync();
  const h = new History(dir);
  const file: FileEntry = {
    dir: "in",
    file: "a1b2",
    name: "video.mp4",
    path: "/dl/video.mp4",
    size: 12_345_678,
    sha256: "ab".repeat(32),
    at: "2026-12-02T10:00:00.000Z",
  };
  const message: HistoryEntry = { dir: "out", id: 3, name: "ann", text: "hi", at: file.at };
  h.append(message);
  h.append(file);
  h.close();
  // What an older or damaged writer might leave: no sha256, a negative size.
  const bad = [{ ...file, sha256: undefined }, { ...file, size: -1 }];
  Deno.writeTextFileSync(
    join(dir, "history.jsonl"),
    bad.map((b) => JSON.stringify(b) + "\n").join(""),
    { append: true },
  );
  const again = new History(dir);
  assert.deepEqual(again.last(10), [message, file]);
  again.close();
});

Deno.test("the terminal shows a stored transfer dimmed, with its time, as it showed it new", () => {
  const t = setup({ color: true });
  const e = { id: "f1", name: "video.mp4", path: "/dl/video.mp4", size: 12_582_912, at: AT };
  const sha256 = "0123456789abcdef".repeat(4);
  t.ui.onEvent({ type: "history_file", dir: "in", ...e, sha256 });
  t.ui.onEvent({ type: "history_file", dir: "out", ...e, path: "/home/ann/video.mp4", sha256 });
  assert.equal(
    t.take(),
    "\r\x1b[2K\x1b[2m[09:05:03] ✓ Received video.mp4 → /dl/video.mp4 (12 MiB, SHA-256 " +
      "0123456789abcdef…)\x1b[22m\r\n\r\x1b[2K\x1b[32m●\x1b[39m > \r\x1b[4C" +
      "\r\x1b[2K\x1b[2m[09:05:03] ✓ Sent video.mp4 (12 MiB); the peer verified its SHA-256" +
      "\x1b[22m\r\n\r\x1b[2K\x1b[32m●\x1b[39m > \r\x1b[4C",
  );
});

/** The events a web window's socket is sent on connect (its replay), collected for `ms`. */
async function replayOf(url: string, ms = 500): Promise<Json[]> {
  const u = new URL(url);
  const events: Json[] = [];
  // @ts-ignore: Deno's WebSocket takes headers; the server checks the Origin.
  const ws = new WebSocket(`ws://${u.host}/ws${u.search}`, { headers: { origin: u.origin } });
  ws.onmessage = (m) => events.push(JSON.parse(String(m.data)));
  await new Promise((r) => ws.onopen = r);
  await new Promise((r) => setTimeout(r, ms));
  ws.close();
  return events;
}

Deno.test("a restart and a page opened later show the finished transfers, in order with messages", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-history-files-" });
  const [pa, pb] = freePorts(2);
  const homes = { a: tempStateHome(), b: tempStateHome() };
  const start = (who: "a" | "b", args: string[] = []) =>
    jsonPeer({
      name: who === "a" ? "alice" : "bob",
      port: who === "a" ? pa : pb,
      peer: who === "a" ? pb : pa,
      stateHome: homes[who],
      args: ["--downloads", join(root, who), ...args],
    });
  const data = new Uint8Array(200_000).map((_, i) => (i * 7919) >> 3);
  const source = join(root, "video.mp4");
  await Deno.writeFile(source, data);
  const sha256 = createHash("sha256").update(data).digest("hex");
  let a = start("a"), b = start("b", ["--web"]);
  try {
    await a.until(() => a.of("peer").length > 0, "bob online");
    await a.command({ type: "send", text: "here it comes" });
    await a.command({ type: "file", path: source });
    await a.until(() => a.of("file_sent").length === 1, "the file verified");
    await a.command({ type: "send", text: "did you get it?" });
    await b.until(() => b.of("message").length === 2, "both messages at bob");
    const received = b.of("file_received")[0];
    assert.equal(received.sha256, sha256);
    const sent = a.of("file_sent")[0];
    // Bob's web window, opened after the transfer: the link's fields and the messages, in order.
    const url = await b.webUrl();
    const replay = (await replayOf(url)).filter((e) => e.type.startsWith("history"));
    const { type: _, ...fields } = received;
    const at = (e: Json) => e.at;
    assert.deepEqual(replay.map((e) => [e.type, e.text ?? e.name]), [
      ["history", "here it comes"],
      ["history_file", "video.mp4"],
      ["history", "did you get it?"],
    ]);
    assert.deepEqual(replay[1], { type: "history_file", dir: "in", ...fields, at: at(replay[1]) });
    assert.ok(Math.abs(Date.parse(replay[1].at) - Date.now()) < 60_000);
    // Both leave and come back: each replays its side of the transfer at start.
    for (const p of [a, b]) await p.closeStdin();
    for (const p of [a, b]) assert.equal((await p.exit()).code, 0);
    a = start("a");
    b = start("b");
    for (const p of [a, b]) await p.until(() => p.of("history").length === 2, "the replay");
    const { type: __, ...sentFields } = sent;
    const aFile = a.of("history_file");
    assert.deepEqual(aFile, [{
      type: "history_file",
      dir: "out",
      ...sentFields,
      at: at(aFile[0]),
    }]);
    assert.deepEqual(b.of("history_file"), [replay[1]]);
    // And on request, between the messages.
    await b.command({ type: "history", count: 2 });
    await b.until(() => b.of("history").length === 3, "the answer");
    assert.deepEqual(b.events.slice(-2).map((e) => e.type), ["history_file", "history"]);
  } finally {
    for (const p of [a, b]) {
      p.kill();
      await p.exit();
    }
    await Deno.remove(root, { recursive: true });
  }
});
