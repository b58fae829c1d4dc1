/** The lines the terminal says of transfers: a file done, a folder as it starts and when done. */
import type { FileGroup } from "../../events.ts";
import { formatBytes, visible } from "../format.ts";

/** The line for a finished transfer, new or from the history. */
export function fileDone(
  sent: boolean,
  e: { name: string; path: string; size: number; sha256: string },
) {
  return sent
    ? `✓ Sent ${visible(e.name)} (${formatBytes(e.size)}); the peer verified its SHA-256`
    : `✓ Received ${visible(e.name)} → ${visible(e.path)} (${formatBytes(e.size)}, ` +
      `SHA-256 ${e.sha256.slice(0, 16)}…)`;
}

/** "many/ (2,000 files, 9.6 KiB)". */
export function folderText(g: FileGroup): string {
  return `${visible(g.name)} (${g.files.toLocaleString("en")} files, ${formatBytes(g.size)})`;
}

/** The line for a folder whose every file is through: where it landed, from one file's path. */
export function folderDone(sent: boolean, e: { name: string; path: string; group: FileGroup }) {
  if (sent) return `✓ Sent ${folderText(e.group)}; the peer verified every SHA-256`;
  const inside = e.name.slice(e.name.indexOf("/") + 1);
  const top = e.path.endsWith(inside) ? e.path.slice(0, -inside.length - 1) : e.path;
  return `✓ Received ${folderText(e.group)} → ${visible(top)}`;
}
