/**
 * File-transfer negotiation, carried as JSON inside the reliable chat stream. Everything from the
 * peer is validated field by field; anything else is a reason, not an exception.
 */
import { randomHex } from "../bytes.ts";

export type FileControl =
  | { op: "offer"; id: string; name: string; size: number; group?: OfferGroup }
  | { op: "accept"; id: string; offset: number; prefix: string; port: number }
  /** Of a file, or (its id a group's) of a whole offer: the receiver said no, or the sender
   * withdrew it. */
  | { op: "decline"; id: string; reason: string }
  | { op: "done"; id: string; ok: boolean; sha256: string; reason?: string }
  /** Receiver to sender: offer `id` (a group) waits for the receiver's user to answer. */
  | { op: "wait"; id: string }
  /** Receiver to sender: the user accepted offer `id`; its files may be offered now. */
  | { op: "agree"; id: string }
  /** Sender to receiver: has offer `id` been answered? (after either side was away) */
  | ({ op: "ask" } & OfferGroup);

/** What the receiver is asked about once: a file, or a folder with all its files. Each file's
 * offer carries the group it belongs to. `from` is the sender's name. */
export interface OfferGroup {
  id: string;
  name: string;
  files: number;
  size: number;
  from: string;
}

const ID = /^[0-9a-f]{16}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export function parseControl(text: string): FileControl | string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch {
    return "file control message is not JSON";
  }
  if (typeof v !== "object" || v === null) return "file control message is not an object";
  if (typeof v.id !== "string" || !ID.test(v.id)) return "bad transfer id";
  const id = v.id;
  const size = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
  switch (v.op) {
    case "offer": {
      if (typeof v.name !== "string" || !size(v.size)) return "bad offer";
      if (v.group === undefined) return { op: "offer", id, name: v.name, size: v.size as number };
      const group = parseGroup(v.group);
      if (!group) return "bad offer";
      return { op: "offer", id, name: v.name, size: v.size as number, group };
    }
    case "ask": {
      const group = parseGroup(v);
      return group ? { op: "ask", ...group } : "bad ask";
    }
    case "wait":
    case "agree":
      return { op: v.op, id };
    case "accept":
      if (!size(v.offset) || typeof v.prefix !== "string" || !HEX64.test(v.prefix)) {
        return "bad accept";
      }
      if (!size(v.port) || (v.port as number) < 1 || (v.port as number) > 65535) {
        return "bad accept";
      }
      return {
        op: "accept",
        id,
        offset: v.offset as number,
        prefix: v.prefix,
        port: v.port as number,
      };
    case "decline":
      return { op: "decline", id, reason: String(v.reason ?? "declined").slice(0, 200) };
    case "done":
      if (typeof v.ok !== "boolean" || typeof v.sha256 !== "string") return "bad done";
      return {
        op: "done",
        id,
        ok: v.ok,
        sha256: v.sha256.slice(0, 64),
        ...(v.reason ? { reason: String(v.reason).slice(0, 200) } : {}),
      };
    default:
      return "unknown file control operation";
  }
}

function parseGroup(x: unknown): OfferGroup | undefined {
  if (typeof x !== "object" || x === null) return undefined;
  const g = x as Record<string, unknown>;
  const count = (n: unknown) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  if (typeof g.id !== "string" || !ID.test(g.id) || typeof g.name !== "string") return undefined;
  if (!count(g.files) || !count(g.size) || typeof g.from !== "string") return undefined;
  return {
    id: g.id,
    name: g.name.slice(0, 4096),
    files: g.files as number,
    size: g.size as number,
    from: g.from.slice(0, 200),
  };
}

export function newTransferId(): string {
  return randomHex(8);
}
