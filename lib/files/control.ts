/**
 * File-transfer negotiation, carried as JSON inside the reliable chat stream. Everything from the
 * peer is validated field by field; anything else is a reason, not an exception.
 */
import { randomHex } from "../bytes.ts";

export type FileControl =
  | { op: "offer"; id: string; name: string; size: number }
  | { op: "accept"; id: string; offset: number; prefix: string; port: number }
  | { op: "decline"; id: string; reason: string }
  | { op: "done"; id: string; ok: boolean; sha256: string; reason?: string };

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
    case "offer":
      if (typeof v.name !== "string" || !size(v.size)) return "bad offer";
      return { op: "offer", id, name: v.name, size: v.size as number };
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

export function newTransferId(): string {
  return randomHex(8);
}
