/**
 * Finding the partner on the LAN: both sides announce a tag (lib/crypto/pairing.ts) and their
 * chat port to a multicast group and listen for the same tag from someone else. Pure: datagrams
 * and the time go in, datagrams to send and the result come out (lib/net/discovery.ts runs it).
 *
 * Announcement: "CNd1", tag (16), nonce (8, this run), heard (8, the partner's nonce or zeros),
 * port (2), name length (1), name (UTF-8, at most MAX_NAME bytes).
 */
import { TAG_BYTES } from "../crypto/pairing.ts";
import { sameBytes } from "../bytes.ts";

const MAGIC = [0x43, 0x4e, 0x64, 0x31]; // "CNd1"
const NONCE_BYTES = 8;
const HEADER_BYTES = 4 + TAG_BYTES + 2 * NONCE_BYTES + 2 + 1;
/** A name longer than this is cut: it is only a label for the pair. */
export const MAX_NAME = 64;
/** Announcements go out at once, then after FIRST_GAP_MS, doubling up to MAX_GAP_MS (RFC 8085
 * 3.1.3: back off; at most one datagram a second per group would be gentler still, but someone
 * waits for the first answer). */
const FIRST_GAP_MS = 250;
const MAX_GAP_MS = 2_000;
/** Once the partner is heard, this many more announcements (carrying its nonce, so it knows it
 * was heard) go out, LINGER_GAP_MS apart and doubling (about 3 s in all), unless its own says it
 * heard us first. Three in 300 ms were too few for a partner slow to start (a busy host): it
 * never heard us and waited out its timeout. */
const LINGER = 5;
const LINGER_GAP_MS = 100;

export interface Announcement {
  tag: Uint8Array;
  nonce: Uint8Array;
  heard: Uint8Array;
  port: number;
  name: string;
}

export function encodeAnnouncement(a: Announcement): Uint8Array {
  const name = new TextEncoder().encode(a.name).subarray(0, MAX_NAME);
  const out = new Uint8Array(HEADER_BYTES + name.length);
  out.set(MAGIC, 0);
  out.set(a.tag, 4);
  out.set(a.nonce, 4 + TAG_BYTES);
  out.set(a.heard, 4 + TAG_BYTES + NONCE_BYTES);
  const at = 4 + TAG_BYTES + 2 * NONCE_BYTES;
  new DataView(out.buffer).setUint16(at, a.port);
  out[at + 2] = name.length;
  out.set(name, HEADER_BYTES);
  return out;
}

/** The announcement, or why the datagram is not one. */
export function decodeAnnouncement(d: Uint8Array): Announcement | string {
  if (d.length < HEADER_BYTES) return "too short";
  if (MAGIC.some((b, i) => d[i] !== b)) return "not an announcement";
  const at = 4 + TAG_BYTES + 2 * NONCE_BYTES;
  const port = new DataView(d.buffer, d.byteOffset).getUint16(at);
  if (port === 0) return "port 0";
  const n = d[at + 2];
  if (n > MAX_NAME || d.length !== HEADER_BYTES + n) return "bad name length";
  let name: string;
  try {
    name = new TextDecoder("utf-8", { fatal: true }).decode(d.subarray(HEADER_BYTES));
  } catch {
    return "name is not UTF-8";
  }
  return {
    tag: d.slice(4, 4 + TAG_BYTES),
    nonce: d.slice(4 + TAG_BYTES, 4 + TAG_BYTES + NONCE_BYTES),
    heard: d.slice(4 + TAG_BYTES + NONCE_BYTES, at),
    port,
    name: name.replace(/[\p{Cc}]/gu, ""),
  };
}

export interface Found {
  /** Where the partner's announcement came from, and the chat port it announced. */
  ip: string;
  port: number;
  name: string;
}

export class Discovery {
  #ours: Announcement;
  #next: number;
  #gap = FIRST_GAP_MS;
  #found?: Found;
  #lingered = 0;
  #heardUs = false;
  counts = { malformed: 0, otherTags: 0, own: 0 };

  constructor(o: { tag: Uint8Array; nonce: Uint8Array; port: number; name: string; now: number }) {
    this.#ours = { ...o, heard: new Uint8Array(NONCE_BYTES) };
    this.#next = o.now;
  }

  get found(): Found | undefined {
    return this.#found;
  }

  /** Found, and the partner knows it was heard (or had every chance to). */
  get done(): boolean {
    // At least one announcement after finding it, carrying its nonce: a partner that heard us
    // first learns from it that we heard it, rather than lingering its full course.
    return this.#found !== undefined &&
      ((this.#heardUs && this.#lingered > 0) || this.#lingered >= LINGER);
  }

  input(d: Uint8Array, from: { ip: string }, now: number): void {
    const a = decodeAnnouncement(d);
    if (typeof a === "string") return void this.counts.malformed++;
    if (!sameBytes(a.tag, this.#ours.tag)) return void this.counts.otherTags++;
    if (sameBytes(a.nonce, this.#ours.nonce)) return void this.counts.own++;
    // The first partner heard is the one: a second announcer with the tag is ignored.
    if (this.#found && !sameBytes(a.nonce, this.#ours.heard)) return;
    if (sameBytes(a.heard, this.#ours.nonce)) this.#heardUs = true;
    if (this.#found) return;
    this.#found = { ip: from.ip, port: a.port, name: a.name };
    this.#ours.heard = a.nonce;
    this.#next = now;
  }

  /** The announcements due now. */
  tick(now: number): Uint8Array[] {
    if (now < this.#next || this.done) return [];
    if (this.#found) {
      this.#next = now + LINGER_GAP_MS * 2 ** this.#lingered++;
    } else {
      this.#next = now + this.#gap;
      this.#gap = Math.min(this.#gap * 2, MAX_GAP_MS);
    }
    return [encodeAnnouncement(this.#ours)];
  }

  nextDeadline(): number {
    return this.done ? Infinity : this.#next;
  }
}
