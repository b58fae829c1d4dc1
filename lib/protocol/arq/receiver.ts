/**
 * The receiving half of a stream: duplicate suppression, a reorder buffer, SACK ranges, fragment
 * reassembly, and the durable point advertised to the sender.
 */
import { concat } from "../../bytes.ts";
import { MAX_MESSAGE, MAX_SACK_RANGES, RECEIVE_WINDOW } from "../constants.ts";
import type { Segment } from "../codec.ts";
import { seqAdd, seqDiff, seqLess } from "../seq.ts";

export class Receiver {
  #next: number;
  #reorder = new Map<number, Segment>();
  #lastReceived = -1;
  #sackCache: [number, number][] | undefined;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  /** Our durable point, advertised when the stream stores asynchronously. */
  #durable: number;
  #onMessage: (data: Uint8Array) => void;
  /** The highest sequence number received within the window. */
  #highest: number;
  /** Since takeDisorder() was last called, a segment came below the highest received (late, a
   * repair, a duplicate) or past a gap above it: the sender's loss detection wants to hear at
   * once (RFC 9000 section 13.2.1; acks.ts). */
  #disorder = false;
  duplicates = 0;
  outOfWindow = 0;

  constructor(initialSeq: number, onMessage: (data: Uint8Array) => void) {
    this.#next = this.#durable = initialSeq;
    this.#highest = seqAdd(initialSeq, -1);
    this.#onMessage = onMessage;
  }

  /** Everything before it has been delivered: the cumulative ACK. */
  get next(): number {
    return this.#next;
  }

  get durable(): number {
    return this.#durable;
  }

  /** Everything before `mark` (an earlier `next`) is stored; false when that changes nothing. */
  markDurable(mark: number): boolean {
    if (!seqLess(this.#durable, mark) || seqLess(this.#next, mark)) return false;
    this.#durable = mark;
    return true;
  }

  /** Whether disorder was seen since the last call. */
  takeDisorder(): boolean {
    const d = this.#disorder;
    this.#disorder = false;
    return d;
  }

  onSegment(s: Segment): void {
    const offset = seqDiff(s.seq, this.#next);
    const above = seqDiff(s.seq, this.#highest);
    if (above !== 1) this.#disorder = true;
    if (offset < 0 || this.#reorder.has(s.seq)) {
      this.duplicates++;
      return;
    }
    if (offset >= RECEIVE_WINDOW) {
      this.outOfWindow++;
      return;
    }
    this.#reorder.set(s.seq, s);
    this.#lastReceived = s.seq;
    if (above > 0) this.#highest = s.seq;
    this.#sackCache = undefined;
    for (let next = this.#reorder.get(this.#next); next; next = this.#reorder.get(this.#next)) {
      this.#reorder.delete(this.#next);
      this.#next = seqAdd(this.#next, 1);
      this.#reassemble(next);
    }
  }

  #reassemble(s: Segment): void {
    this.#fragments.push(s.data);
    this.#fragmentBytes += s.data.length;
    if (this.#fragmentBytes > MAX_MESSAGE) {
      // A peer that never ends a message would grow memory without bound; drop what it sent.
      this.#fragments = [];
      this.#fragmentBytes = 0;
      this.outOfWindow++;
      return;
    }
    if (s.frg !== 0) return;
    const parts = this.#fragments;
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#onMessage(parts.length === 1 ? parts[0] : concat(parts));
  }

  /** The range holding the newest arrival first (RFC 2018), then the lowest holes. */
  sackRanges(): [number, number][] {
    if (this.#reorder.size === 0) return [];
    return this.#sackCache ??= this.#computeSackRanges();
  }

  #computeSackRanges(): [number, number][] {
    const offsets = [...this.#reorder.keys()].map((k) => seqDiff(k, this.#next)).sort((a, b) =>
      a - b
    );
    const ranges: [number, number][] = [];
    for (const o of offsets) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === o) last[1] = o + 1;
      else ranges.push([o, o + 1]);
    }
    const newest = seqDiff(this.#lastReceived, this.#next);
    const first = ranges.findIndex(([a, b]) => a <= newest && newest < b);
    const ordered = first > 0 ? [ranges[first], ...ranges.filter((_, i) => i !== first)] : ranges;
    return ordered.slice(0, MAX_SACK_RANGES).map((
      [a, b],
    ) => [seqAdd(this.#next, a), seqAdd(this.#next, b)]);
  }
}
