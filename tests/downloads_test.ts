/** `--downloads` is checked at start: a folder we can write, made if missing (and said), and
 * otherwise one line in our words and exit 2, before any peer could offer a file. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { jsonPeer, runOnce } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { tmpfs } from "./tmpfs.ts";

const chat = (downloads: string) => {
  const [port, peer] = freePorts(2);
  return ["-p", String(port), "--peer", `127.0.0.1:${peer}`, "--downloads", downloads];
};

Deno.test("a --downloads that is a regular file is a usage error at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chatnet-downloads-" });
  try {
    const file = join(dir, "notes.txt");
    await Deno.writeTextFile(file, "mine\n");
    const r = await runOnce(chat(file));
    assert.equal(r.stderr, `chatnet: Cannot use --downloads ${file}: it is a file, not a folder\n`);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.equal(await Deno.readTextFile(file), "mine\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing --downloads folder is made, and the user is told", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chatnet-downloads-" });
  try {
    const want = join(dir, "new", "inbox");
    const r = await runOnce([...chat(want), "--timeout", "0"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^chatnet: created the downloads folder ${want}$`, "m"));
    assert.ok((await Deno.stat(want)).isDirectory);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(want)), [], "no probe file left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a --downloads that cannot be made or written is a usage error in our words", async () => {
  const r = await runOnce(chat("/proc/chatnet-nope"));
  assert.equal(
    r.stderr,
    "chatnet: Cannot use --downloads /proc/chatnet-nope: chatnet may not use system paths " +
      "(/proc, /sys, /dev); choose an ordinary folder\n",
  );
  assert.equal(r.code, 2);
  const fs = await tmpfs("64k");
  if (typeof fs === "string") return console.log(`Skipping the read-only case: ${fs}`);
  try {
    const ro = await new Deno.Command("mount", { args: ["-o", "remount,ro", fs.dir] }).output();
    assert.ok(ro.success);
    const r = await runOnce(chat(fs.dir));
    assert.equal(
      r.stderr,
      `chatnet: Cannot use --downloads ${fs.dir}: the file system is read-only\n`,
    );
    assert.equal(r.code, 2);
  } finally {
    await fs.unmount();
  }
});

Deno.test("a downloads folder that turns read-only mid-run declines the file once, and --send gives up at once", async () => {
  const fs = await tmpfs("1m");
  if (typeof fs === "string") return console.log(`Skipping the read-only mid-run case: ${fs}`);
  const src = await Deno.makeTempDir({ prefix: "chatnet-src-" });
  const [a, b] = freePorts(2);
  const bob = jsonPeer({ name: "bob", port: b, peer: a, args: ["--downloads", fs.dir] });
  try {
    await bob.until(() => bob.of("ready").length === 1, "bob's start");
    const ro = await new Deno.Command("mount", { args: ["-o", "remount,ro", fs.dir] }).output();
    assert.ok(ro.success);
    const file = join(src, "small.txt");
    await Deno.writeTextFile(file, "small\n");
    const started = Date.now();
    const r = await runOnce(["-p", String(a), "--peer", `127.0.0.1:${b}`, "--send", file]);
    const why = `cannot store small.txt: the file system is read-only in ${fs.dir}`;
    assert.equal(r.code, 1, r.stderr);
    assert.ok(Date.now() - started < 10_000, "gave up at once, not at the timeout");
    assert.deepEqual(
      r.stderr.split("\n").filter((l) => /declined|interrupted/.test(l)),
      [`chatnet: The peer declined small.txt: ${why}`],
    );
    const errors = bob.of("error").filter((e) => e.code !== "unreachable");
    assert.deepEqual(errors.map((e) => [e.code, e.message]), [
      ["declined", `Declined small.txt: the file system is read-only in ${fs.dir}`],
    ]);
  } finally {
    bob.kill();
    await bob.exit();
    await fs.unmount();
    await Deno.remove(src, { recursive: true });
  }
});
