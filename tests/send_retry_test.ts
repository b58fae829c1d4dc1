/** A --send that gave up keeps its files for the next run and says so; retrying the same command
 * then delivers one copy, not two. Real processes on loopback. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProc, jsonPeer, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";

Deno.test("a retried --send after a timeout delivers the file once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chatnet-retry-" });
  const downloads = join(dir, "in");
  await Deno.mkdir(downloads);
  const file = join(dir, "small.txt");
  await Deno.writeTextFile(file, "small\n");
  const [a, b] = freePorts(2);
  const home = tempStateHome();
  const send = (timeout: string) =>
    new ChatProc([
      "-p",
      String(a),
      "--peer",
      `127.0.0.1:${b}`,
      "--timeout",
      timeout,
      "--send",
      file,
    ], {
      stateHome: home,
    });
  const first = send("1");
  const gaveUp = await first.exit();
  assert.equal(gaveUp.code, 1);
  assert.match(
    first.stderr,
    /^chatnet: gave up: the peer was unreachable for 1 s; the file is kept and sent the next time chatnet runs with this peer \(sending the same path again does not send it twice\)$/m,
  );
  const bob = jsonPeer({ name: "bob", port: b, peer: a, args: ["--downloads", downloads] });
  const retry = send("20");
  try {
    const status = await retry.exit();
    assert.equal(status.code, 0, retry.stderr);
    assert.equal(
      retry.lines.filter((l) => l.startsWith("sent small.txt")).length,
      1,
      retry.lines.join("\n"),
    );
    await bob.until(() => bob.of("file_received").length >= 1, "the file");
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(bob.of("file_received").map((e) => e.name), ["small.txt"]);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(downloads))).map((e) => e.name), [
      "small.txt",
    ]);
  } finally {
    retry.kill();
    bob.kill();
    await Promise.all([retry.exit(), bob.exit()]);
    await Deno.remove(dir, { recursive: true });
  }
});
