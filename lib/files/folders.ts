/**
 * Where a received folder goes. A folder offered while the downloads folder already holds one of
 * its name lands beside it as "name (1)/", as a browser or a file manager does, rather than its
 * files mixing into the old one as "photo (1).jpg" each. The choice is made once per offer and
 * kept with the offer's record (lib/files/consent.ts, journaled), so a restart resumes into the
 * same folder.
 */
import { join } from "node:path";
import type { OfferGroup } from "./control.ts";
import { safeRelativePath } from "./names.ts";
import { type Fs, fsError } from "../store/fs.ts";

export interface FolderPlacesOptions {
  fs: Fs;
  /** The folder an earlier run chose for offer `id`, if any. */
  kept(id: string): string | undefined;
  /** Keeps the choice for offer `g` (in the journal). */
  keep(g: OfferGroup, folder: string): void;
}

export class FolderPlaces {
  #o: FolderPlacesOptions;
  /** Offer id → its folder's name, once chosen (a promise: its files may come at once). */
  #chosen = new Map<string, Promise<string>>();
  /** Names chosen in this run, made on disk or not yet. */
  #taken = new Set<string>();

  constructor(o: FolderPlacesOptions) {
    this.#o = o;
  }

  /** The name under `root` that folder `top` of offer `g` goes to. `part`: the path, below `top`,
   * of the `.part` this file would resume from (a run that died before it could keep its choice
   * had made `top` itself). */
  place(g: OfferGroup, o: { top: string; root: string; part: string }): Promise<string> {
    let chosen = this.#chosen.get(g.id);
    if (!chosen) {
      chosen = this.#choose(g, o);
      this.#chosen.set(g.id, chosen);
    }
    return chosen;
  }

  async #choose(g: OfferGroup, o: { top: string; root: string; part: string }): Promise<string> {
    const kept = this.#o.kept(g.id);
    // The journal is ours, but a damaged one must not lead anywhere but one folder down.
    const safe = kept === undefined ? undefined : safeRelativePath(kept);
    if (Array.isArray(safe) && safe.length === 1 && safe[0] === kept) return this.#take(kept!);
    if (await this.#exists(join(o.root, o.top, o.part))) return this.#keep(g, o.top);
    for (let n = 0;; n++) {
      const name = n === 0 ? o.top : `${o.top} (${n})`;
      if (this.#taken.has(name) || await this.#exists(join(o.root, name))) continue;
      // Checked again after the wait: another offer may have taken it meanwhile.
      if (!this.#taken.has(name)) return this.#keep(g, name);
    }
  }

  #keep(g: OfferGroup, name: string): string {
    this.#o.keep(g, name);
    return this.#take(name);
  }

  #take(name: string): string {
    this.#taken.add(name);
    return name;
  }

  async #exists(path: string): Promise<boolean> {
    try {
      await this.#o.fs.stat(path);
      return true;
    } catch (e) {
      if (fsError(e) === "not_found") return false;
      throw e;
    }
  }
}
