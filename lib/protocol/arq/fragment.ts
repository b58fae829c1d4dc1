/** Splitting a message into segments; the receiver's reassembly is in receiver.ts. */
import { MAX_MESSAGE, REDUNDANCY_MAX_BYTES } from "../constants.ts";
import { MAX_SEGMENT_DATA } from "../codec.ts";

export interface Fragment {
  /** Fragments still to come after this one: 0 ends a message. */
  frg: number;
  data: Uint8Array;
  /** A whole message of at most REDUNDANCY_MAX_BYTES: what "send small messages twice" means. */
  small: boolean;
}

/** The fragments of one message, in order (an empty message is one empty fragment). */
export function fragment(data: Uint8Array): Fragment[] {
  if (data.length > MAX_MESSAGE) {
    throw new RangeError(`Cannot send message: ${data.length} bytes exceeds ${MAX_MESSAGE}`);
  }
  if (data.length <= MAX_SEGMENT_DATA) {
    return [{ frg: 0, data, small: data.length <= REDUNDANCY_MAX_BYTES }];
  }
  const count = Math.ceil(data.length / MAX_SEGMENT_DATA);
  const out: Fragment[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * MAX_SEGMENT_DATA;
    out.push({ frg: count - 1 - i, data: data.subarray(at, at + MAX_SEGMENT_DATA), small: false });
  }
  return out;
}
