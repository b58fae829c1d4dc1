/**
 * The receiving side's offer bookkeeping: offers are handled MAX_OFFERS at a time (the rest wait,
 * in order, each announced by file_queued), each is decided in one place (#handleOffer: declined,
 * or accepted with the offset and prefix hash of what its `.part` holds already), and the accepted
 * transfers are kept until their stream (lib/files/receiver.ts) ends them.
 */
import type { FileGroup } from "../events.ts";
import { createHash, type Hash } from "node:crypto";
import { join, resolve } from "node:path";
import type { FileControl } from "./control.ts";
import { Consent } from "./consent.ts";
import { safeRelativePath } from "./names.ts";
import { FolderPlaces } from "./folders.ts";
import { MAX_OFFERS, Slots } from "./slots.ts";
import type { Clock, TimerId } from "../net/clock.ts";
import { describeFsError, type FileHandle, type Fs } from "../store/fs.ts";
import { inside, partName, prefixOf } from "./part_files.ts";
import { formatBytes } from "../ui/format.ts";
import { bytesText } from "../bytes.ts";
import {
  type TransferContext,
  type TransferEvents,
  type TransferOptions,
  tryClose,
} from "./transfer_common.ts";

/** An accepted offer whose stream has not begun this long after gives its receiving slot up (the
 * sender went away, or gave the file up), so it cannot hold the queue forever. */
const ACCEPT_MS = 30_000;

export interface Incoming {
  id: string;
  name: string;
  size: number;
  dir: string;
  base: string;
  partPath: string;
  offset: number;
  hash: Hash;
  /** Open only while its stream runs: a file waiting to stream has no `.part` open (or made). */
  file?: FileHandle;
  /** Gives the receiving slot up if the stream does not begin (ACCEPT_MS). */
  acceptTimer?: TimerId;
  /** Bumped when the transfer is offered again, so a stale connection's ending is ignored. */
  generation: number;
  conn?: { close(): void };
  /** The offer it belongs to (a folder), as the sender named it. */
  group?: FileGroup;
}

export class Offers {
  #o: TransferOptions;
  #clock: Clock;
  #fs: Fs;
  #events: TransferEvents;
  #in = new Map<string, Incoming>();
  /** .part paths reserved by offers being handled or transfers in progress. */
  #parts = new Set<string>();
  /** Transfers whose offer is being handled. */
  #offering = new Set<string>();
  /** Offers from the peer being handled, from the offer to done or decline. */
  #slots = new Slots(MAX_OFFERS);
  /** Whether an offer may be taken at all (--accept). */
  readonly consent: Consent;
  #folders: FolderPlaces;
  /** Transfers whose bytes all arrived, being verified and stored. */
  #storing = new Set<string>();

