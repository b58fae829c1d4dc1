/**
 * The session: who the peer is, whether it is there, and one Arq per peer incarnation.
 *
 * Each process picks a random 32-bit epoch. Every datagram names its sender's epoch and the epoch
 * it believes the receiver has (0 before it knows). A HELLO introduces an epoch; a new epoch from
 * the peer means it restarted, so the old stream state is dropped and every message not yet
 * acknowledged is sent again on a fresh stream. Datagrams carrying our own epoch as sender
 * (reflections), naming another epoch of ours, or from a retired peer epoch are dropped and counted.
 * With a passphrase a new epoch is adopted only when a handshake (handshake.ts) completes with it,
 * and each handshake's keys are its own.
 *
 * Its parts, each with one job, are in session/: sorting the datagrams that come in (intake.ts),
 * sealing and opening them (seal.ts), what it counts (stats.ts), its options (options.ts).
 *
 * Pure: time comes in as `now`, datagrams leave through `output`.
 */
import { Arq, type PendingMessage, timestamp, zeroStats } from "./arq/mod.ts";
import { encode, type Packet, PacketType } from "./codec.ts";
import {
  AUTH_REPORT_INTERVAL,
  HELLO_INTERVAL,
  KEEPALIVE_INTERVAL,
  OFFLINE_INTERVAL,
  PEER_TIMEOUT,
  RETIRED_EPOCHS,
  SUSPENDED_AFTER,
} from "./constants.ts";
import { Handshake } from "./handshake.ts";
import { deriveKeys, type SessionKeys } from "../crypto/keys.ts";
import type { AuthFailure, DurableMark, SessionOptions } from "./session/options.ts";
import { Intake } from "./session/intake.ts";
import { Seal } from "./session/seal.ts";
import { type SessionStats, Tally } from "./session/stats.ts";

