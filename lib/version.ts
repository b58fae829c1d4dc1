/** The release version, and the commit this copy was built from. */
export const VERSION = "0.1.0";

/**
 * A compiled binary carries build/commit.txt (written by scripts/build.ts, embedded with
 * --include); a checkout reads .git directly. Anything else says "unknown".
 */
export function buildCommit(): string {
  const read = (path: string) => Deno.readTextFileSync(new URL(path, import.meta.url)).trim();
  try {
    return read("../build/commit.txt");
  } catch { /* not a build */ }
  try {
    const head = read("../.git/HEAD");
    if (!head.startsWith("ref: ")) return head.slice(0, 12);
    const ref = head.slice(5);
    try {
      return read(`../.git/${ref}`).slice(0, 12);
    } catch {
      const packed = read("../.git/packed-refs").split("\n").find((l) => l.endsWith(` ${ref}`));
      return packed ? packed.slice(0, 12) : "unknown";
    }
  } catch {
    return "unknown";
  }
}