  constructor(c: TransferContext) {
    this.#o = c.o;
    this.#clock = c.clock;
    this.#fs = c.fs;
    this.#events = c.events;
    this.consent = new Consent({
      mode: c.o.accept ?? "all",
      name: c.o.name ?? "the peer",
      sendControl: c.o.sendControl,
      emit: c.o.emit,
      room: async () => {
        const root = resolve(this.#o.downloads);
        return await this.#fs.freeSpace(root) - this.#reserved();
      },
      onRecord: c.o.onOfferRecord,
    });
    this.#folders = new FolderPlaces({
      fs: c.fs,
      kept: (id) => this.consent.folderOf(id),
      keep: (g, folder) => this.consent.keepFolder(g, folder),
    });
  }

  /** Transfers accepted and not yet done: arriving, or arrived and still being checked and
   * stored (a run that ends meanwhile would leave a whole but unverified .part). */
  get size(): number {
    return this.#in.size + this.#storing.size;
  }

  /** Every transfer accepted and not yet done. */
  all(): Incoming[] {
    return [...this.#in.values()];
  }

  /** The accepted transfer `id`, if there is one. */
  get(id: string): Incoming | undefined {
    return this.#in.get(id);
  }

  /** All of `t` arrived: it is no longer waited for (its .part is still being stored). */
  arrived(t: Incoming): void {
    this.#in.delete(t.id);
    this.#storing.add(t.id);
  }

  /** `t` is over (stored, or failed and said so): its .part name and its slot are free. */
  ended(t: Incoming): void {
    this.#storing.delete(t.id);
    this.#parts.delete(t.partPath);
    this.#slots.release(t.id);
  }

  /** Handles an offer once one of the MAX_OFFERS slots is free; until then it waits, in order. */
  take(c: Extract<FileControl, { op: "offer" }>): void {
    const handle = () =>
      this.#onOffer(c).catch((e) =>
        this.#decline(c.id, `cannot store ${c.name}: ${describeFsError(e)}`)
      );
    if (this.#slots.take(c.id, handle) !== "queued") return;
    this.#o.emit({
      type: "file_queued",
      id: c.id,
      name: c.name,
      size: c.size,
      direction: "receive",
      position: this.#slots.waiting,
    });
  }

  /** One offer of a transfer at a time: a copy that comes while the first is being handled (the
   * session carried it over to our new incarnation, and the sender offered it again) is answered
   * by the first one's accept, rather than taking a second .part that the first then orphans. */
  async #onOffer(c: Extract<FileControl, { op: "offer" }>): Promise<void> {
    if (this.#offering.has(c.id)) return;
    this.#offering.add(c.id);
    try {
      await this.#handleOffer(c);
    } finally {
      this.#offering.delete(c.id);
    }
  }

  /** The one place an offer is decided: declined (unsafe name, too big, not consented to, no
   * room) or accepted with the offset and prefix hash of what a `.part` holds already. An offer
   * that waits for the user's answer gives its slot up (lib/files/consent.ts), and nothing is made
   * on disk for it. Nothing is opened for writing. */
  async #handleOffer(c: Extract<FileControl, { op: "offer" }>): Promise<void> {
    const parts = safeRelativePath(c.name);
    if (typeof parts === "string") return this.#decline(c.id, `unsafe name: ${parts}`);
    if (c.size > this.#o.maxFileSize) {
      return this.#decline(
        c.id,
        `${bytesText(c.size)} is over the --max-file-size limit of ${
          bytesText(this.#o.maxFileSize)
        }`,
        c.name,
      );
    }
    // One accepted already (offered again, or asked for again by receiver.ts) needs no answer.
    if (this.consent.mode !== "all" && !this.#in.has(c.id)) {
      const group = c.group ?? { id: c.id, name: c.name, files: 1, size: c.size, from: "" };
      if (!await this.consent.gate(group)) return this.#slots.release(c.id);
    }
    const old = this.#in.get(c.id);
    if (old) {
      // Offered again (the connection broke): drop the old stream, keep the .part.
      old.generation++;
      this.#clock.clearTimer(old.acceptTimer);
      old.conn?.close();
      if (old.file) tryClose(old.file);
      this.#in.delete(c.id);
      this.#parts.delete(old.partPath);
    }
    const root = resolve(this.#o.downloads);
    const base = parts[parts.length - 1];
    // A folder goes beside one of its name already here, as "name (1)/" (lib/files/folders.ts).
    const placed = c.group?.name.endsWith("/") && parts.length > 1
      ? [
        await this.#folders.place(c.group, {
          top: parts[0],
          root,
          part: join(...parts.slice(1, -1), partName(base, c.id)),
        }),
        ...parts.slice(1),
      ]
      : parts;
    const dir = join(root, ...placed.slice(0, -1));
    // Reserved before the first await, so two offers of one name never share a .part.
    const partPath = this.#reservePart(dir, base, c.id);
    try {
      await this.#fs.mkdir(dir, { recursive: true });
      if (!inside(await this.#fs.realPath(root), await this.#fs.realPath(dir))) {
        this.#parts.delete(partPath);
        return this.#decline(c.id, "unsafe name: it leads outside the downloads folder");
      }
      const hash = createHash("sha256");
      const offset = await prefixOf(this.#fs, partPath, c.size, hash);
      // Checked and reserved in one step (no await between): bytes the transfers in progress will
      // still write count as used, so two offers cannot both take the same free space.
      const free = await this.#fs.freeSpace(dir);
      if (free - this.#reserved() < c.size - offset) {
        this.#parts.delete(partPath);
        // Declined for good (the sender gives up on a decline): its .part must not stay.
        await this.#fs.remove(partPath).catch(() => {});
        const left = Math.max(0, free - this.#reserved());
        return this.#decline(
          c.id,
          `not enough disk space (${formatBytes(c.size - offset)} needed, ${formatBytes(left)} ` +
            `free in ${dir}); free space and send it again`,
          c.name,
        );
      }
      const t: Incoming = {
        id: c.id,
        name: parts.join("/"),
        size: c.size,
        dir,
        base,
        partPath,
        offset,
        hash,
        generation: (old?.generation ?? 0) + 1,
        ...(c.group ? { group: c.group } : {}),
      };
      this.#in.set(c.id, t);
      t.acceptTimer = this.#clock.setTimer(() => {
        if (this.#in.get(t.id) === t && !t.conn) this.#slots.release(t.id);
      }, ACCEPT_MS);
      this.#o.sendControl({
        op: "accept",
        id: c.id,
        offset,
        prefix: hash.copy().digest("hex"),
        port: this.#o.filePort,
      });
    } catch (e) {
      this.#parts.delete(partPath);
      throw e;
    }
  }

  /** The sender no longer has a transfer we accepted (or an offer we ask about): it is over, and
   * its .part goes. */
  withdrawn(id: string, reason?: string): void {
    this.consent.withdrawn(id);
    this.#slots.release(id);
    const t = this.#in.get(id);
    if (!t) return;
    if (reason) {
      this.#events.incomingError(
        "transfer_failed",
        `The peer stopped sending ${t.name}: ${reason}`,
        t,
      );
    }
    t.generation++;
    this.#clock.clearTimer(t.acceptTimer);
    t.conn?.close();
    if (t.file) tryClose(t.file);
    this.#in.delete(id);
    this.#parts.delete(t.partPath);
    this.#fs.remove(t.partPath).catch(() => {});
  }

  /** Bytes the incoming transfers accepted so far have still to write. */
  #reserved(): number {
    let n = 0;
    for (const t of this.#in.values()) n += t.size - t.offset;
    return n;
  }

  /** `name.<id>.part`: the transfer's own, found again when it resumes (its id is kept), and
   * never a `name.part` that something else left here (a browser's download). */
  #reservePart(dir: string, base: string, id: string): string {
    const path = join(dir, partName(base, id));
    this.#parts.add(path);
    return path;
  }

  #decline(id: string, why: string, name?: string): void {
    this.#slots.release(id);
    this.#o.sendControl({ op: "decline", id, reason: why });
    const what = name === undefined ? "an incoming file" : name;
    this.#events.incomingError("declined", `Declined ${what}: ${why}`);
  }

  close(): void {
    for (const t of this.#in.values()) {
      this.#clock.clearTimer(t.acceptTimer);
      t.conn?.close();
      if (t.file) tryClose(t.file);
    }
  }
}
