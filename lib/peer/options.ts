/**
 * What a running peer is given (PeerOptions), and the held output it shows messages through.
 */
import type { ImpairSpec } from "../net/impair.ts";
import type { FilesMode } from "../files/route.ts";
import type { AcceptMode } from "../files/consent.ts";
import type { Journal } from "../store/journal.ts";
import type { History } from "../store/history.ts";
import type { Effects } from "../effects.ts";

export interface PeerOptions {
  bind: string;
  port: number;
  peerIp: string;
  peerPort: number;
  name: string;
  sim?: ImpairSpec;
  /** TCP port for incoming files; the peer learns it from our accepts. */
  filePort: number;
  downloads: string;
  maxFileSize: number;
  /** How files go out (default auto: TCP, or the UDP session when TCP cannot connect). */
  files?: FilesMode;
  /** Which offered files are taken (default all): lib/files/consent.ts. */
  accept?: AcceptMode;
  /** Outbox and receive cursor; in memory when absent. */
  journal?: Journal;
  history?: History;
  /** Where the journal and history are, for the warning when they cannot be written. */
  stateDir?: string;
  /** History lines replayed at start (default 10). */
  historyLines?: number;
  /** Said once at start, e.g. what was repaired in the state directory. */
  notices?: string[];
  /** The shared passphrase, prepared (lib/crypto/passphrase.ts); without one, plaintext. */
  secret?: string;
  /** The interfaces' output (stdout). While a datagram's messages are shown it is held, and it is
   * flushed right after the receive cursor is written: a SIGKILL between storing the cursor and
   * showing the messages then has only the gap between two writes to land in. */
  output?: HeldOutput;
  /** Time, sockets and files (lib/effects.ts): Deno's unless the simulator passes its own. */
  effects?: Effects;
}

/** Output the interfaces write to (stdout), which gathers what it is given while held. */
export interface HeldOutput {
  /** Gathers what is written from now on, until flush() or the end of the task. */
  hold(): void;
  /** Writes what was gathered, now. */
  flush(): void;
}
