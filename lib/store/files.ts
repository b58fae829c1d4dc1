/** The store's file mechanics: an append-only file written in two steps, and durable renames. */
import { concat } from "../bytes.ts";
import { denoFs, type FileHandle, type Fs, PRIVATE_FILE } from "./fs.ts";

const encoder = new TextEncoder();

/**
 * Appended text is buffered; `write()` hands it to the kernel (it then survives a SIGKILL, not a
 * power loss); `sync()` makes it durable with an fdatasync off the event loop, `syncNow()` on it
 * (at exit). One fdatasync covers everything written before it began.
 */
export class AppendFile {
  #file: FileHandle;
  #buffer = "";
  /** Bytes a failed write left unwritten (then appended text waits behind them). */
  #rest: Uint8Array | undefined;
  #unsynced = false;
  /** Asynchronous fdatasyncs under way. */
  #syncing = 0;

  constructor(readonly path: string, fs: Fs = denoFs) {
    this.#file = fs.openSync(path, { append: true, create: true, mode: PRIVATE_FILE });
  }

  append(text: string): void {
    this.#buffer += text;
  }

  /** What was appended but is not in the file yet (a failed write left it in memory). */
  unwritten(): Uint8Array {
    const text = encoder.encode(this.#buffer);
    return this.#rest ? concat([this.#rest, text]) : text;
  }

  /** Something appended is not durable yet. */
  get unsynced(): boolean {
    return this.#buffer.length > 0 || this.#rest !== undefined || this.#unsynced;
  }

  write(): void {
    if (!this.#buffer && !this.#rest) return;
    this.#unsynced = true;
    // What a failed write (ENOSPC, EIO) left unwritten goes first next time, and only that: the
    // bytes before it are in the file, and writing them again would tear a record.
    const text = encoder.encode(this.#buffer);
    const bytes = this.#rest ? concat([this.#rest, text]) : text;
    this.#buffer = "";
    this.#rest = undefined;
    let done = 0;
    try {
      while (done < bytes.length) done += this.#file.writeSync(bytes.subarray(done));
    } catch (e) {
      // A partial write (a disk that filled) is taken back: a record it completed must not be
      // read at the next start as stored while this run treats it as unwritten (a receive cursor
      // past messages never shown, sim --accept ask seed 713). All of it is written again later.
      if (done > 0) {
        try {
          this.#file.truncateSync(this.#file.statSync().size - done);
          done = 0;
        } catch { /* then what was written stays, and only the rest goes later */ }
      }
      this.#rest = bytes.subarray(done);
      throw e;
    }
  }

  async sync(): Promise<void> {
    this.write();
    if (!this.#unsynced) return;
    this.#unsynced = false;
    this.#syncing++;
    try {
      await this.#file.syncData();
    } catch (e) {
      this.#unsynced = true;
      throw e;
    } finally {
      this.#syncing--;
    }
  }

  /** Durable when it returns, even if an asynchronous sync is still under way (at exit it may
   * never finish: seed 958 reported a message sent that a power loss then took). */
  syncNow(): void {
    this.write();
    if (!this.#unsynced && this.#syncing === 0) return;
    this.#unsynced = false;
    this.#file.syncDataSync();
  }

  /** Closes the file, dropping what was not written (after a failed close; twice is harmless). */
  discard(): void {
    this.#buffer = "";
    this.#rest = undefined;
    try {
      this.#file.close();
    } catch { /* closed already */ }
  }

  /** Writes and syncs what is left, then closes the file even if that fails (and rethrows). */
  close(): void {
    try {
      this.syncNow();
    } finally {
      this.#file.close();
    }
  }
}
