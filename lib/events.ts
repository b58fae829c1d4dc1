/**
 * The one event vocabulary. The `--json` contract prints these objects as they are; the terminal
 * and pipe interfaces render them. Commands go the other way.
 */
import type { SessionStats } from "./protocol/session.ts";

export interface ReadyEvent {
  type: "ready";
  /** Our UDP port and bind address, the configured peer, our name. */
  port: number;
  bind: string;
  peer: string;
  name: string;
  /** Whether a passphrase protects the session (AEAD on every datagram and file stream). */
  encrypted: boolean;
  sim?: string;
}
export interface SentEvent {
  type: "sent";
  id: number;
  text: string;
  /** The peer is offline: the message waits (in the journal) until it is back. */
  queued?: true;
}
export interface DeliveredEvent {
  type: "delivered";
  id: number;
}
export interface MessageEvent {
  type: "message";
  id: number;
  text: string;
  from: string;
  name: string;
  at: string;
  /** When the sender wrote it, on the sender's clock, for a message that waited to be sent. */
  sentAt?: string;
}
/** A line of the stored conversation, replayed at start or on request: never new. */
export interface HistoryEvent {
  type: "history";
  dir: "in" | "out";
  id: number;
  name: string;
  text: string;
  at: string;
  /** For our own messages: whether the peer has it. */
  delivered?: boolean;
}
/** A finished file transfer from the stored conversation, replayed like `history`: never new.
 * `dir` is "out" for a file the peer verified, "in" for one received; the other fields are those
 * of its file_sent or file_received event. */
export interface HistoryFileEvent {
  type: "history_file";
  dir: "in" | "out";
  id: string;
  name: string;
  path: string;
  size: number;
  sha256: string;
  at: string;
}
export interface PeerEvent {
  type: "peer";
  state: "online" | "offline";
  /** The peer came back as a new process; unacknowledged messages are being sent again. */
  restarted?: boolean;
  /** With a passphrase, when online: twelve digits both sides show for this session. */
  fingerprint?: string;
}
/** With a passphrase, the peer showed up at a new address or port (a NAT rebinding, a new
 * network) and proved it: chat and files follow it there (lib/peer_path.ts). */
export interface MovedEvent {
  type: "moved";
  from: string;
  to: string;
}
/** A line for the user from around the session: a pair kept, a code used up (lib/join.ts). */
export interface NoticeEvent {
  type: "notice";
  message: string;
}
export interface StatsEvent extends SessionStats {
  type: "stats";
  foreign: number;
  sendErrors: number;
  pending: number;
  /** Messages the peer sent again after a restart that were already shown, so dropped. */
  alreadyShown: number;
  /** TCP file port: connections refused (not the peer), bad headers, over the limit. */
  tcpRefused: number;
  tcpBadHeader: number;
  tcpOverloaded: number;
  /** What seals datagrams and file records: "ChaCha20-Poly1305 (OpenSSL 3.0.19)",
   * "ChaCha20-Poly1305 (node:crypto)", or "none" without a passphrase. */
  cipher: string;
}
export interface ErrorEvent {
  type: "error";
  code: string;
  message: string;
  /** For file errors: the transfer and its name. */
  id?: string;
  name?: string;
  /** For file errors on the receiving side ("receive": the peer's file, not ours). */
  direction?: "receive";
  /** For a file command refused whole (transfer_failed while the state cannot be written). */
  path?: string;
  /** For auth_failed from a handshake: its source address, failures so far, and seconds until
   * the next attempt is accepted. For foreign_address: the address refused. */
  from?: string;
  count?: number;
  retryIn?: number;
}
export type Direction = "send" | "receive";
export interface FileStartEvent {
  type: "file_start";
  id: string;
  name: string;
  size: number;
  /** Bytes already there (a resumed transfer). */
  offset: number;
  direction: Direction;
  /** How the bytes travel: a TCP connection, or the chat's UDP session (--files). */
  via?: "tcp" | "udp";
  /** For a file of a folder: the folder's offer (its id, name "many/", files and bytes). */
  group?: FileGroup;
}
export interface FileGroup {
  id: string;
  name: string;
  files: number;
  size: number;
}
/** A file waits its turn: at most MAX_STREAMS stream at once per direction (lib/files/slots.ts).
 * Its file_start follows when it starts; `position` is its place in the queue then (1 = next). */
export interface FileQueuedEvent {
  type: "file_queued";
  id: string;
  name: string;
  size: number;
  direction: Direction;
  position: number;
}
export interface ProgressEvent {
  type: "progress";
  id: string;
  name: string;
  direction: Direction;
  bytes: number;
  size: number;
  speed: number;
  eta: number | null;
}
export interface FileDoneEvent {
  type: "file_sent" | "file_received";
  id: string;
  name: string;
  path: string;
  size: number;
  sha256: string;
  /** For a file of a folder, as in file_start. */
  group?: FileGroup;
}

/** Someone offers a file or a folder (`files` of them, `size` bytes in all) and --accept ask
 * waits for an answer: an `accept` or `decline` command with this `id`. `sender` is the name the
 * peer gave itself. A pending offer is said again at each start until it is answered. */
export interface OfferEvent {
  type: "offer";
  id: string;
  name: string;
  size: number;
  files: number;
  sender: string;
}
/** An offer said by `offer` is no longer pending: answered here, or withdrawn by the sender. */
export interface OfferClosedEvent {
  type: "offer_closed";
  id: string;
  name: string;
  outcome: "accepted" | "declined" | "withdrawn";
}
/** The sending side: the peer is asking its user whether to take offer `id` (a file or a folder);
 * its files wait, holding no turn, until the answer. */
export interface OfferWaitingEvent {
  type: "offer_waiting";
  id: string;
  name: string;
  size: number;
  files: number;
}

export type ChatEvent =
  | ReadyEvent
  | NoticeEvent
  | SentEvent
  | DeliveredEvent
  | MessageEvent
  | HistoryEvent
  | HistoryFileEvent
  | PeerEvent
  | MovedEvent
  | StatsEvent
  | ErrorEvent
  | FileStartEvent
  | FileQueuedEvent
  | ProgressEvent
  | FileDoneEvent
  | OfferEvent
  | OfferClosedEvent
  | OfferWaitingEvent;

export type Command =
  | { type: "send"; text: string }
  | { type: "file"; path: string }
  | { type: "stats" }
  | { type: "history"; count: number }
  | { type: "accept" | "decline"; id: string }
  | { type: "quit" };

/** Formats an address the way users type it: IPv6 in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
