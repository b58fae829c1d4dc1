/** The README's exit codes in JSON mode: a refused line or a file that cannot be sent makes the
 * run exit 1 even when every message was delivered; a clean run exits 0. Real processes. */
import assert from "node:assert/strict";
import { jsonPeer } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";

const CASES: { what: string; lines: string[]; code: number; errors: string[] }[] = [
  { what: "everything is delivered", lines: ['{"type":"send","text":"hi"}'], code: 0, errors: [] },
  {
    what: "a line is not JSON",
    lines: ['{"type":"send","text":"hi"}', "not json"],
    code: 1,
    errors: ["bad_input"],
  },
  {
    what: "a file does not exist",
    lines: ['{"type":"send","text":"hi"}', '{"type":"file","path":"/nonexistent/chatnet"}'],
    code: 1,
    errors: ["file_not_found"],
  },
];

for (const { what, lines, code, errors } of CASES) {
  Deno.test(`--json exits ${code} when ${what}`, async () => {
    const [a, b] = freePorts(2);
    const bob = jsonPeer({ name: "bob", port: b, peer: a });
    const alice = jsonPeer({ name: "alice", port: a, peer: b, args: ["--timeout", "10"] });
    try {
      await alice.write(lines.join("\n") + "\n");
      await bob.until(() => bob.of("message").length === 1, "the message");
      await alice.closeStdin();
      const status = await alice.exit();
      assert.deepEqual(alice.of("error").map((e) => e.code), errors);
      assert.deepEqual(alice.of("delivered").map((e) => e.id), [1]);
      assert.equal(status.code, code, alice.stderr);
    } finally {
      alice.kill();
      bob.kill();
      await Promise.all([alice.exit(), bob.exit()]);
    }
  });
}
