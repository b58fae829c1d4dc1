/**
 * What a session is given (SessionOptions), and the words of its contract: the peer's state, why
 * a peer was refused, how far receiving had got.
 */
import type { HandshakeFailure } from "../handshake.ts";

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
  /** The prepared passphrase (lib/crypto/passphrase.ts). Without one the session is plaintext. */
  passphrase?: string;
  /** Fresh random bytes for the handshake; WebCrypto's unless a test seeds its own. */
  random?: (n: number) => Uint8Array;
  /** Said once per peer epoch refused for its mode or version, at most every
   * AUTH_REPORT_INTERVAL; `failure` comes with every failed passphrase handshake. */
  onAuthFailed?: (why: AuthFailure, failure?: HandshakeFailure) => void;
  /** What we receive is stored asynchronously; see durableMark() and Arq's durableMarks. */
  durableMarks?: boolean;
  /** Bytes our socket's receive buffer holds, when known (Arq's receiveBuffer). */
  receiveBuffer?: number;
}

/** How far one peer incarnation's stream had been received, to be marked durable later. */
export interface DurableMark {
  epoch: number;
  seq: number;
}
