/** Lines over the limit are skipped as they stream: a flood of huge garbage lines on stdin keeps
 * memory flat, each one is said once, the good lines between them go in order, and the run's
 * status says something was refused. Real processes on loopback. */
import assert from "node:assert/strict";
import { ChatProc, jsonPeer } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { MAX_TEXT_BYTES } from "../lib/peer.ts";
import { MAX_COMMAND_CHARS } from "../lib/ui/json.ts";

const FLOOD_LINES = 40;
const FLOOD_LINE_BYTES = 5 * 1024 * 1024;
/** Deno with a chat running is about 60-90 MiB here; holding one 5 MB line cost 320 MiB. */
const PEAK_LIMIT = 160 * 1024 * 1024;

/** Writes `bytes` of garbage (no newline) in 64 KiB pieces, as a pipe delivers them. */
async function garbage(p: ChatProc, bytes: number): Promise<void> {
  const piece = "z".repeat(64 * 1024);
  for (let n = 0; n < bytes; n += piece.length) await p.write(piece);
}

Deno.test("a flood of 5 MB garbage lines in pipe mode is skipped as it streams: memory stays flat, the good lines arrive in order, exit 1", async () => {
  const [a, b] = freePorts(2);
  const bob = jsonPeer({ name: "bob", port: b, peer: a });
  const alice = new ChatProc(["-p", String(a), "--peer", `127.0.0.1:${b}`, "--timeout", "20"]);
  try {
    await alice.write("first\n");
    for (let i = 0; i < FLOOD_LINES; i++) {
      await garbage(alice, FLOOD_LINE_BYTES);
      await alice.write(`\ngood ${i}\n`);
    }
    await bob.until(() => bob.of("message").length === FLOOD_LINES + 1, "the good lines");
    const { peak } = await alice.memory();
    await alice.closeStdin();
    const status = await alice.exit();
    assert.deepEqual(
      bob.of("message").map((m) => m.text),
      ["first", ...Array.from({ length: FLOOD_LINES }, (_, i) => `good ${i}`)],
    );
    const skipped = alice.stderr.split("\n").filter((l) => l.includes("skipped"));
    assert.equal(skipped.length, FLOOD_LINES, alice.stderr);
    assert.equal(
      skipped[0],
      `chatnet: Cannot send message: ${
        FLOOD_LINE_BYTES.toLocaleString("en")
      } characters is over the ` +
        `limit of ${MAX_TEXT_BYTES.toLocaleString("en")} bytes; skipped`,
    );
    assert.equal(status.code, 1, "a refused line makes the run fail");
    assert.ok(peak < PEAK_LIMIT, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
    console.log(`peak RSS during the flood: ${(peak / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    alice.kill();
    bob.kill();
    await Promise.all([alice.exit(), bob.exit()]);
  }
});

Deno.test("an over-limit JSON command line is one too_long error, and the next command still runs", async () => {
  const [a, b] = freePorts(2);
  const bob = jsonPeer({ name: "bob", port: b, peer: a });
  const alice = jsonPeer({ name: "alice", port: a, peer: b });
  try {
    await garbage(alice, MAX_COMMAND_CHARS + 10);
    await alice.write("\n");
    await alice.command({ type: "send", text: "after" });
    await bob.until(() => bob.of("message").length === 1, "the message after the long line");
    assert.equal(bob.of("message")[0].text, "after");
    const errors = alice.of("error").filter((e) => e.code === "too_long");
    assert.deepEqual(errors.map((e) => e.message), [
      `Cannot read input line: ${64 * 1024 * Math.ceil((MAX_COMMAND_CHARS + 10) / 65536)} ` +
      `characters is over the ${MAX_COMMAND_CHARS}-character limit; skipped`,
    ]);
  } finally {
    alice.kill();
    bob.kill();
    await Promise.all([alice.exit(), bob.exit()]);
  }
});
