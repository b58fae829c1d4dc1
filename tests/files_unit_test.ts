import assert from "node:assert/strict";
import { numbered, safeRelativePath } from "../lib/files/names.ts";
import { parseControl } from "../lib/files/control.ts";
import {
  CHUNK,
  decodeHeader,
  encodeHeader,
  fileWriter,
  HEADER_BYTES,
  pump,
  queuedWriter,
  type Reader,
} from "../lib/net/file_stream.ts";
import { seededRng } from "../lib/rng.ts";
import { readLines } from "../lib/ui/output.ts";
import { Progress } from "../lib/files/progress.ts";
import { parseSize } from "../lib/cli/args.ts";

Deno.test("received names are made safe or refused", () => {
  assert.deepEqual(safeRelativePath("report.pdf"), ["report.pdf"]);
  assert.deepEqual(safeRelativePath("photos/2026/a.jpg"), ["photos", "2026", "a.jpg"]);
  assert.deepEqual(safeRelativePath("bad\x1b[2Jname\n.txt"), ["bad_[2Jname_.txt"]);
  assert.deepEqual(safeRelativePath("a\\..\\b"), ["a_.._b"]);
  assert.deepEqual(safeRelativePath("CON.txt"), ["_CON.txt"]);
  assert.deepEqual(safeRelativePath("trailing. "), ["trailing"]);
  assert.equal(safeRelativePath("../etc/passwd"), "path climbs out of the downloads folder");
  assert.equal(safeRelativePath("a/../../b"), "path climbs out of the downloads folder");
  assert.equal(safeRelativePath("/etc/passwd"), "absolute path");
  assert.equal(safeRelativePath("C:\\Windows\\x"), "absolute path");
  assert.equal(safeRelativePath(""), "empty name");
  assert.equal(safeRelativePath("a//b"), "empty path component");
  assert.equal(safeRelativePath(Array(40).fill("d").join("/")), "path too deep");
  const long = safeRelativePath("é".repeat(300));
  assert.ok(Array.isArray(long) && new TextEncoder().encode(long[0]).length <= 200);
});

Deno.test("name collisions are numbered before the extension", () => {
  assert.equal(numbered("report.pdf", 0), "report.pdf");
  assert.equal(numbered("report.pdf", 2), "report (2).pdf");
  assert.equal(numbered("archive.tar.gz", 1), "archive.tar (1).gz");
  assert.equal(numbered(".bashrc", 1), ".bashrc (1)");
  assert.equal(numbered("README", 3), "README (3)");
});

Deno.test("file control messages from the peer are validated field by field", () => {
  const id = "0123456789abcdef";
  assert.deepEqual(parseControl(JSON.stringify({ op: "offer", id, name: "a", size: 5 })), {
    op: "offer",
    id,
    name: "a",
    size: 5,
  });
  for (
    const bad of [
      "nope",
      "null",
      JSON.stringify({ op: "offer", id: "../x", name: "a", size: 1 }),
      JSON.stringify({ op: "offer", id, name: 7, size: 1 }),
      JSON.stringify({ op: "offer", id, name: "a", size: -1 }),
      JSON.stringify({ op: "offer", id, name: "a", size: 2 ** 60 }),
      JSON.stringify({ op: "accept", id, offset: 0, prefix: "zz", port: 1 }),
      JSON.stringify({ op: "accept", id, offset: 0, prefix: "0".repeat(64), port: 70000 }),
      JSON.stringify({ op: "launch", id }),
    ]
  ) {
    assert.equal(typeof parseControl(bad), "string", bad);
  }
});

Deno.test("the stream header round-trips and rejects garbage", () => {
  const h = { id: "00ff00ff00ff00ff", offset: 5 * 2 ** 32, size: 6 * 2 ** 32 };
  assert.deepEqual(decodeHeader(encodeHeader(h)), h);
  assert.equal(decodeHeader(new Uint8Array(HEADER_BYTES)), "bad magic");
  const bad = encodeHeader(h);
  bad[40] = 1;
  assert.equal(decodeHeader(bad), "bad header padding");
  const inverted = encodeHeader({ ...h, offset: h.size + 1 });
  assert.equal(decodeHeader(inverted), "bad offset or size");
  assert.equal(decodeHeader(new Uint8Array(10)), "short header");
});

Deno.test("progress reports at most ten times a second, with speed and ETA", () => {
  const p = new Progress(2000, 0, 0);
  const at: number[] = [];
  const reports = [];
  for (let t = 1; t <= 100; t++) {
    const r = p.add(10, t * 10);
    if (r) reports.push(r), at.push(t * 10);
  }
  assert.equal(reports.length, 10);
  assert.ok(at.every((t, i) => i === 0 || t - at[i - 1] >= 100), at.join());
  const last = reports[reports.length - 1];
  assert.equal(last.bytes, 910);
  assert.ok(Math.abs(last.speed - 1000) < 50, `speed ${last.speed}`);
  assert.equal(last.eta, Math.ceil(1090 / last.speed));
});

Deno.test("sizes parse with binary units", () => {
  assert.equal(parseSize("500"), 500);
  assert.equal(parseSize("1K"), 1024);
  assert.equal(parseSize("1.5G"), 1.5 * 2 ** 30);
  assert.equal(parseSize("20GiB"), 20 * 2 ** 30);
  assert.equal(parseSize("lots"), undefined);
});

/** A reader and a writer that are always ready and take `busyMs` of CPU per call. */
function busyEnds(busyMs: number) {
  const burn = () => {
    for (const end = performance.now() + busyMs; performance.now() < end;) { /* busy */ }
  };
  return {
    from: {
      read(p: Uint8Array) {
        burn();
        return Promise.resolve(p.length);
      },
    },
    to: {
      write(p: Uint8Array) {
        return Promise.resolve(p.length);
      },
    },
  };
}

