/** Human wording shared by the terminal and the demo. */
import type { ProgressEvent, StatsEvent } from "../events.ts";
import { columns, fitColumns, lastColumns } from "./width.ts";
import { countsText } from "../bytes.ts";

const ms = new Intl.NumberFormat("en", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const pct = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });
const int = new Intl.NumberFormat("en");

/** Said at start when there is no passphrase. */
export const PLAINTEXT_WARNING = "no passphrase, so this chat is NOT encrypted: anyone on the " +
  "path can read and forge it; set CHATNET_SECRET, --secret-file or --ask-secret on both sides";

export function formatStats(s: StatsEvent): string[] {
  return [
    `RTT ${ms.format(s.srtt)} ms (±${ms.format(s.rttvar)}), RTO ${ms.format(s.rto)} ms, ` +
    `in flight ${int.format(s.inFlight)}, queued ${int.format(s.queued)}, ` +
    `unacknowledged messages ${int.format(s.pending)}`,
    `retransmissions ${int.format(s.retransmits)} (fast ${int.format(s.fastRetransmits)}, ` +
    `timeouts ${int.format(s.timeouts)}, tail probes ${int.format(s.tailProbes)}), ` +
    `redundant datagrams ${int.format(s.redundant)}, bundled copies ${int.format(s.bundled)}`,
    `congestion: window ${formatBytes(s.cwnd)}, ssthresh ` +
    `${s.ssthresh ? formatBytes(s.ssthresh) : "none"}, min RTT ${ms.format(s.minRtt)} ms, ` +
    `RTO backoff ${int.format(s.backoff)}, congestion events ${int.format(s.congestionEvents)}, ` +
    `random losses ${int.format(s.randomLosses)}; spurious retransmissions ` +
    `${int.format(s.spuriousRetransmits)} (${pct.format(s.spuriousRate)}, timeouts ` +
    `${int.format(s.spuriousTimeouts)})`,
    `dropped: duplicates ${int.format(s.duplicates)}, corrupt ${int.format(s.corrupt)}, ` +
    `malformed ${int.format(s.malformed)}, foreign ${int.format(s.foreign)}, ` +
    `stale ${int.format(s.stale)}, reflected ${int.format(s.reflected)}, unauthenticated ` +
    `${int.format(s.unauthenticated)}, replayed ${int.format(s.replayed)}, shown before ` +
    `${int.format(s.alreadyShown)}; TCP refused ` +
    `${int.format(s.tcpRefused)}, bad headers ${int.format(s.tcpBadHeader)}, ` +
    `over the limit ${int.format(s.tcpOverloaded)}`,
    `loss seen: inbound ${pct.format(s.lossIn)}, outbound ${pct.format(s.lossOut)}; ` +
    `datagrams in ${int.format(s.datagramsIn)}, out ${int.format(s.datagramsOut)}; ` +
    `cipher ${s.cipher}`,
  ];
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
const oneDecimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  return `${oneDecimal.format(n)} ${UNITS[u]}`;
}

function formatEta(s: number | null): string {
  if (s === null) return "--:--";
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  const mmss = `${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
  return h ? `${h}:${mmss}` : mmss;
}

/** Columns a bar needs for the name and the cells before it may keep a longer tail: below this
 * it drops the speed and ETA, then the byte counts, rather than wrap. */
const BAR_MIN_ROOM = 20;

/** "↑ report.pdf [█████░░░░░] 48% 12.1 MiB/25.2 MiB 8.4 MiB/s ETA 00:02", at most `width`
 * display columns wide, whatever the width: narrower, it drops the speed and ETA, then the byte
 * counts, and shortens the name from the front (its end, the extension, is what tells files
 * apart). */
export function formatBar(e: ProgressEvent, width: number): string {
  const pct = e.size ? Math.floor((e.bytes / e.size) * 100) : 100;
  const tails = [
    ` ${pct}% ${formatBytes(e.bytes)}/${formatBytes(e.size)} ${formatBytes(e.speed)}/s ` +
    `ETA ${formatEta(e.eta)}`,
    ` ${pct}% ${formatBytes(e.bytes)}/${formatBytes(e.size)}`,
    ` ${pct}%`,
  ];
  // The arrow and its space, the space before "[", and the brackets.
  const fixed = 5;
  const tail = tails.find((t) => width - fixed - columns(t) >= BAR_MIN_ROOM) ?? tails[2];
  const room = Math.max(2, width - fixed - columns(tail));
  const name = visible(e.name);
  const nameMax = Math.max(1, Math.floor(room / 2));
  const shown = columns(name) <= nameMax ? name : "…" + lastColumns(name, nameMax - 1);
  const cells = Math.max(1, room - columns(shown));
  const full = Math.round((pct / 100) * cells);
  const arrow = e.direction === "send" ? "↑" : "↓";
  const line = `${arrow} ${shown} [${"█".repeat(full)}${"░".repeat(cells - full)}]${tail}`;
  return fitColumns(line, width);
}

/** Local wall-clock time as HH:MM:SS. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0"))
    .join(":");
}

/** Makes peer-supplied text safe for a terminal: control characters (escape sequences
 * included) become visible, so a peer cannot move the cursor or recolour the screen. */
export function visible(text: string): string {
  return text.replace(
    /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g,
    (c) => {
      const n = c.charCodeAt(0);
      if (n < 0x20) return `^${String.fromCharCode(n + 64)}`;
      // Bidirectional overrides and isolates reorder what follows ("txt.exe" shown as "exe.txt"):
      // named, never obeyed (Trojan Source, CVE-2021-42574).
      if (n >= 0x202a) return `<U+${n.toString(16).toUpperCase()}>`;
      return "\ufffd";
    },
  );
}

/** How an `error` event is labelled for people: what the chat survives is a warning, a transfer
 * that resumes by itself is only news, the rest an error. */
export function errorLabel(code: string): "warning: " | "" | "error: " {
  if (["state_write_failed", "weak_passphrase", "not_sent"].includes(code)) return "warning: ";
  return code === "transfer_interrupted" ? "" : "error: ";
}

/** A status line for stderr: "chatnet: " and the text on one line, the peer's control characters
 * (a file name's newline or escape sequence) shown, never obeyed. */
export function statusLine(text: string): string {
  return `chatnet: ${visible(text).replaceAll("\n", "^J")}\n`;
}

/** What a `peer` event says on a status line, given the state shown before: a repeat says
 * nothing, unless the peer restarted in between. */
export function peerStatus(
  e: { state: string; restarted?: boolean },
  shown: string | undefined,
): string | undefined {
  if (e.state !== shown) return `peer ${e.state}${e.restarted ? " (it restarted)" : ""}`;
  return e.restarted ? "peer restarted" : undefined;
}

/** What a run that stops now leaves behind ("" when nothing): messages not delivered yet and file
 * transfers not finished, which the journal keeps for the next run (`next`: "when you next …"),
 * unless the state directory cannot be written. */
export function leftBehind(
  o: { messages: number; files: number; keeping: boolean; next: string },
): string {
  const what = countsText([
    [o.messages, "message not delivered yet", "messages not delivered yet"],
    [o.files, "file transfer unfinished", "file transfers unfinished"],
  ]);
  if (!what) return "";
  if (!o.keeping) return `Left with ${what}, and not kept: the state directory cannot be written.`;
  const one = o.messages + o.files === 1;
  return `Left with ${what}; ${one ? "it is" : "they are"} kept for ${o.next}.`;
}
