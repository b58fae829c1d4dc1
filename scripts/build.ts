/**
 * `deno task compile`: one self-contained binary per target in dist/, stamped with the commit,
 * with SHA256SUMS beside them. Needs Deno's base runtime (denort), which deno compile downloads.
 *
 * `deno task compile --check-graph` proves the compile graph is complete without that download:
 * it runs deno compile with DENORT_BIN pointing at a stand-in, prints the embedded file list and
 * fails if any module or asset is missing from it.
 */
import { createHash } from "node:crypto";
import { ALLOW_FFI } from "../lib/native/openssl_aead.ts";

export const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];
/** The narrowest permissions chatnet works with: never -A. */
export const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env=USER,NO_COLOR,HOME,XDG_STATE_HOME,CHATNET_SECRET,CHATNET_OPENSSL,CHATNET_NATIVE_UDP",
  "--allow-run=xdg-open",
  "--allow-sys=statfs,networkInterfaces",
  ALLOW_FFI,
];
/** Files read at run time, embedded into the binary. */
export const ASSETS = ["build/commit.txt"];

const root = new URL("../", import.meta.url).pathname;
const decoder = new TextDecoder();

async function git(args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: root, stdout: "piped", stderr: "null" })
    .output();
  return out.success ? decoder.decode(out.stdout).trim() : "";
}

async function stampCommit(): Promise<string> {
  const commit = (await git(["rev-parse", "--short=12", "HEAD"])) || "unknown";
  const dirty = (await git(["status", "--porcelain", "--untracked-files=no"])) ? "-dirty" : "";
  await Deno.mkdir(`${root}build`, { recursive: true });
  await Deno.writeTextFile(`${root}build/commit.txt`, `${commit}${dirty}\n`);
  return commit + dirty;
}

function compileArgs(target: string, output: string): string[] {
  return [
    "compile",
    "--unstable-net",
    ...PERMISSIONS,
    ...ASSETS.flatMap((a) => ["--include", a]),
    "--target",
    target,
    "--output",
    output,
    "main.ts",
  ];
}

async function compile(target: string, output: string, env: Record<string, string> = {}) {
  return await new Deno.Command(Deno.execPath(), {
    args: compileArgs(target, output),
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** Every module main.ts loads at run time (type-only imports are erased), from deno info. */
async function moduleGraph(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: root,
    stdout: "piped",
  })
    .output();
  const info = JSON.parse(decoder.decode(out.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
  };
  const runtime = new Set(info.roots);
  for (const m of info.modules) {
    for (const d of m.dependencies ?? []) if (d.code) runtime.add(d.code.specifier);
  }
  return [...runtime].filter((s) => s.startsWith("file://")).map((s) =>
    new URL(s).pathname.slice(root.length)
  );
}

async function checkGraph(): Promise<number> {
  await stampCommit();
  // Any ELF file will do: deno compile appends the program to it. The result does not run.
  const standIn = await Deno.makeTempFile({ prefix: "denort-stand-in-" });
  await Deno.copyFile("/bin/true", standIn);
  const output = `${await Deno.makeTempDir({ prefix: "chatnet-graph-check-" })}/chatnet`;
  const r = await compile(TARGETS[0], output, { DENORT_BIN: standIn, NO_COLOR: "1" });
  const text = decoder.decode(r.stdout) + decoder.decode(r.stderr);
  console.log(text.trim());
  await Deno.remove(standIn);
  await Deno.remove(output.slice(0, output.lastIndexOf("/")), { recursive: true }).catch(() => {});
  if (!r.success) {
    console.error("compile graph check: deno compile failed");
    return 1;
  }
  const expected = [...await moduleGraph(), ...ASSETS];
  // The listing is a tree that folds a folder into "name/*": a file is there if its own name is
  // listed or one of its folders is folded.
  const listed = (f: string) => {
    const parts = f.split("/");
    return text.includes(`── ${parts.at(-1)}`) ||
      parts.slice(0, -1).some((dir) => text.includes(`── ${dir}/*`));
  };
  const missing = expected.filter((f) => !listed(f));
  if (missing.length) {
    console.error(`compile graph check: not embedded: ${missing.join(", ")}`);
    return 1;
  }
  console.log(`compile graph check: all ${expected.length} modules and assets are embedded`);
  return 0;
}

async function build(): Promise<number> {
  const commit = await stampCommit();
  await Deno.mkdir(`${root}dist`, { recursive: true });
  const sums: string[] = [];
  for (const target of TARGETS) {
    const name = `chatnet-${target}`;
    const r = await compile(target, `dist/${name}`);
    if (!r.success) {
      console.error(decoder.decode(r.stderr).trim());
      console.error(
        `Cannot compile ${name}: deno compile needs Deno's base runtime for ${target}, ` +
          "downloaded from Deno's servers (or set DENORT_BIN)",
      );
      return 1;
    }
    const hash = createHash("sha256").update(await Deno.readFile(`${root}dist/${name}`)).digest(
      "hex",
    );
    sums.push(`${hash}  ${name}`);
    console.log(`built dist/${name} (commit ${commit})`);
  }
  await Deno.writeTextFile(`${root}dist/SHA256SUMS`, sums.join("\n") + "\n");
  console.log("wrote dist/SHA256SUMS");
  return 0;
}

if (import.meta.main) {
  Deno.exit(Deno.args.includes("--check-graph") ? await checkGraph() : await build());
}
