/**
 * The file system behind an interface: the journal, the history, the downloads and the files being
 * sent go through an Fs, so the simulator (tests/sim/) can crash, fill and fail its disk.
 * `denoFs` is the real one; its files are Deno's own handles, which already have this shape.
 * Errors are Deno's (Deno.errors.NotFound, …) in both, so callers word them once.
 */
import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import type { Reader, Writer } from "../net/file_stream.ts";

/** `whence` for seek: from the start of the file (Deno.SeekMode.Start). */
export const SEEK_START = 0;

export interface FileInfo {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface OpenOptions {
  read?: boolean;
  write?: boolean;
  append?: boolean;
  create?: boolean;
  createNew?: boolean;
  truncate?: boolean;
  /** Permissions of a file this creates (PRIVATE_FILE for what the state directory holds). */
  mode?: number;
}

/** State files (the conversation, the journal, pair secrets) are the user's alone. */
export const PRIVATE_FILE = 0o600;

export interface FileHandle extends Reader, Writer {
  readSync(p: Uint8Array): number | null;
  writeSync(p: Uint8Array): number;
  seek(offset: number, whence: number): Promise<number>;
  seekSync(offset: number, whence: number): number;
  truncate(length?: number): Promise<void>;
  truncateSync(length?: number): void;
  stat(): Promise<{ size: number }>;
  statSync(): { size: number };
  /** fdatasync: the data (and the size) survive a power loss. */
  syncData(): Promise<void>;
  syncDataSync(): void;
  /** fsync. */
  syncSync(): void;
  close(): void;
}

export interface DirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
}

export interface Fs {
  open(path: string, o: OpenOptions): Promise<FileHandle>;
  openSync(path: string, o: OpenOptions): FileHandle;
  readFileSync(path: string): Uint8Array<ArrayBuffer>;
  writeFileSync(path: string, data: Uint8Array): void;
  mkdir(path: string, o?: { recursive?: boolean; mode?: number }): Promise<void>;
  mkdirSync(path: string, o?: { recursive?: boolean; mode?: number }): void;
  realPath(path: string): Promise<string>;
  rename(from: string, to: string): Promise<void>;
  renameSync(from: string, to: string): void;
  remove(path: string): Promise<void>;
  stat(path: string): Promise<FileInfo>;
  statSync(path: string): FileInfo;
  readDir(path: string): AsyncIterable<DirEntry>;
  /** Bytes an unprivileged writer may still use on the file system holding `path`. */
  freeSpace(path: string): Promise<number>;
  /** Makes a rename or a new file in the folder holding `path` durable. */
  syncDirOf(path: string): void;
}

export const denoFs: Fs = {
  open: (path, o) => Deno.open(path, o),
  openSync: (path, o) => Deno.openSync(path, o),
  readFileSync: (path) => Deno.readFileSync(path),
  writeFileSync: (path, data) => Deno.writeFileSync(path, data),
  mkdir: (path, o) => Deno.mkdir(path, o),
  mkdirSync: (path, o) => Deno.mkdirSync(path, o),
  realPath: (path) => Deno.realPath(path),
  rename: (from, to) => Deno.rename(from, to),
  renameSync: (from, to) => Deno.renameSync(from, to),
  remove: (path) => Deno.remove(path),
  stat: (path) => Deno.stat(path),
  statSync: (path) => Deno.statSync(path),
  readDir: (path) => Deno.readDir(path),
  async freeSpace(path) {
    const fs = await statfs(path);
    return fs.bavail * fs.bsize;
  },
  syncDirOf(path) {
    const dir = Deno.openSync(dirname(path), { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  },
};

export type FsErrorKind =
  | "not_found"
  | "exists"
  | "denied"
  | "read_only"
  | "full"
  | "io"
  | "off_limits";

const BY_CODE: Record<string, FsErrorKind> = {
  ENOENT: "not_found",
  EEXIST: "exists",
  EACCES: "denied",
  EPERM: "denied",
  EROFS: "read_only",
  ENOSPC: "full",
  EDQUOT: "full",
  EIO: "io",
};
/** Linux errno values, for errors that carry only Deno's "(os error N)" text. */
const BY_ERRNO: Record<number, FsErrorKind> = {
  2: "not_found",
  5: "io",
  13: "denied",
  17: "exists",
  28: "full",
  30: "read_only",
  122: "full",
};

/** What kind of file-system error `e` is, for callers that word it (both Fs throw Deno's). */
export function fsError(e: unknown): FsErrorKind | undefined {
  if (e instanceof Deno.errors.NotFound) return "not_found";
  if (e instanceof Deno.errors.AlreadyExists) return "exists";
  if (e instanceof Deno.errors.PermissionDenied) return "denied";
  // Deno's own sandbox: /proc, /sys and devices need more than --allow-write gives.
  if (e instanceof Deno.errors.NotCapable) return "off_limits";
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && BY_CODE[code]) return BY_CODE[code];
  const errno = /\(os error (\d+)\)/.exec(e instanceof Error ? e.message : "")?.[1];
  return errno === undefined ? undefined : BY_ERRNO[Number(errno)];
}

const WORDS: Record<FsErrorKind, string> = {
  not_found: "no such file or folder",
  exists: "it already exists",
  denied: "permission denied",
  read_only: "the file system is read-only",
  full: "the disk is full",
  io: "input/output error (the disk may be failing)",
  off_limits: "chatnet may not use system paths (/proc, /sys, /dev); choose an ordinary folder",
};

/** `e` in our words ("the disk is full"), or Deno's text without its "(os error N): op" tail. */
export function describeFsError(e: unknown): string {
  const kind = fsError(e);
  if (kind) return WORDS[kind];
  const text = e instanceof Error ? e.message : String(e);
  const bare = text.replace(/ \(os error \d+\).*$/s, "");
  return bare.charAt(0).toLowerCase() + bare.slice(1);
}
