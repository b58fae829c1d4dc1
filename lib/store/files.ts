/** Small synchronous file helpers the store shares. */
import { dirname } from "node:path";

const encoder = new TextEncoder();

/** Writes all of `text` (writeSync may take only part of a buffer). */
export function writeAllSync(file: Deno.FsFile, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/** Makes a rename or a new file in the folder holding `path` durable. */
export function syncDir(path: string): void {
  const dir = Deno.openSync(dirname(path), { read: true });
  try {
    dir.syncSync();
  } finally {
    dir.close();
  }
}
