/** `--send` on a terminal draws one progress bar line on stderr and clears it before its result;
 * Ctrl-C (SIGINT) mid-file says what is kept for the next run. Real processes; the terminal is
 * a pty from script(1). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProc, hasScript, jsonPeer, MAIN, PERMISSIONS, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { makeFile } from "./file_fixtures.ts";

const missing = !await hasScript();
if (missing) console.log("Skipping the --send bar test: script(1) is not installed");

Deno.test({
  name: "--send on a terminal shows a progress bar on one line, cleared before the result",
  ignore: missing,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chatnet-sendbar-" });
    const file = join(dir, "big.bin");
    await makeFile(file, 64 * 2 ** 20, 3);
    const [a, b] = freePorts(2);
    const bob = jsonPeer({ name: "bob", port: b, peer: a, args: ["--downloads", dir + "/in"] });
    const argv = [
      Deno.execPath(),
      "run",
      ...PERMISSIONS,
      MAIN,
      ...["-p", String(a), "--peer", `127.0.0.1:${b}`, "--send", file],
    ].map((x) => `'${x}'`).join(" ");
    try {
      const out = await new Deno.Command("script", {
        args: ["-qfec", `stty cols 80; ${argv}`, "/dev/null"],
        env: { NO_COLOR: "1", XDG_STATE_HOME: tempStateHome() },
        stdin: "null",
        stdout: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, text);
      const bars = text.split("\r\x1b[2K").filter((s) => s.startsWith("↑ big.bin ["));
      assert.ok(bars.length >= 1, JSON.stringify(text));
      for (const bar of bars) {
        assert.match(bar, /^↑ big\.bin \[[█░]+\] \d+% [\d.]+ [KM]?i?B\/64 MiB/);
        assert.ok(bar.length < 80 && !bar.includes("\n"), bar);
      }
      // The bar's line is cleared, then the result has a line of its own.
      assert.match(text, /\r\x1b\[2Ksent big\.bin \(67108864 bytes, sha256 [0-9a-f]{64}\)\r?\n/);
    } finally {
      bob.kill();
      await bob.exit();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("Ctrl-C during --send says the file is kept for the next run, and exits 130", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chatnet-sendint-" });
  const file = join(dir, "big.bin");
  await makeFile(file, 1024, 4);
  const [a, b] = freePorts(2);
  // Nobody at the peer's port: the file waits, as it would for a peer that is away.
  const send = new ChatProc(["-p", String(a), "--peer", `127.0.0.1:${b}`, "--send", file], {
    stateHome: tempStateHome(),
  });
  try {
    await send.until(() => send.stderr.includes("waiting for"), "the wait");
    send.child.kill("SIGINT");
    assert.equal((await send.exit()).code, 130);
    assert.match(
      send.stderr,
      /^chatnet: Left with 1 file transfer unfinished; it is kept for the next time chatnet runs with this peer\.$/m,
    );
  } finally {
    send.kill();
    await send.exit();
    await Deno.remove(dir, { recursive: true });
  }
});
