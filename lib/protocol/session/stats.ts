/**
 * What a session counts: the datagrams it dropped and why, peer restarts, refusals, and the stats
 * of streams that ended with a peer restart, carried so that totals never go backwards.
 */
import { type ArqStats, spuriousRate } from "../arq/mod.ts";

export interface SessionStats extends ArqStats {
  corrupt: number;
  malformed: number;
  reflected: number;
  stale: number;
  datagramsIn: number;
  peerRestarts: number;
  /** Sealed datagrams that did not verify, or plaintext ones when a passphrase is set. */
  unauthenticated: number;
  /** Sealed datagrams that verified but were seen before (replays). */
  replayed: number;
  /** Failed passphrase handshakes, and peers refused for a missing passphrase or version. */
  authFailed: number;
  /** Handshake messages that belonged to no handshake of ours (replays, strays). */
  handshakeStray: number;
}

/** The session's own counters (the rest of SessionStats is the stream's). */
export type SessionCounts = Pick<
  SessionStats,
  | "corrupt"
  | "malformed"
  | "reflected"
  | "stale"
  | "datagramsIn"
  | "peerRestarts"
  | "unauthenticated"
  | "replayed"
  | "authFailed"
>;

type CarriedStat =
  | "retransmits"
  | "spuriousRetransmits"
  | "spuriousTimeouts"
  | "duplicates"
  | "redundant"
  | "bundled"
  | "datagramsOut";

export class Tally {
  readonly counts: SessionCounts = {
    corrupt: 0,
    malformed: 0,
    reflected: 0,
    stale: 0,
    datagramsIn: 0,
    peerRestarts: 0,
    unauthenticated: 0,
    replayed: 0,
    authFailed: 0,
  };
  /** Stats of streams that ended with a peer restart, so totals never go backwards. */
  #carried: Record<CarriedStat, number> = {
    retransmits: 0,
    spuriousRetransmits: 0,
    spuriousTimeouts: 0,
    duplicates: 0,
    redundant: 0,
    bundled: 0,
    datagramsOut: 0,
  };

  /** The stream of a peer incarnation that restarted ended with stats `s`: they carry over. */
  carry(s: ArqStats): void {
    for (const k of Object.keys(this.#carried) as CarriedStat[]) this.#carried[k] += s[k];
    this.counts.peerRestarts++;
  }

  /** The totals, from the current stream's stats `a` and what only the session knows. */
  stats(a: ArqStats, o: { queued: number; handshakeStray: number }): SessionStats {
    const c = this.#carried;
    const retransmits = a.retransmits + c.retransmits;
    const spuriousRetransmits = a.spuriousRetransmits + c.spuriousRetransmits;
    return {
      ...a,
      queued: a.queued + o.queued,
      retransmits,
      spuriousRetransmits,
      spuriousTimeouts: a.spuriousTimeouts + c.spuriousTimeouts,
      spuriousRate: spuriousRate({ retransmits, spuriousRetransmits }),
      duplicates: a.duplicates + c.duplicates,
      redundant: a.redundant + c.redundant,
      bundled: a.bundled + c.bundled,
      datagramsOut: a.datagramsOut + c.datagramsOut,
      ...this.counts,
      handshakeStray: o.handshakeStray,
    };
  }
}

/** Counts a dropped datagram; false, for Session.input(). */
export function count<K extends string>(counts: Record<K, number>, key: K): false {
  counts[key]++;
  return false;
}
