/**
 * `deno task smoke-binary`: runs the compiled binary for this machine: --version, the demo, and
 * two binaries chatting over loopback. The binary needs Deno's real base runtime: build it with
 * `deno task compile` where Deno's servers are reachable, or set DENORT_BIN=/path/to/denort.
 * Without it, this says why and skips (exit 0).
 */
import { VERSION } from "../lib/version.ts";
import { LIBCRYPTO_PATHS } from "../lib/native/openssl_aead.ts";

const root = new URL("../", import.meta.url).pathname;
const target = Deno.build.target;
const binary = `${root}dist/chatnet-${target}`;
const decoder = new TextDecoder();

function skip(why: string): never {
  console.log(`smoke-binary skipped: ${why}`);
  Deno.exit(0);
}

/** A state directory of its own, and a passphrase, so the chat below runs encrypted: the binary
 * must be allowed to read CHATNET_SECRET and to write its journal. */
const env = {
  XDG_STATE_HOME: Deno.makeTempDirSync({ prefix: "chatnet-smoke-" }),
  CHATNET_SECRET: "smoke test",
};

async function run(args: string[], input?: string) {
  const child = new Deno.Command(binary, {
    args,
    env,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error(`smoke-binary FAILED: ${what}`);
    Deno.exit(1);
  }
  console.log(`ok: ${what}`);
}

try {
  await Deno.stat(binary);
} catch {
  const build = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "scripts/build.ts",
    ],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!build.success) {
    skip(
      `no ${binary.slice(root.length)}, and deno compile could not get Deno's base runtime ` +
        "(set DENORT_BIN=/path/to/denort, or run where Deno's servers are reachable)",
    );
  }
}

const version = await run(["--version"]);
if (version.code !== 0 && /exec format|not an ELF/i.test(version.stderr)) {
  skip("the binary is not runnable here");
}
check(
  version.code === 0 && version.stdout.startsWith(`chatnet ${VERSION} (commit `),
  `--version: ${version.stdout.trim()}`,
);
check(!version.stdout.includes("commit unknown"), "the version names the commit");

const demo = await run(["demo"]);
check(
  demo.code === 0 && demo.stdout.includes("all delivered exactly once and in order"),
  "demo exits 0",
);

const ports = [0, 1].map(() => {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const p = (s.addr as Deno.NetAddr).port;
  s.close();
  return p;
});
const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
// B keeps its input open (so it stays) until it has printed all of A's lines.
const b = new Deno.Command(binary, {
  args: [String(ports[1]), "127.0.0.1", String(ports[0]), "--sim", "loss=20%,seed=4"],
  env,
  stdin: "piped",
  stdout: "piped",
  stderr: "null",
}).spawn();
const a = run(
  [String(ports[0]), "127.0.0.1", String(ports[1]), "--sim", "loss=20%,seed=3"],
  lines.join("\n") + "\n",
);
let got = "";
const reader = b.stdout.pipeThrough(new TextDecoderStream()).getReader();
const deadline = setTimeout(() => b.kill(), 30_000);
while (got.split("\n").length <= lines.length) {
  const { value, done } = await reader.read();
  if (done) break;
  got += value;
}
clearTimeout(deadline);
await b.stdin.close();
check((await a).code === 0, "the sending binary exits 0 once everything is delivered");
check(got === lines.join("\n") + "\n", "the other binary printed all 50 lines, in order, once");
check((await b.status).code === 0, "the receiving binary exits 0 at the end of its input");

// The binary's --allow-ffi must let it load the host's libcrypto, where there is one.
const libcrypto = LIBCRYPTO_PATHS.find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
const stats = await run(
  ["--json", "-p", String(ports[0]), "--peer", `127.0.0.1:${ports[1]}`],
  '{"type":"stats"}\n{"type":"quit"}\n',
);
const cipher = /"cipher":"([^"]*)"/.exec(stats.stdout)?.[1] ?? "";
check(
  libcrypto ? cipher.includes("OpenSSL") : cipher.includes("node:crypto"),
  `the cipher is ${cipher || "not reported"} (libcrypto here: ${libcrypto ?? "none"})`,
);
