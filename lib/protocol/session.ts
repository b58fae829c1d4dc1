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
import { Arq, type ArqStats, type PendingMessage, zeroStats } from "./arq.ts";
import { decode, encode, type Packet, PacketType } from "./codec.ts";
import { HELLO_INTERVAL, KEEPALIVE_INTERVAL, PEER_TIMEOUT, RETIRED_EPOCHS } from "./constants.ts";

export type PeerState = "online" | "offline";

export interface SessionOptions {
  /** This incarnation's epoch: random, non-zero. */
  epoch: number;
  output: (datagram: Uint8Array) => void;
  onMessage: (data: Uint8Array) => void;
  onDelivered: (tag: number) => void;
  /** `restarted` is true when the peer came back as a new incarnation. */
  onPeer: (state: PeerState, restarted: boolean) => void;
  initialSeq?: number;
}

export interface SessionStats extends ArqStats {
  corrupt: number;
  malformed: number;
  reflected: number;
  stale: number;
  datagramsIn: number;
  peerRestarts: number;
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
  #counts = { corrupt: 0, malformed: 0, reflected: 0, stale: 0, datagramsIn: 0, peerRestarts: 0 };
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

  /** Messages accepted but not yet acknowledged by the peer. */
  get pending(): number {
    return this.#outbox.length + (this.#arq?.pendingCount ?? 0);
  }

  send(data: Uint8Array, tag: number, now: number): void {
    this.#now = now;
    if (this.#arq) this.#arq.send(data, tag, now);
    else this.#outbox.push({ data, tag });
  }

  input(datagram: Uint8Array, now: number): void {
    this.#now = now;
    this.#counts.datagramsIn++;
    const d = decode(datagram);
    if ("reason" in d) {
      if (d.reason === "bad checksum") this.#counts.corrupt++;
      else this.#counts.malformed++;
      return;
    }
    const p = d.packet;
    if (p.srcEpoch === this.#o.epoch) return void this.#counts.reflected++;
    if (p.srcEpoch === 0 || (p.dstEpoch !== 0 && p.dstEpoch !== this.#o.epoch)) {
      return void this.#counts.stale++;
    }
    if (p.type === PacketType.hello) return this.#onHello(p, now);
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
    if (p.srcEpoch !== this.#peerEpoch) {
      if (this.#retired.includes(p.srcEpoch)) return void this.#counts.stale++;
      this.#adopt(p.srcEpoch, now);
    }
    if (p.dstEpoch === this.#o.epoch) this.#confirmed = true;
    this.#heard(now, p.type);
    if (p.dstEpoch !== this.#o.epoch) this.#sendHello(now);
    else this.#arq!.flush(now, true);
  }

  /** Starts a stream with a new peer incarnation, carrying over what the old one never acked. */
  #adopt(epoch: number, now: number): void {
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

  #sendHello(now: number): void {
    const hello: Packet = {
      type: PacketType.hello,
      flags: 0,
      loss: 0,
      srcEpoch: this.#o.epoch,
      dstEpoch: this.#peerEpoch,
      pn: 0,
      ack: 0,
      ts: 0,
      echo: 0,
      sacks: [],
      segments: [],
    };
    this.#output(encode(hello));
    if (!this.#confirmed) {
      this.#helloAt = now + this.#helloInterval;
      this.#helloInterval = Math.min(this.#helloInterval * 2, KEEPALIVE_INTERVAL);
    }
  }

  #output(datagram: Uint8Array): void {
    this.#lastSent = this.#now;
    this.#o.output(datagram);
  }
}
