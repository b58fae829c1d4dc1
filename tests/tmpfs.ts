/** Real small file systems for tests of full and read-only disks (we are root in CI). */

/** Mounts a tmpfs of `size` at a new temporary folder; undefined (and why) where we cannot. */
export async function tmpfs(
  size: string,
): Promise<{ dir: string; unmount(): Promise<void> } | string> {
  if (Deno.uid() !== 0) return "not root (mount needs it)";
  const dir = await Deno.makeTempDir({ prefix: `chatnet-statefs-${Deno.pid}-` });
  const r = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stderr: "piped",
  }).output();
  if (!r.success) {
    await Deno.remove(dir);
    return `mount -t tmpfs failed: ${new TextDecoder().decode(r.stderr).trim()}`;
  }
  return {
    dir,
    async unmount() {
      await new Deno.Command("umount", { args: ["-l", dir] }).output();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
