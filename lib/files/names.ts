/**
 * Received file names: what a peer claims is untrusted. A relative path is split on "/" and each
 * part is made safe; anything that could climb out of the downloads folder is refused.
 */

/** Windows device names: harmless on Linux, but a file called CON is a trap on a shared disk. */
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
/** Bytes in one path component (ext4 allows 255; leave room for " (99)" and ".<id>.part"). */
const MAX_COMPONENT_BYTES = 200;
const MAX_DEPTH = 32;

/** Safe path components for a claimed relative name, or the reason it is refused. */
export function safeRelativePath(claimed: string): string[] | string {
  if (claimed.length === 0) return "empty name";
  if (claimed.length > 4096) return "name too long";
  if (claimed.startsWith("/") || /^[a-zA-Z]:[\\/]/.test(claimed)) return "absolute path";
  const parts = claimed.split("/");
  if (parts.length > MAX_DEPTH) return "path too deep";
  const out: string[] = [];
  for (const raw of parts) {
    if (raw === "." || raw === "..") return "path climbs out of the downloads folder";
    const clean = safeComponent(raw);
    if (typeof clean !== "string") return clean.reason;
    out.push(clean);
  }
  return out;
}

function safeComponent(raw: string): string | { reason: string } {
  // Control characters and backslashes go; so do trailing dots and spaces (Windows strips them).
  let s = raw.replace(/[\x00-\x1f\x7f-\x9f\\]/g, "_").trim().replace(/[. ]+$/, "");
  if (!s) return { reason: "empty path component" };
  if (s === "." || s === "..") return { reason: "path climbs out of the downloads folder" };
  if (RESERVED.test(s)) s = `_${s}`;
  const enc = new TextEncoder();
  while (enc.encode(s).length > MAX_COMPONENT_BYTES) s = Array.from(s).slice(0, -1).join("");
  return s;
}

/** "report.pdf", 2 → "report (2).pdf"; ".bashrc", 1 → ".bashrc (1)". */
export function numbered(name: string, n: number): string {
  if (n === 0) return name;
  const dot = name.lastIndexOf(".");
  return dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`;
}
