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
