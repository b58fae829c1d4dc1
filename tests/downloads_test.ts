/** `--downloads` is checked at start: a folder we can write, made if missing (and said), and
 * otherwise one line in our words and exit 2, before any peer could offer a file. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runOnce } from "./proc.ts";
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
