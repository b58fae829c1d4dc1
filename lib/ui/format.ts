/** Human wording shared by the terminal and the demo. */
import type { StatsEvent } from "../events.ts";

const ms = new Intl.NumberFormat("en", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const pct = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });
const int = new Intl.NumberFormat("en");

export function formatStats(s: StatsEvent): string[] {
  return [
    `RTT ${ms.format(s.srtt)} ms (±${ms.format(s.rttvar)}), RTO ${ms.format(s.rto)} ms, ` +
    `in flight ${int.format(s.inFlight)}, queued ${int.format(s.queued)}, ` +
    `unacknowledged messages ${int.format(s.pending)}`,
    `retransmissions ${int.format(s.retransmits)} (fast ${int.format(s.fastRetransmits)}, ` +
    `timeouts ${int.format(s.timeouts)}, tail probes ${int.format(s.tailProbes)}), ` +
    `redundant copies ${int.format(s.redundant)}`,
    `dropped: duplicates ${int.format(s.duplicates)}, corrupt ${int.format(s.corrupt)}, ` +
    `malformed ${int.format(s.malformed)}, foreign ${int.format(s.foreign)}, ` +
    `stale ${int.format(s.stale)}, reflected ${int.format(s.reflected)}`,
    `loss seen: inbound ${pct.format(s.lossIn)}, outbound ${pct.format(s.lossOut)}; ` +
    `datagrams in ${int.format(s.datagramsIn)}, out ${int.format(s.datagramsOut)}`,
  ];
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
    /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g,
    (c) => c.charCodeAt(0) < 0x20 ? `^${String.fromCharCode(c.charCodeAt(0) + 64)}` : "\ufffd",
  );
}
