import assert from "node:assert/strict";
import { helpText, OPTIONS } from "../lib/cli/options.ts";
import { manPage } from "../lib/cli/man.ts";
import { parseCli } from "../lib/cli/args.ts";
import { buildCommit } from "../lib/version.ts";

Deno.test("--help and the man page list every option, from one table", () => {
  const help = helpText();
  const man = manPage("9.9.9", "2026-01-01");
  for (const o of OPTIONS) {
    assert.ok(help.includes(`--${o.name}`), `help lacks --${o.name}`);
    assert.ok(man.includes(`\\-\\-${o.name.replaceAll("-", "\\-")}`), `man page lacks --${o.name}`);
    if (o.short) assert.ok(man.includes(`\\-${o.short},`), `man page lacks -${o.short}`);
  }
  assert.match(man, /^\.TH CHATNET 1 "2026-01-01" "chatnet 9\.9\.9"/);
});

Deno.test("--send takes paths after the address arguments as well", () => {
  const c = parseCli(["9000", "10.0.0.2", "9001", "--send", "a.txt", "b dir"]);
  assert.ok(typeof c !== "string");
  assert.deepEqual([c.port, c.peerHost, c.peerPort, c.send], [9000, "10.0.0.2", 9001, [
    "a.txt",
    "b dir",
  ]]);
  const flags = parseCli(["-p", "9000", "--peer", "h:1", "--send", "x", "--send", "y"]);
  assert.ok(typeof flags !== "string");
  assert.deepEqual(flags.send, ["x", "y"]);
});

Deno.test("file options are validated with one-line errors", () => {
  const bad = (args: string[]) => parseCli(["9000", "h", "9001", ...args]);
  assert.equal(bad(["--file-port", "0"]), "Cannot parse --file-port: 0 is outside 1-65535");
  assert.equal(
    bad(["--max-file-size", "lots"]),
    'Cannot parse --max-file-size: "lots" is not a size like 500M or 20G',
  );
  assert.equal(bad(["--downloads", ""]), "Cannot use --downloads: the folder name is empty");
});

Deno.test("a checkout knows its commit, as git names it", async () => {
  const git = await new Deno.Command("git", {
    args: ["rev-parse", "--short=12", "HEAD"],
    stdout: "piped",
  })
    .output();
  assert.equal(buildCommit(), new TextDecoder().decode(git.stdout).trim());
});

Deno.test("secret, state and web options: where the passphrase comes from, and one-line errors", () => {
  const parse = (args: string[], env = {}) => parseCli(["9000", "h", "9001", ...args], env);
  const fromEnv = parse([], { secret: "s3" });
  assert.ok(typeof fromEnv !== "string");
  assert.deepEqual(fromEnv.secret, { from: "env", value: "s3" });
  const fromFile = parse(["--secret-file", "/run/k"], { secret: "s3" });
  assert.ok(typeof fromFile !== "string");
  assert.deepEqual(fromFile.secret, { from: "file", path: "/run/k" }, "a flag beats the variable");
  const none = parse([]);
  assert.ok(typeof none !== "string");
  assert.deepEqual([none.secret, none.history, none.web], [{ from: "none" }, true, false]);
  assert.equal(
    parse(["--secret-file", "k", "--ask-secret"]),
    "Cannot use --secret-file with --ask-secret: choose one",
  );
  assert.equal(parse(["--secret", "x"]), "Unknown option --secret (see chatnet --help)");
  assert.equal(parse(["--state-dir", ""]), "Cannot use --state-dir: the folder name is empty");
  assert.equal(
    parse(["--web-port", "8080"]),
    "Cannot use --web-port, --web-bind or --open without --web",
  );
  assert.equal(
    parse(["--web", "--web-port", "99999"]),
    "Cannot parse --web-port: 99999 is outside 1-65535",
  );
  const web = parse(["--web", "--web-port", "8080", "--web-bind", "[::1]", "--no-history"]);
  assert.ok(typeof web !== "string");
  assert.deepEqual([web.web, web.webPort, web.webBind, web.history], [true, 8080, "::1", false]);
});

Deno.test("a dash-led value is the option's value, and an empty CHATNET_SECRET is a mistake", () => {
  const c = parseCli(["9000", "127.0.0.1", "9001", "--send", "-notes.txt"]);
  assert.ok(typeof c !== "string", String(c));
  assert.deepEqual(c.send, ["-notes.txt"]);
  assert.equal(
    parseCli(["9000", "127.0.0.1", "9001"], { secret: "" }),
    "Cannot use CHATNET_SECRET: it is set but empty; unset it for an unencrypted chat",
  );
  const unset = parseCli(["9000", "127.0.0.1", "9001"], {});
  assert.ok(typeof unset !== "string" && unset.secret.from === "none");
});

Deno.test("--send -- takes every path after the end of options, dashes and all", () => {
  const c = parseCli(["9000", "127.0.0.1", "9001", "--send", "--", "-x.txt", "--b.txt", "c"]);
  assert.ok(typeof c !== "string", String(c));
  assert.deepEqual(c.send, ["-x.txt", "--b.txt", "c"]);
  const before = parseCli(["9000", "127.0.0.1", "9001", "--json", "--send", "--", "a"]);
  assert.ok(typeof before !== "string" && before.json, String(before));
  assert.deepEqual(before.send, ["a"]);
  assert.equal(parseCli(["9000", "127.0.0.1", "9001", "--send", "--"]), "Missing value for --send");
  assert.equal(parseCli(["9000", "127.0.0.1", "9001", "--name", "--"]), "Missing value for --name");
});

Deno.test("--accept takes ask, all or none; ask with --send is refused; unset, main.ts picks", () => {
  const parse = (args: string[]) => parseCli(["9000", "h", "9001", ...args]);
  for (const mode of ["ask", "all", "none"]) {
    const c = parse(["--accept", mode]);
    assert.ok(typeof c !== "string");
    assert.equal(c.accept, mode);
  }
  const unset = parse([]);
  assert.ok(typeof unset !== "string");
  assert.equal(unset.accept, undefined);
  assert.equal(parse(["--accept", "yes"]), 'Cannot use --accept: "yes" is not ask, all or none');
  assert.equal(
    parse(["--accept", "ask", "--send", "a.txt"]),
    "Cannot use --accept ask with --send: nothing would be there to answer an offer",
  );
  const none = parse(["--accept", "none", "--send", "a.txt"]);
  assert.ok(typeof none !== "string");
});
