/**
 * Sorting each datagram that reaches the session: one that does not parse or fails its checksum,
 * our own reflected back, one naming another epoch of ours or from an epoch not current (stale),
 * a replay, one that does not verify; what is left is a HELLO, or a packet for the current
 * stream. Each drop is counted; a datagram from another chatnet release is a refused peer.
 */
import {
  decode,
  isSealed,
  MAGIC,
  type Packet,
  PacketType,
  parseSealed,
  VERSION,
} from "../codec.ts";
import type { AuthFailure } from "./options.ts";
import type { Seal } from "./seal.ts";
import { count, type SessionCounts } from "./stats.ts";

export interface IntakeOptions {
  /** Our epoch. */
  epoch: number;
  /** With a passphrase only sealed datagrams carry data. */
  encrypted: boolean;
  counts: SessionCounts;
  seal: Seal;
  /** The current peer epoch (0 before one). */
  peerEpoch: () => number;
  /** A plaintext HELLO (with a passphrase, carrying a handshake message). */
  onHello: (p: Packet, now: number) => void;
  /** A packet for the peer's stream. */
  onPacket: (p: Packet, now: number) => void;
  /** A peer epoch refused (here: for its protocol version). */
  refuse: (epoch: number, why: AuthFailure) => void;
}

export class Intake {
  #o: IntakeOptions;
  #counts: SessionCounts;

  constructor(o: IntakeOptions) {
    this.#o = o;
    this.#counts = o.counts;
  }

  /** Sorts one datagram; true as Session.input() says. */
  input(datagram: Uint8Array, now: number): boolean {
    if (isSealed(datagram)) return this.#onSealed(datagram, now);
    const p = this.#decode(datagram);
    if (!p) return false;
    if (p.srcEpoch === this.#o.epoch) return count(this.#counts, "reflected");
    if (p.srcEpoch === 0 || (p.dstEpoch !== 0 && p.dstEpoch !== this.#o.epoch)) {
      return count(this.#counts, "stale");
    }
    if (p.type === PacketType.hello) {
      this.#o.onHello(p, now);
      return false;
    }
    // With a passphrase only sealed datagrams carry data.
    if (this.#o.encrypted) {
      this.#counts.unauthenticated++;
      return false;
    }
    this.#o.onPacket(p, now);
    return false;
  }

  #decode(datagram: Uint8Array): Packet | undefined {
    const d = decode(datagram);
    if ("packet" in d) return d.packet;
    if (d.reason === "bad checksum") this.#counts.corrupt++;
    else this.#malformed(datagram);
    return undefined;
  }

  /** Counts a datagram that does not parse; one that is ours in every way but the version comes
   * from another chatnet release, which the user should hear about (as a refused peer). */
  #malformed(datagram: Uint8Array): void {
    const v = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    if (datagram.length >= 12 && v.getUint16(0) === MAGIC && datagram[2] !== VERSION) {
      return this.#o.refuse(v.getUint32(8), "peer_version");
    }
    this.#counts.malformed++;
  }

  /** A sealed datagram: only the current peer epoch's, under the keys of the handshake that
   * admitted it. Anything else, replays of older epochs' datagrams included, opens nothing. */
  #onSealed(datagram: Uint8Array, now: number): boolean {
    const s = parseSealed(datagram);
    if ("reason" in s) {
      this.#malformed(datagram);
      return false;
    }
    const c = this.#counts;
    if (!this.#o.encrypted) return count(c, "unauthenticated");
    if (s.src === this.#o.epoch) return count(c, "reflected");
    if (s.dst !== this.#o.epoch) return count(c, "stale");
    if (s.src !== this.#o.peerEpoch()) return count(c, "stale");
    const opened = this.#o.seal.open(s);
    if (typeof opened === "string") return count(c, opened);
    const { inner, newest } = opened;
    const p = this.#decode(inner);
    if (!p) return false;
    if (p.srcEpoch !== s.src || p.dstEpoch !== s.dst || p.type === PacketType.hello) {
      return count(c, "malformed");
    }
    this.#o.onPacket(p, now);
    return newest;
  }
}
