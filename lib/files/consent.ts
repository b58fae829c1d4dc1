/**
 * Whether the receiver takes what the peer offers (--accept): everything (`all`, the default of
 * JSON and pipe mode), nothing (`none`), or what its user says yes to (`ask`). A file or a folder
 * is one offer (a group: lib/files/control.ts), asked about once, whatever its number of files.
 *
 * An offer waiting for its answer holds no turn on either side: the receiver tells the sender to
 * `wait`, and the sender takes the group's files out of its streaming slots until the `agree` (or
 * the decline). Every state an offer goes through is journaled (onRecord), so a restart of this
 * side says a pending offer again and never asks twice about one already answered; whenever the
 * two sides meet again they compare notes (the sender `ask`s about what it waits for, the receiver
 * says `wait` for what it still asks about), so an answer lost with a process is given again.
 */
import type { FileControl, OfferGroup } from "./control.ts";
import type { ChatEvent, OfferEvent } from "../events.ts";

export type AcceptMode = "ask" | "all" | "none";
export const ACCEPT_MODES: AcceptMode[] = ["ask", "all", "none"];

/** One offer asked about, as the journal keeps it. */
export interface OfferRecord extends OfferGroup {
  state: "pending" | "accepted" | "declined";
  /** For a declined one: what the sender was told. */
  reason?: string;
  /** For a folder: the name it is stored under in the downloads folder (lib/files/folders.ts). */
  folder?: string;
}

/** Answered offers remembered (the newest), so that files of a folder offered later, or again
 * after a restart, are not asked about again. */
const KEEP_ANSWERED = 256;

export interface ConsentOptions {
  mode: AcceptMode;
  /** Our name, as the peer sees it: a decline says who declined. */
  name: string;
  sendControl: (c: FileControl) => void;
  emit: (e: ChatEvent) => void;
  /** Bytes the downloads folder can still take (free space less what transfers will write). */
  room: () => Promise<number>;
  /** An offer's record changed (undefined: it is forgotten): for the journal. */
  onRecord?: (id: string, r: OfferRecord | undefined) => void;
}

export class Consent {
  #o: ConsentOptions;
  /** In the order they were asked (a Map keeps insertion order). */
  #records = new Map<string, OfferRecord>();
  /** Offers being checked (free space) before they are asked. */
  #checking = new Set<string>();
  /** With --accept none: offers already said to be declined (each file of a folder comes). */
  #refused = new Set<string>();
  /** Offers the sender withdrew lately: a copy of one of their file offers still on its way (the
   * session carries messages over to a restarted peer) is not asked about again. */
  #withdrawn = new Set<string>();

  constructor(o: ConsentOptions) {
    this.#o = o;
  }

  get mode(): AcceptMode {
    return this.#o.mode;
  }

  /** What an earlier run left: pending offers are said again (after `ready`). */
  restore(records: OfferRecord[]): void {
    for (const r of records) this.#records.set(r.id, { ...r });
    for (const e of this.pending()) this.#o.emit(e);
  }

  /** The folder an earlier run chose for offer `id`. */
  folderOf(id: string): string | undefined {
    return this.#records.get(id)?.folder;
  }

