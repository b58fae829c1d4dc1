/** A folder sent with empty sub-folders or links in it: only files travel, and the sender says what
 * stays behind; a folder that holds no file at all is refused (exit 1). Real processes on
 * loopback. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProc, jsonPeer, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";

Deno.test("a folder send names the empty folders and links it leaves out, and an empty folder is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chatnet-gaps-" });
  const downloads = join(dir, "in"), top = join(dir, "top"), empty = join(dir, "empty");
  for (
    const d of [downloads, join(top, "e1", "deeper"), join(top, "sub", "e2"), join(empty, "x")]
  ) {
    await Deno.mkdir(d, { recursive: true });
  }
  await Deno.writeTextFile(join(top, "sub", "f.txt"), "hi\n");
  await Deno.symlink("/etc/hostname", join(top, "link"));
  const [a, b] = freePorts(2);
  const bob = jsonPeer({ name: "bob", port: b, peer: a, args: ["--downloads", downloads] });
  const send = new ChatProc(
    ["-p", String(a), "--peer", `127.0.0.1:${b}`, "--timeout", "20", "--send", top, empty],
    { stateHome: tempStateHome() },
  );
  try {
    const status = await send.exit();
    assert.equal(status.code, 1, send.stderr);
    const said = send.stderr.split("\n").filter((l) => !l.includes("NOT encrypted") && l);
    assert.deepEqual(said.filter((l) => !l.endsWith("peer online") && !l.includes("waiting for")), [
      `chatnet: Sending ${top}, but its 2 empty folders and 1 link or other entry are not sent (only files travel, with the folders that hold them)`,
      `chatnet: Cannot send ${empty}: it holds no files; its 1 empty folder is not sent (only files travel, with the folders that hold them)`,
    ]);
    await bob.until(() => bob.of("file_received").length >= 1, "the file");
    assert.deepEqual(bob.of("file_received").map((e) => e.name), ["top/sub/f.txt"]);
    assert.equal(await Deno.readTextFile(join(downloads, "top", "sub", "f.txt")), "hi\n");
  } finally {
    send.kill();
    bob.kill();
    await Promise.all([send.exit(), bob.exit()]);
    await Deno.remove(dir, { recursive: true });
  }
});
