/**
 * The reliability matrix on a real kernel path: two chatnet processes in two network namespaces,
 * impaired by netem or nftables, exchange messages both ways plus one file. Needs root; skips
 * with the reason otherwise.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ChatProc, type Json } from "./proc.ts";
import { makeHosts, unavailable } from "./netns/netns.ts";

const reason = await unavailable();
if (reason) console.log(`netns matrix skipped: ${reason}`);

const MESSAGES = 100;
/** TCP itself crawls at 50% loss each way (its timer backs off), so the file is smaller there. */
const fileBytes = (loss: number) => loss >= 50 ? 32_000 : 200_000;

for (const loss of [0, 10, 30, 50]) {
  Deno.test({
    name:
      `kernel path, ${loss}% loss and 10% duplication each way: messages both ways and a file arrive exactly once, in order, intact`,
    ignore: reason !== undefined,
    async fn() {
      const hosts = await makeHosts();
      const root = await Deno.makeTempDir({ prefix: "chatnet-netns-" });
      const procs: ChatProc[] = [];
      try {
        await hosts.impair({ loss, dup: 10 });
        const file = join(root, "payload.bin");
        const data = new Uint8Array(fileBytes(loss));
        for (let o = 0; o < data.length; o += 65536) {
          crypto.getRandomValues(data.subarray(o, o + 65536));
        }
        await Deno.writeFile(file, data);
        const start = (ns: string, name: string, peer: string, dir: string) => {
          const p = new ChatProc(
            ["--json", "--name", name, "-p", "7000", "--peer", `${peer}:7000`, "--downloads", dir],
            { prefix: hosts.exec(ns) },
          );
          procs.push(p);
          return p;
        };
        await Deno.mkdir(join(root, "a"));
        await Deno.mkdir(join(root, "b"));
        const a = start(hosts.nsA, "alice", hosts.ipB, join(root, "a"));
        const b = start(hosts.nsB, "bob", hosts.ipA, join(root, "b"));
        await a.until(
          () => a.of("peer").length > 0 && b.of("peer").length > 0,
          "both online",
          60_000,
        );
        await a.command({ type: "file", path: file });
        // Paced, so each message travels in datagrams of its own.
        for (let i = 0; i < MESSAGES; i++) {
          await a.command({ type: "send", text: `a${i}` });
          await b.command({ type: "send", text: `b${i}` });
          await new Promise((r) => setTimeout(r, 5));
        }
        const done = () =>
          a.of("message").length >= MESSAGES && b.of("message").length >= MESSAGES &&
          b.of("file_received").length === 1;
        await a.until(done, "messages and the file", 240_000).catch((e) => {
          const n = (p: ChatProc, t: string) => p.of(t).length;
          console.log(
            `a: ${n(a, "message")} messages, b: ${n(b, "message")} messages, ${
              n(b, "file_received")
            } files; a errors ${JSON.stringify(a.of("error"))} b errors ${
              JSON.stringify(b.of("error"))
            } b starts ${JSON.stringify(b.of("file_start"))}`,
          );
          throw e;
        });
        assert.deepEqual(
          b.of("message").map((m: Json) => m.text),
          Array.from({ length: MESSAGES }, (_, i) => `a${i}`),
        );
        assert.deepEqual(
          a.of("message").map((m: Json) => m.text),
          Array.from({ length: MESSAGES }, (_, i) => `b${i}`),
        );
        const got = b.of("file_received")[0];
        assert.equal(got.sha256, createHash("sha256").update(data).digest("hex"));
        assert.deepEqual(await Deno.readFile(got.path), data);
        await a.command({ type: "stats" });
        await a.until(() => a.of("stats").length === 1, "stats");
        const s = a.of("stats")[0];
        const c = await hosts.counters();
        console.log(
          `  ${hosts.method} ${loss}% loss: kernel dropped ${c?.dropped ?? "?"} and duplicated ` +
            `${c?.duplicated ?? "?"} packets; alice retransmitted ${s.retransmits}, suppressed ` +
            `${s.duplicates} duplicates, saw loss in ${(s.lossIn * 100).toFixed(0)}% out ` +
            `${(s.lossOut * 100).toFixed(0)}%`,
        );
        if (c) {
          assert.ok(c.duplicated > 0, "the kernel duplicated packets");
          if (loss > 0) assert.ok(c.dropped > 0, "the kernel dropped packets");
        }
      } finally {
        for (const p of procs) {
          p.kill();
          await p.exit();
        }
        await hosts.cleanup();
        await Deno.remove(root, { recursive: true });
      }
    },
  });
}
