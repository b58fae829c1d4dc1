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

function fromGit(read: (path: string) => string): string | undefined {
  try {
    const head = read("../.git/HEAD");
    if (!head.startsWith("ref: ")) return head.slice(0, 12);
    const ref = head.slice(5);
    try {
      return read(`../.git/${ref}`).slice(0, 12);
    } catch {
      const packed = read("../.git/packed-refs").split("\n").find((l) => l.endsWith(` ${ref}`));
      return packed?.slice(0, 12);
    }
  } catch {
    return undefined;
  }
}
