/**
 * The journal's records and what they add up to. Pure: bytes in, state out.
 *
 * A record is one line: eight hex digits of CRC32C over the JSON, a space, the JSON, a newline.
 * A record torn by a crash or flipped on disk fails its check, so recovery knows exactly where
 * the good part ends. Records:
 *   {"t":"origin","origin":N}                    who we are as a sender (first record)
 *   {"t":"out","id":N,"name":S,"text":S,"at":N}  a message accepted for sending (at: when it was
 *                                                written, ms since 1970; older journals lack it)
 *   {"t":"acked","id":N}                         the peer has it
 *   {"t":"acked","id":N,"to":M}                  the peer has N to M (what it still had pending)
 *   {"t":"in","origin":N,"id":N}                 the receive cursor: the peer's last message shown
 *   {"t":"reserve","to":N}                       ids below N may have been sent: the next run
 *                                                starts at N (see RESERVE_IDS in journal.ts)
 *   {"t":"file","id":S,"path":S,"name":S,"size":N,"group":{"id":S,"name":S,"files":N,"size":N}}
 *                                                a file being sent, and the offer it is part of
 *                                                (its folder, or itself; older journals lack it)
 *   {"t":"file_end","id":S}                      that transfer ended (sent, declined or failed)
 *   {"t":"offer","id":S,"name":S,"files":N,"size":N,"from":S,"state":S,"reason":S,"folder":S}
 *                                                an offer received (--accept ask): pending,
 *                                                accepted or declined (with what the sender heard),
 *                                                and where a folder is stored
 *   {"t":"offer_end","id":S}                     that offer is forgotten
 */
import { crc32c } from "../protocol/crc32c.ts";
import { utf8Scratch } from "../bytes.ts";
import type { OfferRecord } from "../files/consent.ts";

export type JournalRecord =
  | { t: "origin"; origin: number }
  | { t: "out"; id: number; name: string; text: string; at?: number }
  | { t: "acked"; id: number; to?: number }
  | { t: "in"; origin: number; id: number }
  | { t: "reserve"; to: number }
  | ({ t: "file" } & OutFile)
  | { t: "file_end"; id: string }
  | ({ t: "offer" } & OfferRecord)
  | { t: "offer_end"; id: string };

export interface OutMessage {
  id: number;
  name: string;
  text: string;
  /** When it was written, on the sender's clock (ms since 1970), where the journal knows it. */
  at?: number;
}

export interface OutFile {
  id: string;
  path: string;
  name: string;
  size: number;
  group?: { id: string; name: string; files: number; size: number };
}

export interface JournalState {
  /** Non-zero once known. */
  origin: number;
  nextId: number;
  /** Ids below this may have been sent by an earlier run (0: none reserved). */
  reserved: number;
  /** Messages not yet acknowledged, in the order they were sent. */
  pending: Map<number, OutMessage>;
  /** The last message delivered from the peer, by its origin. */
  cursor?: { origin: number; id: number };
  files: Map<string, OutFile>;
  /** Offers received and asked about, in the order they were last changed. */
  offers: Map<string, OfferRecord>;
}

