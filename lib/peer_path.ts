/**
 * Where the peer is, and whether a datagram from somewhere else may move it (address migration,
 * issue 21). With a passphrase the peer is followed as QUIC does (RFC 9000 section 9.3): a
 * datagram from a new address or port goes to the session, and only if it opens under the
 * session's keys and is the newest the peer has sent (the highest counter: a late or replayed one
 * never moves it) do chat and files go to that address from then on. Without a passphrase nothing
 * proves that a datagram from a new address is the peer's, so it is refused as before; the
 * refusal is said once per address, at most every REPORT_MS, so a spray of forged sources can
 * neither flood the interface nor grow memory.
 *
 * Pure: addresses and the time go in, decisions come out.
 */
import type { NetAddr } from "./net/tcp.ts";
import { sameIp } from "./net/address.ts";
import { formatAddress } from "./events.ts";
import { MAGIC, SEALED, VERSION } from "./protocol/codec.ts";
import { AUTH_REPORT_INTERVAL, RETIRED_EPOCHS } from "./protocol/constants.ts";

/** What to do with one datagram, before the session sees it. */
export type Admission =
  /** From the peer's current address. */
  | "current"
  /** From elsewhere, sealed, with a passphrase: the session may open it; follow only if it does. */
  | "candidate"
  /** Refused (counted as foreign). */
  | "refused";

/** Refusals are said at most this often (as refused passphrases are). */
export const REPORT_MS = AUTH_REPORT_INTERVAL;
/** Addresses already refused that are remembered, so each is said once. */
export const REMEMBERED = RETIRED_EPOCHS * 4;

export interface PeerPathOptions {
  peer: NetAddr;
  /** A passphrase is set: sealed datagrams prove who sent them. */
  authenticated: boolean;
}

const CURRENT = Object.freeze({ admission: "current" as const });

export class PeerPath {
  #peer: NetAddr;
  /** The last source object found to be the peer's address. */
  #current: NetAddr | undefined;
  #authenticated: boolean;
  #refused: string[] = [];
  #saidAt = -Infinity;
  counts = { foreign: 0, moves: 0 };

  constructor(options: PeerPathOptions) {
    this.#peer = options.peer;
    this.#authenticated = options.authenticated;
  }

  /** Where datagrams to the peer go. */
  get peer(): NetAddr {
    return this.#peer;
  }

  /** Decides for a datagram from `from`; `report` is the refusal to say, when one is due. */
  admit(datagram: Uint8Array, from: NetAddr, now: number): {
    admission: Admission;
    report?: string;
  } {
    // A socket hands the same address object for a run of datagrams from one source
    // (lib/net/udp_native.ts): it was compared already.
    if (from === this.#current) return CURRENT;
    if (same(from, this.#peer)) {
      this.#current = from;
      return CURRENT;
    }
    const ours = isChatnet(datagram);
    if (this.#authenticated && ours && datagram[3] === SEALED) {
      return { admission: "candidate" };
    }
    this.counts.foreign++;
    if (!ours) return { admission: "refused" };
    return { admission: "refused", report: this.#report(from, now) };
  }

  /** A candidate datagram from `from` did not open, or was not the newest: it is refused. */
  notOpened(): void {
    this.counts.foreign++;
  }

  /** A candidate from `from` opened and was the newest: the peer is there now. Returns the old
   * address (undefined if it had not moved). */
  opened(from: NetAddr): NetAddr | undefined {
    if (same(from, this.#peer)) return undefined;
    const old = this.#peer;
    this.#peer = { hostname: from.hostname, port: from.port };
    this.#current = undefined;
    this.counts.moves++;
    return old;
  }

  #report(from: NetAddr, now: number): string | undefined {
    const key = formatAddress(from.hostname, from.port);
    if (this.#refused.includes(key)) return undefined;
    this.#refused = [key, ...this.#refused].slice(0, REMEMBERED);
    if (now - this.#saidAt < REPORT_MS) return undefined;
    this.#saidAt = now;
    const peer = formatAddress(this.#peer.hostname, this.#peer.port);
    return this.#authenticated
      ? `Ignoring a handshake from ${key}: the peer is ${peer}, and a new session starts only ` +
        "from there (a session already open follows its peer to a new address)"
      : `Ignoring datagrams from ${key}: the peer is ${peer}, and without a passphrase a peer ` +
        "that changes address cannot be told from anyone else (with one, it is followed)";
  }
}

/** Whether a datagram is a chatnet one of this version, judged by its first bytes only: what
 * anyone else sends (a scanner, a stray) is counted, never said. */
function isChatnet(d: Uint8Array): boolean {
  return d.length >= 4 && ((d[0] << 8) | d[1]) === MAGIC && d[2] === VERSION;
}

function same(a: NetAddr, b: NetAddr): boolean {
  return a.port === b.port && sameIp(a.hostname, b.hostname);
}
