/**
 * What `/send PATH` offers: a file, or every regular file under a folder with the names the peer
 * will see, and what a folder holds that does not travel (empty folders, links).
 */
import { basename, join, relative, resolve, sep } from "node:path";
import type { Fs } from "../store/fs.ts";
import { countsText } from "../bytes.ts";

export interface Expanded {
  files: { path: string; name: string; size: number }[];
  /** Under a folder: sub-folders with no file anywhere below them, and entries that are neither
   * files nor folders (symbolic links, sockets, devices). Only files travel. */
  emptyFolders: number;
  others: number;
}

/** A file, or every regular file under a folder, with the names the peer will see. */
export async function expand(fs: Fs, path: string): Promise<Expanded> {
  const info = await fs.stat(path);
  const found: Expanded = { files: [], emptyFolders: 0, others: 0 };
  if (info.isFile) {
    found.files.push({ path: resolve(path), name: basename(resolve(path)), size: info.size });
    return found;
  }
  if (!info.isDirectory) throw new Error("not a file or folder");
  const top = resolve(path);
  const prefix = basename(top);
  /** Walks `dir`; says whether any file lies below it. A folder with none is counted once, at
   * its top: where its parent holds files, or is the folder sent. */
  const walk = async (dir: string): Promise<boolean> => {
    const entries = [];
    for await (const e of fs.readDir(dir)) entries.push(e);
    entries.sort((a, b) => a.name < b.name ? -1 : 1);
    let any = false, fileless = 0;
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory) {
        if (await walk(full)) any = true;
        else fileless++;
      } else if (e.isFile) {
        any = true;
        found.files.push({
          path: full,
          name: `${prefix}/${relative(top, full).split(sep).join("/")}`,
          size: (await fs.stat(full)).size,
        });
      } else found.others++;
    }
    if (any || dir === top) found.emptyFolders += fileless;
    return any;
  };
  await walk(top);
  return found;
}

/** "its 2 empty folders and 1 link are not sent (…)", or "". */
export function leftOut(x: Expanded): string {
  const list = countsText([
    [x.emptyFolders, "empty folder", "empty folders"],
    [x.others, "link or other entry", "links or other entries"],
  ]);
  if (!list) return "";
  const verb = x.emptyFolders + x.others === 1 ? "is" : "are";
  return `its ${list} ${verb} not sent (only files travel, with the folders that hold them)`;
}
