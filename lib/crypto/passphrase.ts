/**
 * The passphrase as both sides must see it: RFC 8265's OpaqueString profile (section 4.2), so
 * "café" typed precomposed (NFC) on one host and decomposed (NFD) on the other is one passphrase.
 *
 * - Non-ASCII spaces (Unicode Zs) become U+0020, then the string is NFC-normalised.
 * - Nothing is trimmed: spaces at either end are part of the passphrase.
 * - Empty results and control characters are refused, as the FreeformClass does. Deviation: we
 *   do not refuse unassigned code points (that needs Unicode tables we do not carry); NFC leaves
 *   them as they are on both sides, so they still compare equal.
 *
 * Pure.
 */
/** Shorter than this gets a warning: under 12 characters of mixed text is within reach of a
 * patient online guesser over months, and a PIN within days. */
export const SHORT_PASSPHRASE = 12;

/** The passphrase prepared for comparison, or why it cannot be used. */
export function preparePassphrase(text: string): string | { error: string } {
  const mapped = text.replace(/\p{Zs}/gu, " ").normalize("NFC");
  if (mapped.length === 0) return { error: "Cannot use the passphrase: it is empty" };
  if (/\p{Cc}/u.test(mapped)) {
    return { error: "Cannot use the passphrase: it contains a control character" };
  }
  return mapped;
}
