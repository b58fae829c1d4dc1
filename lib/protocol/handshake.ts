/**
 * The passphrase handshake: CPace (lib/crypto/cpace.ts) with a fresh scalar and fresh nonces from
 * both sides every time, explicit key confirmation, and every failure counted and backed off.
 *
 *   opener                                   answerer
 *   INIT    nO                      ─────▶   (fresh nA, ya; sid = nO‖nA)
 *           ◀─────  REPLY   nO nA Ya          its share only: nothing to test a guess against
 *   (fresh yb; K, ISK)
 *   CONFIRM nO nA Yb Tb             ─────▶   verifies Tb; wrong or missing: a failure
 *           ◀─────  FINISH  nO nA Ta          its tag only once Tb verified
 *   verifies Ta; wrong or missing: a failure
 *
 * - In the draft's terms the answerer is party A (it sends the first share), the opener party B;
 *   the transcript is the initiator-responder one, ADa and ADb are the two sides' epochs (so a
 *   message reflected back under another epoch never matches: no loopback sessions), CI names the
 *   protocol only (never addresses, which NATs rewrite) and sid is both nonces (section 10.9).
 * - Whoever learns a tag has made one guess, and the side that showed the tag counts it unless the
 *   other's tag verifies in HANDSHAKE_TIMEOUT. An answerer that sees no CONFIRM counts one too.
 * - One handshake at a time. Simultaneous INITs: the larger nonce keeps the opener's role. One that
 *   has waited HANDSHAKE_REPLACE_AFTER for its answer gives way to an INIT of no handshake of ours
 *   (a peer that restarted mid-handshake: its old incarnation never answers), and counts as failed,
 *   as it would at its timeout.
 * - Past a few failures AuthBackoff makes each attempt wait; meanwhile INITs go unanswered and we
 *   send none.
 *
 * Messages ride in HELLO packets (the session addresses them). Pure: time comes in as `now`.
 */
import {
  calculateGenerator,
  confirmTag,
  deriveIsk,
  lexicographicallyLarger,
  sampleScalar,
  scalarMult,
  scalarMultVfy,
  SHARE_BYTES,
  TAG_BYTES,
  tagMatches,
  transcriptIr,
} from "../crypto/cpace.ts";
import { concat, sameBytes } from "../bytes.ts";
import { AuthBackoff } from "./backoff.ts";
import { MismatchedPeers } from "./mismatched.ts";
import { AUTH_BACKOFF, HANDSHAKE_REPLACE_AFTER, HANDSHAKE_TIMEOUT } from "./constants.ts";

export const NONCE_BYTES = 16;
/** CPace's channel identifier: what both sides agree on before they speak, the protocol alone. */
const CI = new TextEncoder().encode("chatnet/1 CPace-RISTR255-SHA512");

export enum Kind {
  init = 1,
  reply = 2,
  confirm = 3,
  finish = 4,
}

const LENGTHS: Record<Kind, number> = {
  [Kind.init]: 1 + NONCE_BYTES,
  [Kind.reply]: 1 + 2 * NONCE_BYTES + SHARE_BYTES,
  [Kind.confirm]: 1 + 2 * NONCE_BYTES + SHARE_BYTES + TAG_BYTES,
  [Kind.finish]: 1 + 2 * NONCE_BYTES + TAG_BYTES,
};

/** Why an attempt failed: a tag that did not verify, none in time, or a share that is no group
 * element (or gives the identity). */
export type FailReason = "wrong_tag" | "no_tag" | "bad_share";

export interface HandshakeFailure {
  why: FailReason;
  /** Failed attempts since start. */
  count: number;
  /** Failures in the last AUTH_REPORT_WINDOW. */
  recent: number;
  /** Milliseconds until the next attempt is accepted. */
  retryIn: number;
}

export interface HandshakeOptions {
  /** The prepared passphrase (lib/crypto/passphrase.ts). */
  passphrase: string;
  epoch: number;
  /** Fresh random bytes (WebCrypto in the program, seeded in tests). */
  random: (n: number) => Uint8Array;
  send: (payload: Uint8Array, to: number) => void;
  /** The peer epoch proved the passphrase; `isk` is this handshake's alone. */
  onEstablished: (peerEpoch: number, isk: Uint8Array) => void;
  onFailed: (f: HandshakeFailure) => void;
}

interface Opener {
  nonce: Uint8Array;
  /** After the REPLY: */
  peer?: number;
  peerNonce?: Uint8Array;
  confirm?: Uint8Array;
  expected?: Uint8Array;
  isk?: Uint8Array;
  /** When the CONFIRM (our tag) first went out, and when we stop waiting for the FINISH. */
  shownAt?: number;
  deadline?: number;
}

interface Answerer {
  peer: number;
  openerNonce: Uint8Array;
  nonce: Uint8Array;
  scalar: bigint;
  share: Uint8Array;
  reply: Uint8Array;
  /** When the REPLY first went out, and when we stop waiting for the CONFIRM. */
  shownAt: number;
  deadline: number;
}

export interface HandshakeMessage {
  kind: Kind;
  openerNonce: Uint8Array;
  answererNonce?: Uint8Array;
  share?: Uint8Array;
  tag?: Uint8Array;
}

