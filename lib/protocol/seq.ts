/** 32-bit sequence arithmetic that survives wraparound (RFC 1982 serial numbers). */

/** a - b as a signed distance, correct while the two are within 2^31 of each other. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLess(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}

export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
