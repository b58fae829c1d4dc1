/**
 * What the user is told about passphrase handshakes: the warning for a short passphrase at start,
 * the line for each failed attempt, and the error for a peer refused for its mode or version (the
 * terminal, JSON and the web window all show them). Pure.
 */
import { AUTH_BACKOFF, AUTH_REPORT_WINDOW } from "./protocol/constants.ts";
import { guessesPerDay } from "./protocol/backoff.ts";
import { SHORT_PASSPHRASE } from "./crypto/passphrase.ts";
import type { HandshakeFailure } from "./protocol/handshake.ts";
import type { AuthFailure } from "./protocol/session.ts";
import type { ChatEvent } from "./events.ts";

/** A warning for a short passphrase or a PIN, or undefined if it is long enough. */
export function weakPassphraseWarning(prepared: string): string | undefined {
  const chars = [...prepared].length;
  if (chars >= SHORT_PASSPHRASE) return undefined;
  const what = /^\d+$/.test(prepared) ? `a ${chars}-digit PIN` : `${chars} characters`;
  return `the passphrase is short (${what}): someone who can reach this port gets about ` +
    `${guessesPerDay(AUTH_BACKOFF)} guesses a day, so use ${SHORT_PASSPHRASE} characters or more ` +
    "(or several random words)";
}

/** "4 min", "1 h 5 min", "now". */
export function formatWait(ms: number): string {
  if (ms <= 0) return "now";
  const min = Math.ceil(ms / 60_000);
  if (min < 60) return `in ${min} min`;
  const h = Math.floor(min / 60), rest = min % 60;
  return `in ${h} h${rest ? ` ${rest} min` : ""}`;
}

/** The line for one failed handshake from `from`. */
export function authFailedMessage(f: HandshakeFailure, from: string): string {
  const window = `${AUTH_REPORT_WINDOW / 60_000} minutes`;
  const what = f.why === "no_tag"
    ? "no confirmation came in time"
    : f.why === "bad_share"
    ? "its share was not valid"
    : "the passphrase differs";
  const head = f.recent > AUTH_BACKOFF.free
    ? `${f.recent} failed handshakes from ${from} in ${window}: someone may be guessing your ` +
      "passphrase, or the peer's differs"
    : `A handshake from ${from} failed (${what}): nothing was exchanged; check that both sides ` +
      "use the same passphrase" + (f.why === "no_tag" ? "" : ", and restart the side you correct");
  return `${head}; ${f.count} failed so far; next attempt accepted ${formatWait(f.retryIn)}`;
}

/** The error event for a failed handshake (`f`) from `from`, or for a peer refused for its
 * mode or version (`why`). */
export function authFailedEvent(
  { why, f, from }: { why: AuthFailure; f?: HandshakeFailure; from: string },
): ChatEvent {
  return f
    ? {
      type: "error",
      code: "auth_failed",
      message: authFailedMessage(f, from),
      from,
      count: f.count,
      retryIn: Math.ceil(f.retryIn / 1000),
    }
    : {
      type: "error",
      code: why === "peer_version" ? "peer_version" : "auth_failed",
      message: AUTH_FAILURES[why],
    };
}

const AUTH_FAILURES: Record<AuthFailure, string> = {
  passphrase_differs:
    "The peer's passphrase differs: nothing was exchanged; check that both sides use the same one",
  peer_unencrypted:
    "The peer has no passphrase (it runs unencrypted): nothing was exchanged; give it the same one",
  peer_encrypted: "The peer uses a passphrase and this side has none: nothing was exchanged; " +
    "set CHATNET_SECRET, --secret-file or --ask-secret",
  peer_version: "The peer runs a chatnet release with another protocol version: nothing was " +
    "exchanged; run the same release on both sides (chatnet --version)",
};