export interface ParsedJournal {
  records: JournalRecord[];
  /** Length of the intact prefix, in bytes. */
  goodBytes: number;
  /** The first bad record (1-based line), whether it was the last one (a torn write), and how
   * many bad lines were skipped before the end: each record has its own CRC, so the good ones
   * after a damaged line are kept (every record says a whole fact, and later ones supersede). */
  damage?: { line: number; torn: boolean; skipped: number };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeRecord(r: JournalRecord): string {
  const json = JSON.stringify(r);
  return crc32c(utf8Scratch(json)).toString(16).padStart(8, "0") + " " + json + "\n";
}

export function parseJournal(bytes: Uint8Array): ParsedJournal {
  const records: JournalRecord[] = [];
  let at = 0;
  let line = 0;
  let damage: ParsedJournal["damage"];
  let goodBytes = 0;
  while (at < bytes.length) {
    line++;
    const nl = bytes.indexOf(0x0a, at);
    const record = nl < 0 ? undefined : decodeRecord(bytes.subarray(at, nl));
    if (!record) {
      const torn = nl < 0 || nl + 1 >= bytes.length;
      damage ??= { line, torn: false, skipped: 0 };
      if (torn) {
        damage.torn = true;
        break;
      }
      damage.skipped++;
    } else {
      records.push(record);
      goodBytes = nl + 1;
    }
    at = nl + 1;
  }
  return damage ? { records, goodBytes, damage } : { records, goodBytes };
}

function decodeRecord(line: Uint8Array): JournalRecord | undefined {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  let head: string, json: string;
  try {
    head = decoder.decode(line.subarray(0, 8));
    json = decoder.decode(line.subarray(9));
  } catch {
    return undefined;
  }
  if (!/^[0-9a-f]{8}$/.test(head) || parseInt(head, 16) !== crc32c(line, 9)) return undefined;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  return valid(v) ? v as JournalRecord : undefined;
}

const u32 = (x: unknown) =>
  Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff;
const str = (x: unknown) => typeof x === "string";

function valid(v: Record<string, unknown>): boolean {
  if (typeof v !== "object" || v === null) return false;
  switch (v.t) {
    case "origin":
      return u32(v.origin) && v.origin !== 0;
    case "out":
      return u32(v.id) && str(v.name) && str(v.text) &&
        (v.at === undefined || Number.isFinite(v.at));
    case "acked":
      return u32(v.id) &&
        (v.to === undefined || (u32(v.to) && (v.to as number) >= (v.id as number)));
    case "in":
      return u32(v.origin) && u32(v.id);
    case "reserve":
      return u32(v.to);
    case "file":
      return str(v.id) && str(v.path) && str(v.name) && Number.isSafeInteger(v.size) &&
        (v.group === undefined || validGroup(v.group));
    case "file_end":
    case "offer_end":
      return str(v.id);
    case "offer":
      return validGroup(v) && str(v.from) &&
        ["pending", "accepted", "declined"].includes(v.state as string) &&
        (v.reason === undefined || str(v.reason)) && (v.folder === undefined || str(v.folder));
    default:
      return false;
  }
}

function validGroup(g: unknown): boolean {
  if (typeof g !== "object" || g === null) return false;
  const o = g as Record<string, unknown>;
  return str(o.id) && str(o.name) && Number.isSafeInteger(o.files) &&
    Number.isSafeInteger(o.size);
}

export function emptyState(): JournalState {
  return {
    origin: 0,
    nextId: 1,
    reserved: 0,
    pending: new Map(),
    files: new Map(),
    offers: new Map(),
  };
}

export function applyRecord(s: JournalState, r: JournalRecord): void {
  switch (r.t) {
    case "origin":
      s.origin = r.origin;
      return;
    case "out":
      s.pending.set(
        r.id,
        r.at === undefined
          ? { id: r.id, name: r.name, text: r.text }
          : { id: r.id, name: r.name, text: r.text, at: r.at },
      );
      s.nextId = Math.max(s.nextId, r.id + 1);
      return;
    case "acked": {
      const to = r.to ?? r.id;
      if (to === r.id) s.pending.delete(r.id);
      else for (const id of s.pending.keys()) if (id >= r.id && id <= to) s.pending.delete(id);
      s.nextId = Math.max(s.nextId, to + 1);
      return;
    }
    case "in":
      s.cursor = { origin: r.origin, id: r.id };
      return;
    case "reserve":
      s.reserved = Math.max(s.reserved, r.to);
      return;
    case "file": {
      const { t: _, ...f } = r;
      s.files.set(r.id, f);
      return;
    }
    case "file_end":
      s.files.delete(r.id);
      return;
    case "offer": {
      const { t: _, ...o } = r;
      s.offers.delete(r.id);
      s.offers.set(r.id, o);
      return;
    }
    case "offer_end":
      s.offers.delete(r.id);
  }
}

/** The fewest records that rebuild `s`: what a compacted journal holds. An `acked` record of the
 * last id used comes first (pending ones are added back after it), so ids never go backwards. */
export function snapshot(s: JournalState): JournalRecord[] {
  const out: JournalRecord[] = [{ t: "origin", origin: s.origin }];
  if (s.nextId > 1) out.push({ t: "acked", id: s.nextId - 1 });
  if (s.reserved > 0) out.push({ t: "reserve", to: s.reserved });
  for (const m of s.pending.values()) out.push({ t: "out", ...m });
  if (s.cursor) out.push({ t: "in", ...s.cursor });
  for (const f of s.files.values()) out.push({ t: "file", ...f });
  for (const o of s.offers.values()) out.push({ t: "offer", ...o });
  return out;
}
