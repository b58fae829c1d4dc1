/** The store's file mechanics: an append-only file written in two steps, and durable renames. */
import { writeAllSync } from "../bytes.ts";
import { denoFs, type FileHandle, type Fs } from "./fs.ts";

/**
 * Appended text is buffered; `write()` hands it to the kernel (it then survives a SIGKILL, not a
 * power loss); `sync()` makes it durable with an fdatasync off the event loop, `syncNow()` on it
 * (at exit). One fdatasync covers everything written before it began.
 */
export class AppendFile {
  #file: FileHandle;
  #buffer = "";
  #unsynced = false;

  constructor(readonly path: string, fs: Fs = denoFs) {
    this.#file = fs.openSync(path, { append: true, create: true });
  }

  append(text: string): void {
    this.#buffer += text;
  }

  /** Something appended is not durable yet. */
  get unsynced(): boolean {
    return this.#buffer.length > 0 || this.#unsynced;
  }

  write(): void {
    if (!this.#buffer) return;
    writeAllSync(this.#file, this.#buffer);
    this.#buffer = "";
    this.#unsynced = true;
  }

  async sync(): Promise<void> {
    this.write();
    if (!this.#unsynced) return;
    this.#unsynced = false;
    await this.#file.syncData();
  }

  syncNow(): void {
    this.write();
    if (!this.#unsynced) return;
    this.#unsynced = false;
    this.#file.syncDataSync();
  }

  close(): void {
    this.syncNow();
    this.#file.close();
  }
}
