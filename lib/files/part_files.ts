/**
 * A received file on disk while it arrives: the `.part` it grows in, what a `.part` left by an
 * earlier try holds (to resume from), its background writeback, and the name it is renamed to.
 */
import type { Hash } from "node:crypto";
import { join, sep } from "node:path";
import { numbered } from "./names.ts";
import { hashPrefix } from "../net/file_stream.ts";
import { type FileHandle, type Fs, fsError } from "../store/fs.ts";
import { tryClose } from "./transfer_common.ts";

/** Received bytes between background fdatasyncs (see earlyWriteback). */
const WRITEBACK_BYTES = 64 * 2 ** 20;

/** Every WRITEBACK_BYTES received, starts an fdatasync in the background (one at a time), so the
 * disk writes while the network reads and the fsync before the rename finds little left to do. It
 * runs on a handle of its own: Deno runs one handle's operations one after another, so a sync on
 * the handle being written would stop the writes until the disk caught up. */
export function earlyWriteback(
  fs: Fs,
  path: string,
): { add(n: number): void; done(): Promise<void> } {
  let since = 0;
  let running: Promise<void> | undefined;
  let handle: Promise<FileHandle> | undefined;
  return {
    add(n) {
      since += n;
      if (since < WRITEBACK_BYTES || running) return;
      since = 0;
      handle ??= fs.open(path, { read: true });
      running = handle.then((f) => f.syncData()).catch(() => {}).finally(() => running = undefined);
    },
    async done() {
      await running;
      const f = await handle?.catch(() => undefined);
      if (f) tryClose(f);
    },
  };
}

/** Where transfer `id` of a file named `base` grows: "movie.bin.<id>.part". */
export function partName(base: string, id: string): string {
  return `${base}.${id}.part`;
}

/** Claims the first free name among "x.ext", "x (1).ext", … by creating it exclusively. */
export async function claimName(fs: Fs, dir: string, base: string): Promise<string> {
  for (let n = 0;; n++) {
    const candidate = join(dir, numbered(base, n));
    try {
      (await fs.open(candidate, { write: true, createNew: true })).close();
      return candidate;
    } catch (e) {
      if (fsError(e) !== "exists") throw e;
    }
  }
}

/** How many bytes of the `.part` at `path` a transfer of `size` bytes resumes from, hashed into
 * `hash`: 0 when there is none, or when it is longer than the file offered (it starts over). */
export async function prefixOf(fs: Fs, path: string, size: number, hash: Hash): Promise<number> {
  let file: FileHandle;
  try {
    file = await fs.open(path, { read: true });
  } catch (e) {
    if (fsError(e) === "not_found") return 0;
    throw e;
  }
  try {
    const n = (await file.stat()).size;
    if (n > size) return 0;
    if (!await hashPrefix(file, n, hash)) throw new Error("the partial file shrank");
    return n;
  } finally {
    tryClose(file);
  }
}

export function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}
