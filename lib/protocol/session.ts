/**
 * The session: who the peer is, whether it is there, and one Arq per peer incarnation.
 *
 * Each process picks a random 32-bit epoch. Every datagram names its sender's epoch and the epoch
 * it believes the receiver has (0 before it knows). A HELLO introduces an epoch; a new epoch from
 * the peer means it restarted, so the old stream state is dropped and every message not yet
 * acknowledged is sent again on a fresh stream. Datagrams carrying our own epoch as sender
 * (reflections), naming another epoch of ours, or from a retired peer epoch are dropped and counted.
 *
 * Pure: time comes in as `now`, datagrams leave through `output`.
 */
import { Arq, type ArqStats, type PendingMessage, timestamp, zeroStats } from "./arq.ts";
import {
  decode,
  encode,
  isSealed,
  MAGIC,
  type Packet,
  PacketType,
  parseSealed,
  SEALED_HEADER,
  sealedHeader,
  VERSION,
} from "./codec.ts";
import {
  AUTH_REPORT_INTERVAL,
  HANDSHAKES_PER_SECOND,
  HELLO_INTERVAL,
  KEEPALIVE_INTERVAL,
  PEER_TIMEOUT,
  RETIRED_EPOCHS,
} from "./constants.ts";
import { pakeFinish, type PakeState, SHARE_BYTES } from "../crypto/pake.ts";
import { deriveKeys, type SessionKeys } from "../crypto/keys.ts";
import { sameBytes } from "../bytes.ts";
import { open, ReplayWindow, sealInto, TAG_BYTES } from "../crypto/aead.ts";

export type PeerState = "online" | "offline";

/** Why a peer could not be admitted: a different passphrase, or only one side has one. */
export type AuthFailure =
  | "passphrase_differs"
  | "peer_unencrypted"
  | "peer_encrypted"
  | "peer_version";

export interface SessionOptions {
  /** This incarnation's epoch: random, non-zero. */
  epoch: number;
  output: (datagram: Uint8Array) => void;
  onMessage: (data: Uint8Array) => void;
  onDelivered: (tag: number) => void;
  /** `restarted` is true when the peer came back as a new incarnation. */
  onPeer: (state: PeerState, restarted: boolean) => void;
  initialSeq?: number;
  /** With a passphrase: our CPace share for this run. Without, the session is plaintext. */
  pake?: PakeState;
  /** Said once per peer epoch that fails to authenticate. */
  onAuthFailed?: (why: AuthFailure) => void;
  /** What we receive is stored asynchronously; see durableMark() and Arq's durableMarks. */
  durableMarks?: boolean;
}

/** How far one peer incarnation's stream had been received, to be marked durable later. */
export interface DurableMark {
  epoch: number;
  seq: number;
}

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
  /** Peers refused for a different passphrase (or a missing one). */
  authFailed: number;
}

type CarriedStat = "retransmits" | "duplicates" | "redundant" | "bundled" | "datagramsOut";