Deno.test("a copy loop whose reads are always ready still lets due timers run", async () => {
  let fired = false, firedAtChunk = -1, chunks = 0;
  setTimeout(() => fired = true, 0);
  const { from, to } = busyEnds(2);
  await pump({
    from,
    to,
    bytes: 30 * CHUNK,
    onBytes: () => {
      chunks++;
      if (fired && firedAtChunk < 0) firedAtChunk = chunks;
    },
  });
  // 30 chunks take at least 60 ms; the timer must not wait for the end of the copy.
  assert.ok(firedAtChunk > 0 && firedAtChunk < 30, `timer ran after chunk ${firedAtChunk}`);
});

Deno.test("a copy loop whose reads are always ready still lets a datagram in", async () => {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (sock.addr as Deno.NetAddr).port;
  let chunks = 0, readAtChunk = -1;
  const got = sock.receive().then(() => readAtChunk = chunks);
  const { from, to } = busyEnds(2);
  try {
    await pump({
      from,
      to,
      bytes: 30 * CHUNK,
      onBytes: () => {
        if (++chunks === 3) {
          sock.send(new Uint8Array([1]), { transport: "udp", hostname: "127.0.0.1", port });
        }
      },
    });
    await got;
    // Sent after chunk 3; with turns every few ms it is read within a few 4 ms chunks.
    assert.ok(readAtChunk >= 3 && readAtChunk < 10, `datagram read after chunk ${readAtChunk}`);
  } finally {
    sock.close();
  }
});

Deno.test("queued writes over a stream that writes partly stay whole and in order", async () => {
  const rng = seededRng(11);
  const out: number[] = [];
  let failAt = -1;
  const partial = {
    async write(p: Uint8Array) {
      await new Promise((r) => setTimeout(r, rng() < 0.5 ? 0 : 1));
      if (out.length >= failAt && failAt >= 0) throw new Error("broken pipe");
      const n = 1 + Math.floor(rng() * p.length);
      out.push(...p.subarray(0, n));
      return n;
    },
  };
  const w = queuedWriter(partial);
  const chunks = Array.from({ length: 20 }, (_, i) => new Uint8Array(50).fill(i));
  assert.deepEqual(await Promise.all(chunks.map((c) => w.write(c))), chunks.map(() => 50));
  assert.deepEqual(out, chunks.flatMap((c) => [...c]));
  // After a failed write, the writes queued behind it fail too, and write nothing.
  out.length = 0;
  failAt = 120;
  const w2 = queuedWriter(partial);
  const results = await Promise.allSettled(chunks.map((c) => w2.write(c)));
  const firstFailed = results.findIndex((r) => r.status === "rejected");
  assert.ok(firstFailed > 0 && results.slice(firstFailed).every((r) => r.status === "rejected"));
  assert.ok(out.length < 50 * (firstFailed + 1), `${out.length} bytes written`);
  assert.deepEqual(out, chunks.flatMap((c) => [...c]).slice(0, out.length));
});

Deno.test("a received file is written whole and in order, also once its writes turn slow", async () => {
  const rng = seededRng(13);
  const src = new Uint8Array(3 * CHUNK + 999).map(() => Math.floor(rng() * 256));
  // A minute keeps every write on the event loop; -1 counts the first write as slow, so the rest
  // go through the thread pool, with four chunks in flight.
  for (const slowMs of [60_000, -1]) {
    const path = await Deno.makeTempFile();
    const file = await Deno.open(path, { write: true });
    let at = 0;
    const from: Reader = {
      read(p) {
        const n = Math.min(p.length, src.length - at, 1 + Math.floor(rng() * CHUNK));
        p.set(src.subarray(at, at += n));
        return Promise.resolve(n);
      },
    };
    const to = fileWriter(file, slowMs);
    assert.equal(
      await pump({ from, to, bytes: src.length, depth: 4, onBytes: () => {} }),
      undefined,
    );
    assert.equal(to.slow, slowMs < 0, `slowMs ${slowMs}`);
    file.close();
    assert.deepEqual(await Deno.readFile(path), src, `slowMs ${slowMs}`);
    await Deno.remove(path);
  }
});

Deno.test("a copy with several reads and writes in flight, reads cut short, is byte-identical", async () => {
  const rng = seededRng(12);
  const size = 7 * CHUNK + 12_345;
  const src = new Uint8Array(size).map(() => Math.floor(rng() * 256));
  let at = 0;
  // Reads return odd sizes, as a socket's do.
  const from: Reader = {
    read(p) {
      if (at === size) return Promise.resolve(null);
      const n = Math.min(p.length, size - at, 1 + Math.floor(rng() * CHUNK));
      p.set(src.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
  const path = await Deno.makeTempFile();
  const file = await Deno.open(path, { write: true });
  try {
    const failed = await pump({ from, to: file, bytes: size, depth: 4, ahead: 3, onBytes() {} });
    assert.equal(failed, undefined);
  } finally {
    file.close();
  }
  assert.deepEqual(await Deno.readFile(path), src);
  await Deno.remove(path);
});

Deno.test("reading a long paste lets due timers run between lines", async () => {
  const text = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join("\n") + "\n";
  const stream = new Blob([text]).stream();
  let fired = false, firedAtLine = -1, lines = 0;
  setTimeout(() => fired = true, 0);
  for await (const _ of readLines(stream)) {
    lines++;
    for (const end = performance.now() + 0.05; performance.now() < end;) {
      /* the consumer's work */
    }
    if (fired && firedAtLine < 0) {
      firedAtLine = lines;
    }
  }
  assert.equal(lines, 3000);
  assert.ok(firedAtLine > 0 && firedAtLine < 3000, `timer ran after line ${firedAtLine}`);
});
