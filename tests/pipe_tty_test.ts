/** Pipe mode whose stdout is a terminal shows the peer's control characters (^[), so a peer can
 * neither clear the screen nor retitle the window; into a file the text goes as it came. Real
 * processes; the terminal is a pty from script(1). */
import assert from "node:assert/strict";
import { ChatProc, hasScript, MAIN, PERMISSIONS, tempStateHome } from "./proc.ts";
import { freePorts } from "../lib/demo.ts";

const HOSTILE = "\x1b[2J\x1b[H\x1b[31mSCREEN CLEARED\x1b]0;pwned\x07";

const missing = !await hasScript();
if (missing) console.log("Skipping the pipe-on-a-terminal test: script(1) is not installed");

Deno.test({
  name: "pipe mode on a terminal shows a peer's escape sequences instead of obeying them",
  ignore: missing,
  async fn() {
    const [a, b] = freePorts(2);
    const sender = new ChatProc(["-p", String(a), "--peer", `127.0.0.1:${b}`, "--timeout", "10"]);
    // stdin a pipe (sleep), stdout the pty script(1) makes: pipe mode with a terminal to draw on.
    const argv = [
      Deno.execPath(),
      "run",
      ...PERMISSIONS,
      MAIN,
      "-p",
      String(b),
      "--peer",
      `127.0.0.1:${a}`,
      "--timeout",
      "1",
    ].map((x) => `'${x}'`).join(" ");
    const receiver = new Deno.Command("script", {
      args: ["-qfec", `sleep 4 | ${argv}`, "/dev/null"],
      env: { NO_COLOR: "1", XDG_STATE_HOME: tempStateHome() },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      await sender.write(`before\n${HOSTILE}\nafter\n`);
      await sender.closeStdin();
      const out = new TextDecoder().decode((await receiver.output()).stdout);
      const lines = out.split(/\r?\n/).filter((l) => !l.startsWith("chatnet:"));
      assert.deepEqual(lines.slice(0, 3), [
        "before",
        "^[[2J^[[H^[[31mSCREEN CLEARED^[]0;pwned^G",
        "after",
      ]);
      assert.ok(!out.includes("\x1b"), "no raw escape reached the terminal");
    } finally {
      sender.kill();
      await sender.exit();
    }
  },
});