export class Session {
  #o: SessionOptions;
  #arq: Arq | undefined;
  #peerEpoch = 0;
  #retired: number[] = [];
  #confirmed = false;
  #online = false;
  #byeHeard = false;
  #restartPending = false;
  /** The time of the call being handled, for stamping what goes out. */
  #now = 0;
  #outbox: PendingMessage[] = [];
  #helloAt = 0;
  #helloInterval = HELLO_INTERVAL;
  #lastSent = -Infinity;
  #lastHeard = -Infinity;
  #counts = {
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
  /** With a passphrase: the current peer's keys, our nonce counter, its replay window. */
  #keys: SessionKeys | undefined;
  #sendCounter = 0n;
  #replay = new ReplayWindow();
  /** Peer epochs that sent a share but have not proved the passphrase yet (a few, newest last). */
  #candidates = new Map<number, SessionKeys>();
  #handshakeTokens = HANDSHAKES_PER_SECOND;
  #handshakeAt = 0;
  /** Peer epochs already refused (the newest few), and when a refusal was last said. */
  #authReported: number[] = [];
  #authSaidAt = -Infinity;
  /** Stats of streams that ended with a peer restart, so totals never go backwards. */
  #carried: Record<CarriedStat, number> = {
    retransmits: 0,
    duplicates: 0,
    redundant: 0,
    bundled: 0,
    datagramsOut: 0,
  };

  constructor(options: SessionOptions) {
    if (options.epoch === 0) throw new RangeError("Session epoch must be non-zero");
    this.#o = options;
  }

  get online(): boolean {
    return this.#online;
  }

  get encrypted(): boolean {
    return this.#o.pake !== undefined;
  }

  /** The current session's keys (with a passphrase, once the peer has proved it). */
  get keys(): SessionKeys | undefined {
    return this.#keys;
  }

  /** Messages accepted but not yet acknowledged by the peer. */
  get pending(): number {
    return this.#outbox.length + (this.#arq?.pendingCount ?? 0);
  }

  /** Segments not yet transmitted, with what waits for the peer's stream to start. */
  get unsent(): number {
    return this.#outbox.length + (this.#arq?.unsent ?? 0);
  }

  /** Transmits what the window and pacing let go now (after send(), which may hold new data for
   * COALESCE_MS under load). */
  flush(now: number): void {
    this.#now = now;
    if (this.#arq && this.#confirmed) this.#arq.flush(now);
  }

  /** Where receiving stands now; hand it to markDurable() once what was received is stored. */
  durableMark(): DurableMark {
    return { epoch: this.#peerEpoch, seq: this.#arq?.receiveMark() ?? 0 };
  }

  /** What was received up to `mark` is stored: the peer may forget it. A mark from an earlier
   * peer incarnation means nothing to the current one. */
  markDurable(mark: DurableMark, now: number): void {
    this.#now = now;
    if (mark.epoch === this.#peerEpoch) this.#arq?.markDurable(mark.seq, now);
  }

  send(data: Uint8Array, tag: number, now: number): void {
    this.#now = now;
    if (this.#arq) this.#arq.send(data, tag, now);
    else this.#outbox.push({ data, tag });
  }

  input(datagram: Uint8Array, now: number): void {
    this.#now = now;
    this.#counts.datagramsIn++;
    if (isSealed(datagram)) return this.#onSealed(datagram, now);
    const p = this.#decode(datagram);
    if (!p) return;
    if (p.srcEpoch === this.#o.epoch) return void this.#counts.reflected++;
    if (p.srcEpoch === 0 || (p.dstEpoch !== 0 && p.dstEpoch !== this.#o.epoch)) {
      return void this.#counts.stale++;
    }
    if (p.type === PacketType.hello) return this.#onHello(p, now);
    // With a passphrase only sealed datagrams carry data.
    if (this.#o.pake) return void this.#counts.unauthenticated++;
    this.#onPacket(p, now);
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
      return this.#authFailed(v.getUint32(8), "peer_version");
    }
    this.#counts.malformed++;
  }

  /** A sealed datagram: from the current peer, or the proof a candidate epoch knows the key. */
  #onSealed(datagram: Uint8Array, now: number): void {
    const s = parseSealed(datagram);
    if ("reason" in s) return this.#malformed(datagram);
    if (!this.#o.pake) return void this.#counts.unauthenticated++;
    if (s.src === this.#o.epoch) return void this.#counts.reflected++;
    if (s.dst !== this.#o.epoch) return void this.#counts.stale++;
    const current = s.src === this.#peerEpoch && this.#keys !== undefined;
    const keys = current ? this.#keys! : this.#candidates.get(s.src);
    if (!keys) return void this.#counts.stale++;
    if (current && !this.#replay.fresh(s.counter)) return void this.#counts.replayed++;
    const inner = open(keys.recv, s.counter, s.header, s.body);
    if (!inner) return void this.#counts.unauthenticated++;
    if (!current) this.#adopt(s.src, now, keys);
    this.#replay.mark(s.counter);
    const p = this.#decode(inner);
    if (!p) return;
    if (p.srcEpoch !== s.src || p.dstEpoch !== s.dst || p.type === PacketType.hello) {
      return void this.#counts.malformed++;
    }
    this.#onPacket(p, now);
  }

  #onPacket(p: Packet, now: number): void {
    if (p.srcEpoch !== this.#peerEpoch || p.dstEpoch === 0) return void this.#counts.stale++;
    this.#confirmed = true;
    this.#heard(now, p.type);
    this.#arq!.input(p, now);
  }

  tick(now: number): void {
    this.#now = now;
    if (!this.#confirmed && now >= this.#helloAt) this.#sendHello(now);
    if (this.#online && now - this.#lastHeard >= PEER_TIMEOUT) this.#setOnline(false);
    const arq = this.#arq;
    if (!arq || !this.#confirmed) return;
    arq.tick(now);
    if (now - this.#lastSent >= KEEPALIVE_INTERVAL) arq.flush(now, true);
  }

  nextDeadline(): number {
    let at = this.#confirmed ? this.#arq!.nextDeadline() : this.#helloAt;
    if (this.#confirmed) at = Math.min(at, this.#lastSent + KEEPALIVE_INTERVAL);
    if (this.#online) at = Math.min(at, this.#lastHeard + PEER_TIMEOUT);
    return at;
  }

  /** Says goodbye so the peer shows us offline at once. */
  close(now: number): void {
    this.#now = now;
    if (this.#confirmed) this.#arq!.bye(now);
  }

  stats(): SessionStats {
    const a = this.#arq?.stats() ?? zeroStats();
    const c = this.#carried;
    return {
      ...a,
      queued: a.queued + this.#outbox.length,
      retransmits: a.retransmits + c.retransmits,
      duplicates: a.duplicates + c.duplicates,
      redundant: a.redundant + c.redundant,
      bundled: a.bundled + c.bundled,
      datagramsOut: a.datagramsOut + c.datagramsOut,
      ...this.#counts,
    };
  }

  #onHello(p: Packet, now: number): void {
    if (this.#o.pake || p.segments.length > 0) {
      if (!this.#admit(p, now)) return;
    } else if (p.srcEpoch !== this.#peerEpoch) {
      if (this.#retired.includes(p.srcEpoch)) return void this.#counts.stale++;
      this.#adopt(p.srcEpoch, now);
    }
    if (p.dstEpoch === this.#o.epoch) this.#confirmed = true;
    this.#arq?.noteHello(p, now);
    this.#heard(now, p.type);
    if (p.dstEpoch !== this.#o.epoch) this.#sendHello(now);
    else this.#arq!.flush(now, true);
  }

  /**
   * A HELLO with a passphrase: it carries the peer's CPace share and, once it knows ours, a tag
   * proving it derived the same key. True when it comes from the peer we have (or now adopt);
   * a new epoch is adopted only on that proof (or a sealed datagram that opens), so a spoofed
   * HELLO can never reset the session.
   */
  #admit(p: Packet, now: number): boolean {
    const payload = p.segments[0]?.data;
    if (!this.#o.pake || payload === undefined || payload.length < SHARE_BYTES) {
      this.#counts.unauthenticated++;
      this.#authFailed(p.srcEpoch, this.#o.pake ? "peer_unencrypted" : "peer_encrypted");
      return false;
    }
    const tag = payload.length === 2 * SHARE_BYTES ? payload.subarray(SHARE_BYTES) : undefined;
    const current = p.srcEpoch === this.#peerEpoch && this.#keys !== undefined;
    if (!current && this.#retired.includes(p.srcEpoch)) {
      this.#counts.stale++;
      return false;
    }
    const keys = current
      ? this.#keys!
      : this.#candidate(p.srcEpoch, payload.subarray(0, SHARE_BYTES), now);
    if (!keys) return false;
    // Without a tag the peer has not seen our share yet: tell it again. Such a HELLO proves
    // nothing (anyone could forge it), so it neither adopts nor keeps the peer "online".
    const proven = tag !== undefined && sameBytes(tag, keys.confirmTheirs);
    if (!proven) {
      if (tag && current) this.#counts.unauthenticated++;
      else {
        if (tag) this.#authFailed(p.srcEpoch, "passphrase_differs");
        this.#sendHello(now, p.srcEpoch);
      }
      return false;
    }
    if (!current) this.#adopt(p.srcEpoch, now, keys);
    return true;
  }

  /** Keys for a peer epoch that sent its share. Deriving costs a scalar multiplication, so new
   * derivations are rate-limited: a flood of forged HELLOs cannot eat the CPU. */
  #candidate(epoch: number, share: Uint8Array, now: number): SessionKeys | undefined {
    const known = this.#candidates.get(epoch);
    if (known) return known;
    this.#handshakeTokens = Math.min(
      HANDSHAKES_PER_SECOND,
      this.#handshakeTokens + (now - this.#handshakeAt) * HANDSHAKES_PER_SECOND / 1000,
    );
    this.#handshakeAt = now;
    if (this.#handshakeTokens < 1) return void this.#counts.unauthenticated++;
    this.#handshakeTokens--;
    const isk = pakeFinish(this.#o.pake!, { share, epoch }, this.#o.epoch);
    if (!isk) return void this.#counts.unauthenticated++;
    const keys = deriveKeys(isk, this.#o.epoch, epoch);
    this.#candidates.set(epoch, keys);
    if (this.#candidates.size > 4) this.#candidates.delete(this.#candidates.keys().next().value!);
    return keys;
  }

  /** Counts a refused peer epoch once, and says so at most every AUTH_REPORT_INTERVAL, so forged
   * HELLOs can neither flood the interface nor grow memory. */
  #authFailed(epoch: number, why: AuthFailure): void {
    if (this.#authReported.includes(epoch)) return;
    this.#authReported = [epoch, ...this.#authReported].slice(0, RETIRED_EPOCHS);
    this.#counts.authFailed++;
    if (this.#now - this.#authSaidAt < AUTH_REPORT_INTERVAL) return;
    this.#authSaidAt = this.#now;
    this.#o.onAuthFailed?.(why);
  }

  /** Starts a stream with a new peer incarnation, carrying over what the old one never acked. */
  #adopt(epoch: number, now: number, keys?: SessionKeys): void {
    this.#keys = keys;
    this.#sendCounter = 0n;
    this.#replay = new ReplayWindow();
    this.#candidates.clear();
    const old = this.#arq;
    const restarted = old !== undefined;
    if (old) {
      this.#retired = [this.#peerEpoch, ...this.#retired].slice(0, RETIRED_EPOCHS);
      this.#outbox = [...old.pending(), ...this.#outbox];
      const s = old.stats();
      for (const k of Object.keys(this.#carried) as CarriedStat[]) this.#carried[k] += s[k];
      this.#counts.peerRestarts++;
    }
    this.#peerEpoch = epoch;
    this.#confirmed = false;
    this.#online = false;
    const arq = new Arq({
      srcEpoch: this.#o.epoch,
      dstEpoch: epoch,
      initialSeq: this.#o.initialSeq,
      output: (d) => this.#output(d),
      onMessage: this.#o.onMessage,
      onDelivered: this.#o.onDelivered,
      durableMarks: this.#o.durableMarks,
    });
    this.#arq = arq;
    const outbox = this.#outbox;
    this.#outbox = [];
    // Held until the peer confirms it knows us and goes online.
    arq.probeOnly = true;
    for (const m of outbox) arq.send(m.data, m.tag, now);
    if (restarted) this.#restartPending = true;
  }

  /** Any valid datagram proves the peer is there, except that after its BYE only a HELLO does
   * (a late duplicate from a process that has left must not show it online again). */
  #heard(now: number, type: PacketType): void {
    this.#lastHeard = now;
    if (type === PacketType.bye) {
      this.#byeHeard = true;
      this.#setOnline(false);
      return;
    }
    if (type === PacketType.hello) this.#byeHeard = false;
    if (this.#confirmed && !this.#byeHeard) this.#setOnline(true);
  }

  #setOnline(online: boolean): void {
    if (online === this.#online) return;
    this.#online = online;
    if (this.#arq) this.#arq.probeOnly = !online;
    const restarted = online && this.#restartPending;
    if (online) this.#restartPending = false;
    this.#o.onPeer(online ? "online" : "offline", restarted);
  }

  /** A HELLO to the current peer epoch, or (with a passphrase) to a candidate. */
  #sendHello(now: number, to = this.#peerEpoch): void {
    const segments = [];
    if (this.#o.pake) {
      const keys = to === this.#peerEpoch ? this.#keys : this.#candidates.get(to);
      const data = new Uint8Array(keys ? 2 * SHARE_BYTES : SHARE_BYTES);
      data.set(this.#o.pake.share);
      if (keys) data.set(keys.confirmOurs, SHARE_BYTES);
      segments.push({ seq: 0, frg: 0, data });
    }
    const hello: Packet = {
      type: PacketType.hello,
      flags: 0,
      loss: 0,
      srcEpoch: this.#o.epoch,
      dstEpoch: to,
      pn: 0,
      ack: 0,
      ts: timestamp(now),
      echo: to === this.#peerEpoch ? this.#arq?.echo ?? 0 : 0,
      durable: 0,
      sacks: [],
      segments,
    };
    this.#output(encode(hello));
    if (!this.#confirmed) {
      this.#helloAt = now + this.#helloInterval;
      this.#helloInterval = Math.min(this.#helloInterval * 2, KEEPALIVE_INTERVAL);
    }
  }

  #output(datagram: Uint8Array): void {
    this.#lastSent = this.#now;
    if (this.#o.pake && datagram[3] !== PacketType.hello) {
      if (!this.#keys) return;
      const counter = this.#sendCounter++;
      const header = sealedHeader(this.#o.epoch, this.#peerEpoch, counter);
      const out = new Uint8Array(SEALED_HEADER + datagram.length + TAG_BYTES);
      out.set(header);
      const body = out.subarray(SEALED_HEADER);
      sealInto(this.#keys.send, { counter, aad: header, plaintext: datagram, out: body });
      datagram = out;
    }
    this.#o.output(datagram);
  }
}
