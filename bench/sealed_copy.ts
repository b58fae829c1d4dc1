/**
 * One end of the bare sealed copy in bench/file_throughput.ts: chatnet's sealed copy loop with
 * nothing around it (no chat, no events, no journal, no fsync), in two processes as chatnet's two
 * ends are, so the benchmark shows what any Deno program doing this work reaches on its host.
 *
 *   recv HOST PORT PATH SIZE   listens, prints "ready", writes the file
 *   send HOST PORT PATH        reads the file, hashes it and sends it sealed
 *
 * Each prints "cpu MS" when it is done, its user plus system time since the connection, and the
 * receiver also "ms MS", the time from the connection to the last byte: neither counts the
 * process's start, as chatnet's figures do not.
 */
import { createHash } from "node:crypto";
import process from "node:process";
import {
  fileWriter,
  pump,
  readExactly,
  sealedReader,
  sealedWriter,
  TRAILER_BYTES,
  writeAll,
} from "../lib/net/file_stream.ts";
import { RecordOpener, RecordSealer } from "../lib/crypto/records.ts";
import { useOpenSsl } from "../lib/native/openssl_aead.ts";
import { READ_AHEAD, WRITE_DEPTH } from "../lib/files/transfers.ts";

const [mode, hostname, port, path, size] = Deno.args;
const key = new Uint8Array(32).fill(1); // nothing here is secret
useOpenSsl(undefined);
const copy = { depth: WRITE_DEPTH, onBytes: () => {} };
let failed: string | undefined, cpu = process.cpuUsage();
if (mode === "recv") {
  const listener = Deno.listen({ hostname, port: Number(port) });
  console.log("ready");
  const conn = await listener.accept();
  cpu = process.cpuUsage();
  const started = performance.now();
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const from = sealedReader(conn, new RecordOpener(key));
  failed = await pump({ ...copy, from, to: fileWriter(file), bytes: Number(size) }) ??
    (await readExactly(from, new Uint8Array(TRAILER_BYTES)) ? undefined : "no trailer");
  file.close();
  conn.close();
  listener.close();
  console.log(`ms ${performance.now() - started}`);
} else {
  const conn = await Deno.connect({ hostname, port: Number(port) });
  cpu = process.cpuUsage();
  const file = await Deno.open(path);
  const hash = createHash("sha256");
  const to = sealedWriter(conn, new RecordSealer(key));
  failed = await pump({
    ...copy,
    from: file,
    to,
    bytes: (await file.stat()).size,
    hash,
    ahead: READ_AHEAD,
  });
  await writeAll(to, new Uint8Array(hash.digest()));
  file.close();
  conn.close();
}
if (failed) throw new Error(`Bare sealed copy failed: ${failed}`);
const { user, system } = process.cpuUsage(cpu); // the whole process (getrusage), in µs
console.log(`cpu ${(user + system) / 1000}`);
