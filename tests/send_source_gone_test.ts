/** A file deleted or changed after it was offered is given up at once on both sides, said once,
 * never retried (probe: "it will resume" once a second forever). Real processes on loopback. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProc, type Json, jsonPeer, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";

Deno.test("a queued file deleted or shrunk before the peer returns fails once on both sides, and is not retried", async () => {
  const root = await Deno.makeTempDir({ prefix: "chatnet-gone-" });
  const downloads = join(root, "in");
  await Deno.mkdir(downloads);
  const gone = join(root, "gone.bin"), shrunk = join(root, "shrunk.bin");
  await Deno.writeFile(gone, new Uint8Array(5000));
  await Deno.writeFile(shrunk, new Uint8Array(5000));
  const [a, b] = freePorts(2);
  const alice = jsonPeer({ name: "alice", port: a, peer: b, stateHome: tempStateHome() });
  let bob: ChatProc | undefined;
  try {
    await alice.command({ type: "file", path: gone });
    await alice.command({ type: "file", path: shrunk });
    await alice.until(
      () => alice.of("file_queued").length + alice.of("file_start").length >= 0,
      "",
    );
    await new Promise((r) => setTimeout(r, 300));
    await Deno.remove(gone);
    await Deno.truncate(shrunk, 1000);
    const bobbing = jsonPeer({ name: "bob", port: b, peer: a, args: ["--downloads", downloads] });
    bob = bobbing;
    const failed = (p: ChatProc) => p.of("error").filter((e: Json) => e.code === "transfer_failed");
    await alice.until(() => failed(alice).length === 2, "both failures at alice");
    await bobbing.until(() => failed(bobbing).length === 2, "both failures at bob");
    // Three seconds more: nothing is retried.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(failed(alice).map((e: Json) => e.message).sort(), [
      "Cannot send gone.bin: it was deleted or moved (no such file or folder); send it again",
      "Cannot send shrunk.bin: its size changed from 5,000 bytes to 1,000 bytes; send it again",
    ]);
    assert.deepEqual(failed(bobbing).map((e: Json) => e.message).sort(), [
      "The peer stopped sending gone.bin: the sender's copy: it was deleted or moved (no such file or folder)",
      "The peer stopped sending shrunk.bin: the sender's copy: its size changed from 5,000 bytes to 1,000 bytes",
    ]);
    assert.deepEqual(alice.of("error").filter((e: Json) => e.code === "transfer_interrupted"), []);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(downloads)), []);
  } finally {
    for (const p of [alice, bob]) {
      p?.kill();
      await p?.exit();
    }
    await Deno.remove(root, { recursive: true });
  }
});
