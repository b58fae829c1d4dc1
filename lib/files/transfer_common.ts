/**
 * What both sides of a file transfer share (lib/files/sender.ts, receiver.ts): the options they
 * are made with, the timings of their streams, and the events they report.
 */
import type { ChatEvent, Direction, FileGroup } from "../events.ts";
import type { FileControl } from "./control.ts";
import type { ProgressReport } from "./progress.ts";
import type { FilesMode, Route } from "./route.ts";
import type { AcceptMode, OfferRecord } from "./consent.ts";
import type { UdpFiles } from "./udp_stream.ts";
import type { Clock } from "../net/clock.ts";
import type { Tcp } from "../net/tcp.ts";
import type { Fs } from "../store/fs.ts";

export interface TransferOptions {
  downloads: string;
  /** Our TCP port for incoming files, told to the peer in every accept. */
  filePort: number;
  peerIp: string;
  maxFileSize: number;
  sendControl: (c: FileControl) => void;
  emit: (e: ChatEvent) => void;
  isPeerOnline: () => boolean;
  /** With a passphrase: the current session's file keys (undefined until the peer proved it). */
  streamKeys?: () => { send: Uint8Array; recv: Uint8Array } | undefined;
  /** A file starts being sent (`active`), or its transfer ended: for the journal. */
  onOutgoing?: (f: OutgoingFile, active: boolean) => void;
  /** Our name as the peer sees it: offers carry it, and declines say it. */
  name?: string;
  /** Which offers are taken (default all): lib/files/consent.ts. */
  accept?: AcceptMode;
  /** An offer asked about changed (undefined: forgotten): for the journal. */
  onOfferRecord?: (id: string, r: OfferRecord | undefined) => void;
  /** How bytes go out (default tcp); `udp` carries them over the session for auto and udp. */
  files?: FilesMode;
  udp?: UdpFiles;
  /** The effects (lib/effects.ts); Deno's by default. */
  clock?: Clock;
  fs?: Fs;
  tcp?: Tcp;
}

export interface OutgoingFile {
  id: string;
  /** Absolute, so a restarted process finds it again. */
  path: string;
  name: string;
  size: number;
  /** The offer it is part of (a folder, or the file alone); older journals lack it. */
  group?: OutgoingGroup;
}

/** An offer as the sender keeps it: a file, or a folder and its files. */
export interface OutgoingGroup {
  id: string;
  name: string;
  files: number;
  size: number;
}

/** What a side works with: the options and the effects (Deno's unless the options say). */
export interface TransferContext {
  o: TransferOptions;
  clock: Clock;
  fs: Fs;
  route: Route;
  events: TransferEvents;
}

/** A connection must send its header this soon, and no stream may stall longer than IDLE_MS.
 * A stalled stream is cheap to replace: the file is offered again and resumes from its .part on
 * a fresh connection, whose retransmission timer has not backed off. */
export const HEADER_MS = 10_000;
export const IDLE_MS = 10_000;
/** Chunks a copy may have queued for writing at once (file_stream.ts pump). With one at a time, a
 * sender could not seal a chunk while the one before was still going out, and a receiver waited on
 * each write to its file (0.3 to 3 ms per MiB here); its writes now run on the event loop until the
 * disk turns slow (fileWriter), and then through this queue. */
export const WRITE_DEPTH = 4;
/** Chunks a sender may be reading from its file at once: with one, it waited on the read (0.6 ms
 * per MiB) while both cores were busy. */
export const READ_AHEAD = 2;
/** A broken transfer is offered again after this long (once the peer is online). */
export const RETRY_MS = 1_000;

/** The events a transfer reports as it goes. */
export class TransferEvents {
  #emit: (e: ChatEvent) => void;

  constructor(emit: (e: ChatEvent) => void) {
    this.#emit = emit;
  }

  start(
    t: { id: string; name: string; size: number; group?: FileGroup },
    direction: Direction,
    offset: number,
    via: "tcp" | "udp",
  ): void {
    this.#emit({
      type: "file_start",
      id: t.id,
      name: t.name,
      size: t.size,
      offset,
      direction,
      via,
      ...folderOf(t),
    });
  }

  progress(t: { id: string; name: string }, direction: Direction, r?: ProgressReport): void {
    if (r) this.#emit({ type: "progress", id: t.id, name: t.name, direction, ...r });
  }

  error(code: string, message: string, t?: { id: string; name: string }): void {
    this.#emit({ type: "error", code, message, ...(t ? { id: t.id, name: t.name } : {}) });
  }

  /** An error of a file the peer sends us (our decline, our disk): marked as such, so that a
   * run's exit status counts only what it was given. */
  incomingError(code: string, message: string, t?: { id: string; name: string }): void {
    this.#emit({
      type: "error",
      code,
      message,
      ...(t ? { id: t.id, name: t.name } : {}),
      direction: "receive",
    });
  }
}

export function tryClose(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}

/** `{ group }` for a file of a folder (an offer of more than one file), else nothing: what the
 * file_start and file_sent/file_received events carry so interfaces can speak of the folder. */
export function folderOf(t: { group?: FileGroup }): { group?: FileGroup } {
  const g = t.group;
  return g && g.files > 1
    ? { group: { id: g.id, name: g.name, files: g.files, size: g.size } }
    : {};
}
