/** A state directory remembers its peer: messages queued for one peer are never handed to another
 * that reuses the directory. Real processes on loopback. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProc } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";

Deno.test("a state directory holding messages for one peer refuses another, and follows it once they are delivered", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-statepeer-" });
  const state = join(root, "state");
  const [me, bob, carol] = freePorts(3);
  const run = (peer: number, timeout: string) =>
    new ChatProc([
      "-p",
      String(me),
      "--peer",
      `127.0.0.1:${peer}`,
      "--state-dir",
      state,
      "--timeout",
      timeout,
    ]);
  try {
    const first = run(bob, "1");
    await first.write("for bob only\n");
    await first.closeStdin();
    assert.equal((await first.exit()).code, 1);
    // Carol is not bob: the queued line stays for bob, and the user is told why.
    const wrong = run(carol, "1");
    await wrong.closeStdin();
    assert.equal((await wrong.exit()).code, 2);
    assert.match(
      wrong.stderr,
      new RegExp(
        `^chatnet: Cannot use state directory ${state} for 127\\.0\\.0\\.1:${carol}: it holds 1 ` +
          `message waiting for 127\\.0\\.0\\.1:${bob}; chat with 127\\.0\\.0\\.1:${bob} to deliver ` +
          "them, or give this chat another --state-dir$",
        "m",
      ),
    );
    // Bob comes: the line goes to him; then the directory may serve carol.
    const bobSide = new ChatProc(["-p", String(bob), "--peer", `127.0.0.1:${me}`], {});
    const again = run(bob, "20");
    await again.closeStdin();
    assert.equal((await again.exit()).code, 0, again.stderr);
    await bobSide.until(() => bobSide.lines.includes("for bob only"), "bob's line");
    bobSide.kill();
    await bobSide.exit();
    const carolSide = new ChatProc(["-p", String(carol), "--peer", `127.0.0.1:${me}`], {});
    const later = run(carol, "20");
    await later.write("hi carol\n");
    await later.closeStdin();
    assert.equal((await later.exit()).code, 0, later.stderr);
    await carolSide.until(() => carolSide.lines.includes("hi carol"), "carol's line");
    assert.deepEqual(carolSide.lines.filter((l) => l), ["hi carol"]);
    carolSide.kill();
    await carolSide.exit();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a state directory made by hand gets its files private to the user, and says so", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-statemode-" });
  await Deno.chmod(root, 0o755);
  await Deno.writeTextFile(join(root, "history.jsonl"), "");
  await Deno.chmod(join(root, "history.jsonl"), 0o644);
  const [me, peer] = freePorts(2);
  const p = new ChatProc([
    "-p",
    String(me),
    "--peer",
    `127.0.0.1:${peer}`,
    "--state-dir",
    root,
    "--timeout",
    "1",
  ]);
  try {
    await p.write("kept\n");
    await p.closeStdin();
    await p.exit();
    assert.match(
      p.stderr,
      new RegExp(
        `^chatnet: Made history\\.jsonl in ${root} readable by you alone \\(other users could read it\\)$`,
        "m",
      ),
    );
    for await (const e of Deno.readDir(root)) {
      const mode = (await Deno.stat(join(root, e.name))).mode! & 0o777;
      assert.equal(mode.toString(8), "600", e.name);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a state directory with a planted link, writable by others, or another user's is refused, and nothing is written through it", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-stateunsafe-" });
  const victim = join(root, "victim");
  await Deno.writeTextFile(victim, "VICTIM\n");
  const [me, peer] = freePorts(2);
  const start = async (dir: string) => {
    const p = new ChatProc([
      "-p",
      String(me),
      "--peer",
      `127.0.0.1:${peer}`,
      "--state-dir",
      dir,
      "--timeout",
      "1",
    ]);
    await p.write("hi\n");
    await p.closeStdin();
    return { code: (await p.exit()).code, err: p.stderr };
  };
  try {
    const linked = join(root, "linked");
    await Deno.mkdir(linked, { mode: 0o700 });
    await Deno.symlink(victim, join(linked, "history.jsonl"));
    const a = await start(linked);
    assert.equal(a.code, 2);
    assert.match(
      a.err,
      new RegExp(
        `^chatnet: Cannot use state directory ${linked}: it holds a symbolic link, history\\.jsonl: remove it \\(chatnet follows none\\)$`,
        "m",
      ),
    );
    assert.equal(await Deno.readTextFile(victim), "VICTIM\n");
    const open = join(root, "open");
    await Deno.mkdir(open);
    await Deno.chmod(open, 0o777);
    const b = await start(open);
    assert.equal(b.code, 2);
    assert.match(b.err, /: other users may write to it \(mode 777\): chmod 700 /);
    if (Deno.uid() === 0) {
      const theirs = join(root, "theirs");
      await Deno.mkdir(theirs, { mode: 0o700 });
      await Deno.chown(theirs, 65534, 65534);
      const c = await start(theirs);
      assert.equal(c.code, 2);
      assert.match(c.err, /: it belongs to another user \(uid 65534\); use a folder of your own/);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