/** A handshake payload, or undefined if it is not one. */
export function parseHandshake(b: Uint8Array): HandshakeMessage | undefined {
  const kind = b[0] as Kind;
  if (!(kind in LENGTHS) || b.length !== LENGTHS[kind]) return undefined;
  const at = (o: number, n: number) => b.subarray(o, o + n);
  const m: HandshakeMessage = { kind, openerNonce: at(1, NONCE_BYTES) };
  if (kind === Kind.init) return m;
  m.answererNonce = at(1 + NONCE_BYTES, NONCE_BYTES);
  const rest = 1 + 2 * NONCE_BYTES;
  if (kind === Kind.reply || kind === Kind.confirm) m.share = at(rest, SHARE_BYTES);
  if (kind === Kind.confirm) m.tag = at(rest + SHARE_BYTES, TAG_BYTES);
  if (kind === Kind.finish) m.tag = at(rest, TAG_BYTES);
  return m;
}

function message(kind: Kind, ...parts: Uint8Array[]): Uint8Array {
  return concat([Uint8Array.of(kind), ...parts]);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export class Handshake {
  #o: HandshakeOptions;
  #prs: Uint8Array;
  #backoff = new AuthBackoff(AUTH_BACKOFF);
  #opener: Opener | undefined;
  #answerer: Answerer | undefined;
  /** The last handshake we answered to the end, to say FINISH again if it was lost. */
  #finished: { peer: number; openerNonce: Uint8Array; finish: Uint8Array } | undefined;
  /** Handshake messages that matched no handshake of ours (replays, strays). */
  #stray = 0;
  #mismatched = new MismatchedPeers();
  /** The epoch the last handshake message came from: while it is mismatched we open none. */
  #heard: number | undefined;

  constructor(options: HandshakeOptions) {
    this.#o = options;
    this.#prs = new TextEncoder().encode(options.passphrase);
  }

  /** Failed attempts since start. */
  get failures(): number {
    return this.#backoff.total;
  }

  get stray(): number {
    return this.#stray;
  }

  /** True while a handshake is under way (we should not start another). */
  get busy(): boolean {
    return this.#answerer !== undefined || this.#opener?.confirm !== undefined;
  }

  /** Starts a handshake or sends its current message again (INIT, or CONFIRM once replied). */
  open(now: number): void {
    if (this.#answerer) return;
    const o = this.#opener;
    if (o?.confirm) return this.#o.send(o.confirm, o.peer!);
    if (!this.#backoff.canAttempt(now) || this.#mismatched.has(this.#heard, now)) return;
    this.#opener ??= { nonce: this.#o.random(NONCE_BYTES) };
    this.#o.send(message(Kind.init, this.#opener.nonce), 0);
  }

  /** A handshake payload from `src` (already checked: not ours, not retired). False if it is
   * not a handshake message at all. */
  input(payload: Uint8Array, src: number, now: number): boolean {
    const m = parseHandshake(payload);
    if (!m) return false;
    this.#heard = src;
    switch (m.kind) {
      case Kind.init:
        this.#onInit(m, src, now);
        break;
      case Kind.reply:
        this.#onReply(m, src, now);
        break;
      case Kind.confirm:
        this.#onConfirm(m, src, now);
        break;
      case Kind.finish:
        this.#onFinish(m, src, now);
        break;
    }
    return true;
  }

  tick(now: number): void {
    if (this.#answerer && now >= this.#answerer.deadline) {
      this.#answerer = undefined;
      this.#fail("no_tag", now);
    }
    const d = this.#opener?.deadline;
    if (d !== undefined && now >= d) {
      this.#opener = undefined;
      this.#fail("no_tag", now);
    }
  }

  nextDeadline(): number {
    return Math.min(this.#answerer?.deadline ?? Infinity, this.#opener?.deadline ?? Infinity);
  }

  /** When the backoff lets the next attempt start (-Infinity: now). */
  get nextAttemptAt(): number {
    return this.#backoff.nextAt;
  }

  #onInit(m: HandshakeMessage, src: number, now: number): void {
    const a = this.#answerer;
    if (a) {
      // The same INIT again (our REPLY was lost): the same REPLY, never a second scalar.
      if (a.peer === src && sameBytes(a.openerNonce, m.openerNonce)) {
        return this.#o.send(a.reply, src);
      }
      // Another INIT: ours waited long enough for a CONFIRM that will not come (the opener
      // restarted, most likely as `src`); counted as at its timeout, then this one is answered.
      if (now - a.shownAt < HANDSHAKE_REPLACE_AFTER) return void this.#stray++;
      this.#answerer = undefined;
      this.#fail("no_tag", now);
    }
    if (this.#opener?.confirm) {
      // Likewise our CONFIRM, whose answerer will not say FINISH.
      if (now - this.#opener.shownAt! < HANDSHAKE_REPLACE_AFTER) return void this.#stray++;
      this.#opener = undefined;
      this.#fail("no_tag", now);
    }
    const o = this.#opener;
    // Both opened at once: the larger nonce stays the opener; say ours again to the other side.
    if (o && lexicographicallyLarger(o.nonce, m.openerNonce)) {
      return this.#o.send(message(Kind.init, o.nonce), src);
    }
    if (!this.#backoff.canAttempt(now) || this.#mismatched.has(src, now)) {
      return void this.#stray++;
    }
    this.#opener = undefined;
    this.#backoff.attempt(now);
    const nonce = this.#o.random(NONCE_BYTES);
    const openerNonce = m.openerNonce.slice();
    const scalar = sampleScalar(this.#o.random(64));
    const g = calculateGenerator(this.#prs, CI, concat([openerNonce, nonce]));
    const share = scalarMult(scalar, g);
    const reply = message(Kind.reply, openerNonce, nonce, share);
    this.#answerer = {
      peer: src,
      openerNonce,
      nonce,
      scalar,
      share,
      reply,
      shownAt: now,
      deadline: now + HANDSHAKE_TIMEOUT,
    };
    this.#o.send(reply, src);
  }

  #onReply(m: HandshakeMessage, src: number, now: number): void {
    const o = this.#opener;
    if (!o || !sameBytes(o.nonce, m.openerNonce)) return void this.#stray++;
    if (o.confirm) {
      // Our CONFIRM was lost, or this is a copy: the same CONFIRM for the same REPLY only.
      if (o.peer === src && sameBytes(o.peerNonce!, m.answererNonce!)) {
        this.#o.send(o.confirm, src);
      } else this.#stray++;
      return;
    }
    if (!this.#backoff.canAttempt(now) || this.#mismatched.has(src, now)) {
      return void this.#stray++;
    }
    this.#backoff.attempt(now);
    const sid = concat([o.nonce, m.answererNonce!]);
    const scalar = sampleScalar(this.#o.random(64));
    const share = scalarMult(scalar, calculateGenerator(this.#prs, CI, sid));
    const k = scalarMultVfy(scalar, m.share!);
    if (!k) {
      this.#opener = undefined;
      return this.#fail("bad_share", now, src);
    }
    // Draft party A is the answerer (src), party B the opener (us).
    const adA = u32(src), adB = u32(this.#o.epoch);
    const isk = deriveIsk(sid, k, transcriptIr(m.share!, adA, share, adB));
    o.peer = src;
    o.peerNonce = m.answererNonce!.slice();
    o.isk = isk;
    o.expected = confirmTag(sid, isk, { share: m.share!, ad: adA });
    o.confirm = message(
      Kind.confirm,
      o.nonce,
      o.peerNonce,
      share,
      confirmTag(sid, isk, { share, ad: adB }),
    );
    o.shownAt = now;
    o.deadline = now + HANDSHAKE_TIMEOUT;
    this.#o.send(o.confirm, src);
  }

  #onConfirm(m: HandshakeMessage, src: number, now: number): void {
    const f = this.#finished;
    if (f && f.peer === src && sameBytes(f.openerNonce, m.openerNonce)) {
      return this.#o.send(f.finish, src);
    }
    const a = this.#answerer;
    if (
      !a || a.peer !== src || !sameBytes(a.openerNonce, m.openerNonce) ||
      !sameBytes(a.nonce, m.answererNonce!)
    ) return void this.#stray++;
    this.#answerer = undefined;
    const k = scalarMultVfy(a.scalar, m.share!);
    if (!k) return this.#fail("bad_share", now, src);
    const sid = concat([a.openerNonce, a.nonce]);
    const adA = u32(this.#o.epoch), adB = u32(src);
    const isk = deriveIsk(sid, k, transcriptIr(a.share, adA, m.share!, adB));
    if (!tagMatches(confirmTag(sid, isk, { share: m.share!, ad: adB }), m.tag!)) {
      return this.#fail("wrong_tag", now, src);
    }
    const finish = message(
      Kind.finish,
      a.openerNonce,
      a.nonce,
      confirmTag(sid, isk, { share: a.share, ad: adA }),
    );
    this.#finished = { peer: src, openerNonce: a.openerNonce, finish };
    this.#backoff.succeed();
    this.#o.send(finish, src);
    this.#o.onEstablished(src, isk);
  }

  #onFinish(m: HandshakeMessage, src: number, now: number): void {
    const o = this.#opener;
    if (
      !o?.confirm || o.peer !== src || !sameBytes(o.nonce, m.openerNonce) ||
      !sameBytes(o.peerNonce!, m.answererNonce!)
    ) return void this.#stray++;
    this.#opener = undefined;
    if (!tagMatches(o.expected!, m.tag!)) return this.#fail("wrong_tag", now, src);
    this.#backoff.succeed();
    this.#o.onEstablished(src, o.isk!);
  }

  /** `peer`: the epoch that showed a wrong tag or share, proof that its passphrase differs. */
  #fail(why: FailReason, now: number, peer?: number): void {
    if (peer !== undefined) this.#mismatched.add(peer, now);
    this.#backoff.fail(now);
    const b = this.#backoff;
    this.#o.onFailed({ why, count: b.total, recent: b.recent(now), retryIn: b.retryIn(now) });
  }
}