  /** Keeps the folder chosen for offer `g` (with --accept all, the record is made here). */
  keepFolder(g: OfferGroup, folder: string): void {
    const r: OfferRecord = { ...(this.#records.get(g.id) ?? { ...g, state: "accepted" }), folder };
    this.#records.set(g.id, r);
    this.#o.onRecord?.(g.id, r);
    this.#prune();
  }

  /** The offers waiting for an answer, oldest first. */
  pending(): OfferEvent[] {
    return [...this.#records.values()].filter((r) => r.state === "pending").map(offerEvent);
  }

  /** A file of group `g` is offered: true if it may be decided as usual (accepted); otherwise
   * this answered it (a decline, or a wait while the user is asked). */
  async gate(g: OfferGroup): Promise<boolean> {
    if (this.#o.mode === "all") return true;
    if (this.#o.mode === "none") {
      this.#decline(g.id, "declined: not accepting files");
      if (!this.#refused.has(g.id)) {
        this.#refused.add(g.id);
        this.#o.emit({
          type: "error",
          code: "declined",
          message: `Declined ${describe(g)} from ${g.from || "the peer"}: not accepting files ` +
            "(--accept none)",
          id: g.id,
          name: g.name,
        });
      }
      return false;
    }
    if (this.#withdrawn.has(g.id)) return false;
    const r = this.#records.get(g.id);
    if (r?.state === "accepted") return true;
    if (r?.state === "declined") return this.#decline(g.id, r.reason ?? "declined"), false;
    this.#o.sendControl({ op: "wait", id: g.id });
    if (r || this.#checking.has(g.id)) return false;
    // The checks that need no answer come first: a folder that cannot fit is not asked about.
    this.#checking.add(g.id);
    let room: number;
    try {
      room = await this.#o.room();
    } catch {
      room = Infinity;
    } finally {
      this.#checking.delete(g.id);
    }
    if (room < g.size) {
      this.#decline(g.id, "not enough disk space");
      this.#o.emit({
        type: "error",
        code: "declined",
        message: `Declined ${describe(g)} from ${g.from || "the peer"}: not enough disk space`,
        id: g.id,
        name: g.name,
      });
      return false;
    }
    this.#set({ ...g, state: "pending" });
    this.#o.emit(offerEvent(g));
    return false;
  }

  /** The sender asks about offer `g` again (the two sides met again). */
  onAsk(g: OfferGroup): void {
    const r = this.#records.get(g.id);
    if (this.#o.mode !== "ask" || !r) {
      // Unknown here (never asked, or forgotten): as if a file of it were offered.
      void this.gate(g).then((ok) => ok && this.#o.sendControl({ op: "agree", id: g.id }));
      return;
    }
    if (r.state === "accepted") this.#o.sendControl({ op: "agree", id: g.id });
    else if (r.state === "declined") this.#decline(g.id, r.reason ?? "declined");
    else this.#o.sendControl({ op: "wait", id: g.id });
  }

  /** The user's answer; false if `id` is not a pending offer. */
  answer(id: string, accept: boolean): boolean {
    const r = this.#records.get(id);
    if (!r || r.state !== "pending") return false;
    const reason = `declined by ${this.#o.name}`;
    // Journaled before the peer hears it: a restart answers the same again.
    this.#set(accept ? { ...r, state: "accepted" } : { ...r, state: "declined", reason });
    this.#o.emit({
      type: "offer_closed",
      id,
      name: r.name,
      outcome: accept ? "accepted" : "declined",
    });
    if (accept) this.#o.sendControl({ op: "agree", id });
    else this.#decline(id, reason);
    this.#prune();
    return true;
  }

  /** The sender no longer offers `id` (it gave up, or has no such offer): forgotten here. */
  withdrawn(id: string): void {
    const r = this.#records.get(id);
    if (!r) return;
    this.#withdrawn.add(id);
    if (this.#withdrawn.size > KEEP_ANSWERED) {
      this.#withdrawn.delete(this.#withdrawn.values().next().value!);
    }
    this.#records.delete(id);
    this.#o.onRecord?.(id, undefined);
    if (r.state === "pending") {
      this.#o.emit({ type: "offer_closed", id, name: r.name, outcome: "withdrawn" });
    }
  }

  /** The peer is back: it hears again which offers still wait, and withdraws those it forgot. */
  onPeerOnline(): void {
    for (const r of this.#records.values()) {
      if (r.state === "pending") this.#o.sendControl({ op: "wait", id: r.id });
    }
  }

  #set(r: OfferRecord): void {
    this.#records.delete(r.id);
    this.#records.set(r.id, r);
    this.#o.onRecord?.(r.id, r);
  }

  #decline(id: string, reason: string): void {
    this.#o.sendControl({ op: "decline", id, reason });
  }

  /** Forgets the oldest answers past KEEP_ANSWERED. */
  #prune(): void {
    let answered = 0;
    for (const r of this.#records.values()) if (r.state !== "pending") answered++;
    for (const r of this.#records.values()) {
      if (answered <= KEEP_ANSWERED) return;
      if (r.state === "pending") continue;
      this.#records.delete(r.id);
      this.#o.onRecord?.(r.id, undefined);
      answered--;
    }
  }
}

function offerEvent(g: OfferGroup): OfferEvent {
  return { type: "offer", id: g.id, name: g.name, size: g.size, files: g.files, sender: g.from };
}

/** "holiday/ (312 files, 1,938,243,110 bytes)" or "notes.txt (1,024 bytes)". */
function describe(g: OfferGroup): string {
  const bytes = `${new Intl.NumberFormat("en").format(g.size)} bytes`;
  return `${g.name} (${g.files === 1 ? "" : `${g.files} files, `}${bytes})`;
}
