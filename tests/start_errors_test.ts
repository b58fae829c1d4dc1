/** Start-up mistakes a new user makes get one line in our words and exit 2 (usage), never the
 * argument parser's or Deno's wording. Real processes. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runOnce } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";
import { parseCli } from "../lib/cli/args.ts";

Deno.test("a negative number after a flag is judged as a value, not as an ambiguous option", () => {
  assert.equal(
    parseCli(["--timeout", "-1", "9000", "127.0.0.1", "9001"]),
    'Cannot parse --timeout: "-1" is not a number of seconds',
  );
  assert.equal(
    parseCli(["--timeout=-1", "9000", "127.0.0.1", "9001"]),
    'Cannot parse --timeout: "-1" is not a number of seconds',
  );
});

Deno.test("a state directory, secret file or pair that cannot work is a usage error in our words", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chatnet-start-" });
  const [port, peer] = freePorts(2);
  const chat = ["-p", String(port), "--peer", `127.0.0.1:${peer}`];
  try {
    const file = join(dir, "afile");
    await Deno.writeTextFile(file, "hi\n");
    const blank = join(dir, "blank");
    await Deno.writeTextFile(blank, "\n\n");
    const cases: [string[], string][] = [
      [
        [...chat, "--state-dir", file],
        `Cannot use state directory ${file}: it is a file, not a folder`,
      ],
      [
        [...chat, "--secret-file", blank],
        `Cannot use --secret-file ${blank}: its first line is empty`,
      ],
      [
        ["--join", "nosuchpeer", "--wait", "1", "--state-dir", join(dir, "state")],
        "Cannot join nosuchpeer: no pair of that name (none yet); pair first with chatnet " +
        "--invite on one host and --join CODE on the other",
      ],
    ];
    for (const [args, line] of cases) {
      const r = await runOnce(args);
      assert.equal(r.stderr, `chatnet: ${line}\n`, args.join(" "));
      assert.equal(r.code, 2, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
