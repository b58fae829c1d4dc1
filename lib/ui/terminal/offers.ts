/**
 * The terminal's side of --accept ask: offers numbered as they come (1, 2, …), answered with y or
 * n (the latest) or /accept N and /decline N (any), and listed in one line above the prompt while
 * they wait. Pure: it words the lines, the screen prints them.
 */
import type { OfferClosedEvent, OfferEvent } from "../../events.ts";
import { formatBytes, visible } from "../format.ts";

const int = new Intl.NumberFormat("en");

/** "holiday/ (312 files, 1.8 GiB)", or "notes.txt (1.2 KiB)" for one file. */
export function describeOffer(e: { name: string; files: number; size: number }): string {
  const files = e.files === 1 ? "" : `${int.format(e.files)} files, `;
  return `${visible(e.name)} (${files}${formatBytes(e.size)})`;
}

export class TerminalOffers {
  /** Pending offers by id, in the order they came, with their numbers. */
  #pending = new Map<string, { n: number; e: OfferEvent }>();
  #next = 1;

  /** A new offer: its line. An offer said again (a restart) keeps its number. */
  add(e: OfferEvent): string {
    const had = this.#pending.get(e.id);
    const n = had?.n ?? this.#next++;
    this.#pending.set(e.id, { n, e });
    return `${sender(e)} offers ${describeOffer(e)}. Accept? [y/N] (offer ${n})`;
  }

  /** The offer is decided or withdrawn: its line, or undefined if it was not shown here. */
  close(e: OfferClosedEvent): string | undefined {
    const p = this.#pending.get(e.id);
    if (!p) return undefined;
    this.#pending.delete(e.id);
    const what = `offer ${p.n}, ${describeOffer(p.e)}`;
    if (e.outcome === "accepted") return `✓ Accepted ${what} from ${sender(p.e)}`;
    if (e.outcome === "declined") return `✗ Declined ${what} from ${sender(p.e)}; they are told`;
    return `${sender(p.e)} withdrew ${what}`;
  }

  /** The offer y or n answers: the latest to come. */
  latest(): OfferEvent | undefined {
    return [...this.#pending.values()].at(-1)?.e;
  }

  /** The pending offer numbered `n`. */
  byNumber(n: number): OfferEvent | undefined {
    for (const p of this.#pending.values()) if (p.n === n) return p.e;
    return undefined;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** One line per pending offer, for /offers. */
  list(): string[] {
    return [...this.#pending.values()].map((p) =>
      `offer ${p.n}: ${sender(p.e)} offers ${describeOffer(p.e)}`
    );
  }

  /** "? offer 1 waits: holiday/ (312 files, 1.8 GiB) from alice; y or n answers it", or "" when
   * none waits. */
  line(): string {
    const all = [...this.#pending.values()];
    if (all.length === 0) return "";
    const last = all[all.length - 1];
    if (all.length === 1) {
      return `? offer ${last.n} waits: ${describeOffer(last.e)} from ${sender(last.e)}; ` +
        "y or n answers it";
    }
    return `? ${all.length} offers wait: ` +
      all.map((p) => `${p.n} ${describeOffer(p.e)}`).join(", ") +
      `; y or n answers ${last.n}, /accept N or /decline N any`;
  }
}

function sender(e: OfferEvent): string {
  return e.sender ? visible(e.sender) : "the peer";
}
