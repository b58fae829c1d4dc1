/** The release version, and the commit this copy was built from. */
export const VERSION = "0.1.0";

/**
 * A checkout reads .git directly; a compiled binary (which embeds no .git) reads the
 * build/commit.txt that scripts/build.ts wrote and embedded with --include.
 */
export function buildCommit(): string {
  const read = (path: string) => Deno.readTextFileSync(new URL(path, import.meta.url)).trim();
  return fromGit(read) ?? fromBuild(read) ?? "unknown";
}

function fromBuild(read: (path: string) => string): string | undefined {
  try {
    return read("../build/commit.txt");
  } catch {
    return undefined;
  }
}

/** Reads HEAD through `.git`, which in a worktree is a file naming the real git folder (whose
 * `commondir` names the shared one, where branches and packed refs live). */
function fromGit(read: (path: string) => string): string | undefined {
  try {
    let dir = "../.git/";
    let common = dir;
    try {
      read(`${dir}HEAD`);
    } catch {
      const link = read("../.git").match(/^gitdir: (.+)$/m)?.[1];
      if (!link) return undefined;
      dir = link.startsWith("/") ? `file://${link}/` : `../${link}/`;
      common = new URL(`${read(`${dir}commondir`)}/`, new URL(dir, import.meta.url)).href;
    }
    const head = read(`${dir}HEAD`);
    if (!head.startsWith("ref: ")) return head.slice(0, 12);
    const ref = head.slice(5);
    try {
      return read(`${common}${ref}`).slice(0, 12);
    } catch {
      const packed = read(`${common}packed-refs`).split("\n").find((l) => l.endsWith(` ${ref}`));
      return packed?.slice(0, 12);
    }
  } catch {
    return undefined;
  }
}