export type { AuthFailure, DurableMark, PeerState, SessionOptions } from "./session/options.ts";
export type { SessionStats } from "./session/stats.ts";

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
  /** The datagram being handled has others right behind it (input's `more`). */
  #more = false;
  #outbox: PendingMessage[] = [];
  #helloAt = 0;
  #helloInterval = HELLO_INTERVAL;
  #lastSent = -Infinity;
  #lastHeard = -Infinity;
  #tally = new Tally();
  #counts = this.#tally.counts;
  /** With a passphrase: the current peer's keys, our nonce counter, its replay window. */
  #seal: Seal;
  #intake: Intake;
  /** With a passphrase: the CPace handshake (lib/protocol/handshake.ts). */
  #handshake: Handshake | undefined;
  /** Peer epochs already refused (the newest few), and when a refusal was last said. */
  #authReported: number[] = [];
  #authSaidAt = -Infinity;

  constructor(options: SessionOptions) {
    if (options.epoch === 0) throw new RangeError("Session epoch must be non-zero");
    this.#o = options;
    this.#seal = new Seal(options.epoch);
    this.#intake = new Intake({
      epoch: options.epoch,
      encrypted: options.passphrase !== undefined,
      counts: this.#counts,
      seal: this.#seal,
      peerEpoch: () => this.#peerEpoch,
      onHello: (p, now) => this.#onHello(p, now),
      onPacket: (p, now) => this.#onPacket(p, now),
      refuse: (epoch, why) => this.#authFailed(epoch, why),
    });
    if (options.passphrase === undefined) return;
    this.#handshake = new Handshake({
      passphrase: options.passphrase,
      epoch: options.epoch,
      random: options.random ?? ((n) => crypto.getRandomValues(new Uint8Array(n))),
      send: (payload, to) => this.#sendHandshake(payload, to),
      onEstablished: (epoch, isk) => this.#established(epoch, isk),
      onFailed: (f) => {
        this.#counts.authFailed++;
        this.#o.onAuthFailed?.("passphrase_differs", f);
      },
    });
  }

  get online(): boolean {
    return this.#online;
  }

  get encrypted(): boolean {
    return this.#handshake !== undefined;
  }

  /** The current session's keys (with a passphrase, once the peer has proved it). */
  get keys(): SessionKeys | undefined {
    return this.#seal.keys;
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

  /** Handles one datagram. True when it was sealed, opened under the current peer's keys, and is
   * the newest that peer has sent (its highest counter so far): only such a datagram may move the
   * peer to a new address (RFC 9000 section 9.3; lib/peer_path.ts). `more`: others arrived with
   * it and follow at once; what it makes us send waits for the last of them (Arq's input). */
  input(datagram: Uint8Array, now: number, more = false): boolean {
    this.#more = more;
    this.#noteTime(now);
    this.#counts.datagramsIn++;
    return this.#intake.input(datagram, now);
  }

  #onPacket(p: Packet, now: number): void {
    if (p.srcEpoch !== this.#peerEpoch || p.dstEpoch === 0) return void this.#counts.stale++;
    this.#confirmed = true;
    this.#heard(now, p.type);
    this.#arq!.input(p, now, this.#more);
  }

  tick(now: number): void {
    this.#noteTime(now);
    this.#handshake?.tick(now);
    if (!this.#confirmed && now >= this.#helloAt) this.#sendHello(now);
    // Compared as nextDeadline computes them (a sum, not a difference): in floating point
    // `now - heard >= T` can be false at the very `now === heard + T` the deadline names, and the
    // timer then fires at that instant for ever (a livelock in virtual time).
    if (this.#online && now >= this.#lastHeard + PEER_TIMEOUT) this.#setOnline(false);
    const arq = this.#arq;
    if (!arq || !this.#confirmed) return;
    // While the peer is offline we send at most one datagram per OFFLINE_INTERVAL: the RTO's
    // retry waits for the keepalive's turn and goes in its place.
    if (!this.#online && now < this.#lastSent + OFFLINE_INTERVAL) return;
    arq.tick(now);
    if (now >= this.#lastSent + this.#keepalive()) arq.flush(now, true);
  }

  /** While confirmed, keepalives wake us at least every OFFLINE_INTERVAL: a longer gap means this
   * process was suspended (SIGSTOP, a laptop asleep) or its event loop stalled. */
  #noteTime(now: number): void {
    if (this.#confirmed && now - this.#now > SUSPENDED_AFTER) this.#arq?.resumed(now);
    this.#now = now;
  }

  /** Keepalives slow down while the peer is offline, so a dark path carries at most one a second. */
  #keepalive(): number {
    return this.#online ? KEEPALIVE_INTERVAL : OFFLINE_INTERVAL;
  }

  nextDeadline(): number {
    let at = this.#confirmed ? this.#arq!.nextDeadline() : this.#helloAt;
    if (this.#confirmed && !this.#online) at = this.#lastSent + OFFLINE_INTERVAL;
    else if (this.#confirmed) at = Math.min(at, this.#lastSent + KEEPALIVE_INTERVAL);
    if (this.#online) at = Math.min(at, this.#lastHeard + PEER_TIMEOUT);
    if (this.#handshake) at = Math.min(at, this.#handshake.nextDeadline());
    return at;
  }

  /** Says goodbye so the peer shows us offline at once. */
  close(now: number): void {
    this.#now = now;
    if (this.#confirmed) this.#arq!.bye(now);
  }

  stats(): SessionStats {
    const a = this.#arq?.stats() ?? zeroStats();
    const handshakeStray = this.#handshake?.stray ?? 0;
    return this.#tally.stats(a, { queued: this.#outbox.length, handshakeStray });
  }

  #onHello(p: Packet, now: number): void {
    if (this.#handshake || p.segments.length > 0) return this.#onHandshake(p, now);
    if (p.srcEpoch !== this.#peerEpoch) {
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
   * A HELLO with a passphrase carries one handshake message. Only a handshake that ends with both
   * tags verified admits an epoch (#established), so a HELLO can never reset the session, and a
   * retired epoch is never heard again: its process has gone, and its old messages belong to no
   * handshake of ours.
   */
  #onHandshake(p: Packet, now: number): void {
    const payload = p.segments[0]?.data;
    if (!this.#handshake || payload === undefined) {
      this.#counts.unauthenticated++;
      return this.#authFailed(p.srcEpoch, this.#handshake ? "peer_unencrypted" : "peer_encrypted");
    }
    if (this.#retired.includes(p.srcEpoch)) return void this.#counts.stale++;
    if (!this.#handshake.input(payload, p.srcEpoch, now)) return void this.#counts.malformed++;
    if (p.srcEpoch === this.#peerEpoch) this.#arq?.noteHello(p, now);
  }

  /** A handshake proved the passphrase: a new peer epoch is adopted; the current one (which
   * opened again, having lost our FINISH) gets this handshake's keys, and its counters restart
   * under them. Either way no key ever sees a nonce twice. */
  #established(epoch: number, isk: Uint8Array): void {
    const now = this.#now;
    const keys = deriveKeys(isk, this.#o.epoch, epoch);
    if (epoch === this.#peerEpoch && this.#arq) this.#seal.rekey(keys);
    else this.#adopt(epoch, now, keys);
    this.#confirmed = true;
    this.#heard(now, PacketType.hello);
    this.#arq!.flush(now, true);
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
    this.#seal.rekey(keys);
    const old = this.#arq;
    const restarted = old !== undefined;
    if (old) {
      this.#retired = [this.#peerEpoch, ...this.#retired].slice(0, RETIRED_EPOCHS);
      this.#outbox = [...old.pending(), ...this.#outbox];
      this.#tally.carry(old.stats());
    }
    this.#peerEpoch = epoch;
    this.#confirmed = false;
    this.#online = false;
    // A goodbye came from the incarnation being replaced: the new one has not said one.
    this.#byeHeard = false;
    const arq = new Arq({
      srcEpoch: this.#o.epoch,
      dstEpoch: epoch,
      initialSeq: this.#o.initialSeq,
      output: (d) => this.#output(d),
      onMessage: this.#o.onMessage,
      onDelivered: this.#o.onDelivered,
      durableMarks: this.#o.durableMarks,
      receiveBuffer: this.#o.receiveBuffer,
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
    // Back from a dark spell: an ACK at once, so the peer's own backoff ends too.
    if (online && this.#confirmed) this.#arq?.flush(this.#now, true);
  }

  /** With a passphrase, the handshake's next message (INIT, or CONFIRM again); else a HELLO. */
  #sendHello(now: number): void {
    if (this.#handshake) this.#handshake.open(now);
    else this.#output(encode(this.#hello(this.#peerEpoch, [], now)));
    if (!this.#confirmed) {
      this.#helloAt = now + this.#helloInterval;
      this.#helloInterval = Math.min(this.#helloInterval * 2, OFFLINE_INTERVAL);
    }
  }

  #sendHandshake(data: Uint8Array, to: number): void {
    this.#output(encode(this.#hello(to, [{ seq: 0, frg: 0, data }], this.#now)));
  }

  #hello(to: number, segments: Packet["segments"], now: number): Packet {
    return {
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
  }

  #output(datagram: Uint8Array): void {
    this.#lastSent = this.#now;
    if (this.#handshake && datagram[3] !== PacketType.hello) {
      const sealed = this.#seal.seal(datagram, this.#peerEpoch);
      if (!sealed) return;
      datagram = sealed;
    }
    this.#o.output(datagram);
  }
}
