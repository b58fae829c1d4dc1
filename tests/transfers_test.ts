/** The receiving side of Transfers against a raw TCP client playing a (hostile) sender. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Transfers } from "../lib/files/transfers.ts";
import type { FileControl } from "../lib/files/control.ts";
import type { ChatEvent } from "../lib/events.ts";
import { encodeHeader, writeAll } from "../lib/net/file_stream.ts";
import { denoTcp } from "../lib/net/tcp.ts";
import { type Clock, denoClock } from "../lib/net/clock.ts";
import { denoFs, type Fs } from "../lib/store/fs.ts";

async function receiver(clock?: Clock, fs?: Fs) {
  const root = await Deno.makeTempDir({ prefix: "chatnet-rx-" });
  const downloads = join(root, "downloads");
  await Deno.mkdir(downloads);
  const listener = denoTcp.listen({ hostname: "127.0.0.1", port: 0 });
  const control: FileControl[] = [];
  const events: ChatEvent[] = [];
  const t = new Transfers({
    downloads,
    filePort: listener.port,
    peerIp: "127.0.0.1",
    maxFileSize: 2 ** 30,
    sendControl: (c) => control.push(c),
    emit: (e) => events.push(e),
    isPeerOnline: () => true,
    clock,
    fs,
  }, listener);
  t.serve();
  const waitFor = async (pred: () => boolean) => {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(pred(), "timed out");
  };
  return {
    t,
    root,
    downloads,
    control,
    events,
    port: listener.port,
    waitFor,
  };
}

async function stream(port: number, id: string, data: Uint8Array, trailer: Uint8Array, offset = 0) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encodeHeader({ id, offset, size: data.length }));
  await writeAll(conn, data.subarray(offset));
  await writeAll(conn, trailer);
  await conn.closeWrite();
  return conn;
}

const sha = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
const ID = "00112233445566ff";

Deno.test("bytes that do not match their SHA-256 are never renamed into place", async () => {
  const r = await receiver();
  try {
    const data = new TextEncoder().encode("the real content");
    r.t.onControl({ op: "offer", id: ID, name: "doc.txt", size: data.length });
    await r.waitFor(() => r.control.length === 1);
    assert.equal(r.control[0].op, "accept");
    const conn = await stream(r.port, ID, data, sha(new TextEncoder().encode("something else!!")));
    await r.waitFor(() => r.control.length === 2);
    conn.close();
    assert.deepEqual({ ...r.control[1], sha256: "" }, {
      op: "done",
      id: ID,
      ok: false,
      sha256: "",
      reason: "SHA-256 mismatch",
    });
    assert.ok(r.events.some((e) => e.type === "error" && e.code === "hash_mismatch"));
    assert.deepEqual(await Array.fromAsync(Deno.readDir(r.downloads)), []);
  } finally {
    r.t.close();
    await Deno.remove(r.root, { recursive: true });
  }
});

Deno.test("a file whose bytes all arrived counts as unfinished until it is synced and renamed", async () => {
  // The receiver's fdatasync is held: a run that ended on `active === 0` meanwhile would leave
  // a whole, unverified .part (probe: a pipe receiver whose input ended just then).
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  let syncs = 0;
  const fs: Fs = {
    ...denoFs,
    open: async (path, o) => {
      const f = await denoFs.open(path, o);
      const syncData = async () => {
        syncs++;
        await held;
        return f.syncData();
      };
      return new Proxy(f, {
        get: (target, key) => {
          if (key === "syncData") return syncData;
          const v = Reflect.get(target, key);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
    },
  };
  const r = await receiver(undefined, fs);
  try {
    const data = new TextEncoder().encode("held at the sync");
    r.t.onControl({ op: "offer", id: ID, name: "held.txt", size: data.length });
    await r.waitFor(() => r.control.length === 1);
    const conn = await stream(r.port, ID, data, sha(data));
    await r.waitFor(() => syncs > 0);
    assert.equal(r.t.active, 1);
    assert.ok(!r.events.some((e) => e.type === "file_received"));
    release();
    await r.waitFor(() => r.t.active === 0);
    conn.close();
    assert.ok(r.events.some((e) => e.type === "file_received"));
    assert.equal(await Deno.readTextFile(join(r.downloads, "held.txt")), "held at the sync");
  } finally {
    release();
    r.t.close();
    await Deno.remove(r.root, { recursive: true });
  }
});

Deno.test("names that climb out of the downloads folder are declined and nothing is written", async () => {
  const r = await receiver();
  try {
    const names = ["../escape.txt", "a/../../escape.txt", "/etc/cron.d/evil", "..", "ok/../../x"];
    names.forEach((name, i) =>
      r.t.onControl({ op: "offer", id: `00000000000000${i}0`, name, size: 10 })
    );
    await r.waitFor(() => r.control.length === names.length);
    assert.ok(r.control.every((c) => c.op === "decline"), JSON.stringify(r.control));
    const top = (await Array.fromAsync(Deno.readDir(r.root))).map((e) => e.name);
    assert.deepEqual(top, ["downloads"]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(r.downloads)), []);
    // A symlink planted inside downloads may not lead a name outside it either.
    await Deno.symlink(r.root, join(r.downloads, "link"));
    r.t.onControl({ op: "offer", id: "00000000000000aa", name: "link/outside.txt", size: 10 });
    await r.waitFor(() => r.control.length === names.length + 1);
    assert.equal(r.control.at(-1)!.op, "decline");
  } finally {
    r.t.close();
    await Deno.remove(r.root, { recursive: true });
  }
});

Deno.test("a new offer of the same transfer resumes from its .part once the prefix is checked, and a foreign song.mp3.part is left alone", async () => {
  const r = await receiver();
  try {
    const data = crypto.getRandomValues(new Uint8Array(50_000));
    await Deno.writeFile(join(r.downloads, `song.mp3.${ID}.part`), data.subarray(0, 20_000));
    // A browser's download in progress, under the name it would have without the id.
    await Deno.writeTextFile(join(r.downloads, "song.mp3.part"), "not chatnet's");
    r.t.onControl({ op: "offer", id: ID, name: "song.mp3", size: data.length });
    await r.waitFor(() => r.control.length === 1);
    const accept = r.control[0] as Extract<FileControl, { op: "accept" }>;
    assert.equal(accept.offset, 20_000);
    assert.equal(
      accept.prefix,
      createHash("sha256").update(data.subarray(0, 20_000)).digest("hex"),
    );
    const conn = await stream(r.port, ID, data, sha(data), 20_000);
    await r.waitFor(() => r.control.length === 2);
    conn.close();
    assert.equal((r.control[1] as { ok: boolean }).ok, true);
    assert.deepEqual(await Deno.readFile(join(r.downloads, "song.mp3")), data);
    assert.equal(await Deno.readTextFile(join(r.downloads, "song.mp3.part")), "not chatnet's");
  } finally {
    r.t.close();
    await Deno.remove(r.root, { recursive: true });
  }
});

Deno.test("TCP connections from an address other than the peer's are refused", async () => {
  const socat = await new Deno.Command("socat", { args: ["-V"], stdout: "null" }).output().catch(
    () => undefined,
  );
  if (!socat?.success) {
    console.log("  skipped: socat is not installed (apt-get install socat)");
    return;
  }
  const r = await receiver();
  try {
    // From 127.0.0.2: loopback, but not the peer's address.
    await new Deno.Command("socat", {
      args: ["-u", "OPEN:/dev/null", `TCP:127.0.0.1:${r.port},bind=127.0.0.2`],
      stderr: "null",
    }).output();
    await r.waitFor(() => r.t.counts.refused === 1);
  } finally {
    r.t.close();
    await Deno.remove(r.root, { recursive: true });
  }
});

Deno.test("a receiver handles eight offers at once, the rest in order, and opens a .part only while its stream runs", async () => {
  const r = await receiver();
  try {
    const data = new TextEncoder().encode("ten small files");
    const ids = Array.from({ length: 10 }, (_, i) => `00000000000000${i}b`);
    ids.forEach((id, i) =>
      r.t.onControl({ op: "offer", id, name: `f${i}.txt`, size: data.length })
    );
    await r.waitFor(() => r.control.length === 8);
    // Handled at once, so their accepts may come in any order.
    assert.deepEqual(
      r.control.map((c) => [c.op, c.id]).sort(),
      ids.slice(0, 8).map((id) => ["accept", id]),
    );
    assert.deepEqual(
      r.events.filter((e) => e.type === "file_queued"),
      [8, 9].map((i) => ({
        type: "file_queued",
        id: ids[i],
        name: `f${i}.txt`,
        size: data.length,
        direction: "receive",
        position: i - 7,
      })),
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(r.downloads)), []);
    const conn = await stream(r.port, ids[3], data, sha(data));
    await r.waitFor(() => r.control.length === 10);
    conn.close();
    assert.deepEqual(r.control.slice(8).map((c) => [c.op, c.id]), [["done", ids[3]], [
      "accept",
      ids[8],
    ]]);
    const names = (await Array.fromAsync(Deno.readDir(r.downloads))).map((e) => e.name);
    assert.deepEqual(names, ["f3.txt"]);
  } finally {
    r.t.close();
    await Deno.remove(r.root, { recursive: true });
  }
});

Deno.test("an accepted offer whose stream never begins gives its place up after 30 s", async () => {
  // Deno's clock, but the 30 s timers are held here and fired by hand.
  const held: (() => void)[] = [];
  const clock: Clock = {
    ...denoClock,
    setTimer: (fn, ms) => ms === 30_000 ? held.push(fn) + 1_000_000 : denoClock.setTimer(fn, ms),
    clearTimer: (id) => id !== undefined && id > 1_000_000 ? undefined : denoClock.clearTimer(id),
  };
  const r = await receiver(clock);
  try {
    const ids = Array.from({ length: 9 }, (_, i) => `00000000000000${i}c`);
    ids.forEach((id, i) => r.t.onControl({ op: "offer", id, name: `g${i}.txt`, size: 5 }));
    await r.waitFor(() => r.control.length === 8);
    await new Promise((ok) => setTimeout(ok, 50));
    assert.equal(r.control.length, 8, "the ninth waits");
    // No stream came for the first: its place goes to the ninth.
    held[0]();
    await r.waitFor(() => r.control.length === 9);
    assert.deepEqual([r.control[8].op, r.control[8].id], ["accept", ids[8]]);
  } finally {
    r.t.close();
    await Deno.remove(r.root, { recursive: true });
  }
});
