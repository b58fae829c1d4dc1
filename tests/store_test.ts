/** The journal and history on disk: recovery from torn and damaged records, compaction, dedup. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Journal } from "../lib/store/journal.ts";
import { History, type HistoryEntry } from "../lib/store/history.ts";
import { encodeRecord, parseJournal } from "../lib/store/records.ts";
import { defaultStateDir } from "../lib/store/state_dir.ts";
import { AppendFile } from "../lib/store/files.ts";
import { Disk } from "./sim/disk.ts";
import { type Life, World } from "./sim/world.ts";
import { rngFor } from "./sim/random.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("a torn end is where the good part stops; a record with a flipped byte is skipped, the rest kept", () => {
  const a = encodeRecord({ t: "origin", origin: 7 });
  const b = encodeRecord({ t: "out", id: 1, name: "ann", text: "hi" });
  const c = encodeRecord({ t: "acked", id: 1 });
  assert.deepEqual(parseJournal(bytes(a + b + c)).damage, undefined);
  const torn = parseJournal(bytes(a + b + c.slice(0, 10)));
  assert.equal(torn.records.length, 2);
  assert.equal(torn.goodBytes, bytes(a + b).length);
  assert.deepEqual(torn.damage, { line: 3, torn: true, skipped: 0 });
  const flipped = parseJournal(bytes(a + b.replace("hi", "ho") + c));
  assert.deepEqual(flipped.records, [{ t: "origin", origin: 7 }, { t: "acked", id: 1 }]);
  assert.deepEqual(flipped.damage, { line: 2, torn: false, skipped: 1 });
  // Valid JSON with a valid checksum but the wrong shape is damage too.
  const odd = encodeRecord({ t: "acked", id: -1 } as never);
  assert.equal(parseJournal(bytes(a + odd)).records.length, 1);
});

Deno.test("records of any UTF-8 text read back as written", () => {
  const texts = ["héllo", "日本語 😀", "x".repeat(300_000), "ünï ".repeat(100_000)];
  const records = texts.map((text, i) => ({ t: "out" as const, id: i + 1, name: "bö", text }));
  const parsed = parseJournal(bytes(records.map(encodeRecord).join("")));
  assert.equal(parsed.damage, undefined);
  assert.deepEqual(parsed.records, records);
});

Deno.test("a journal keeps pending messages and the cursor across reopen, and compacts", () => {
  const dir = Deno.makeTempDirSync();
  const { journal: j } = Journal.open(dir);
  const origin = j.origin;
  assert.notEqual(origin, 0);
  const ids = ["one", "two", "three"].map((t) => j.addOut("ann", t));
  assert.deepEqual(ids, [1, 2, 3]);
  j.acked(1);
  assert.equal(j.accept(99, 5), true);
  assert.equal(j.accept(99, 5), false, "the same message again is a duplicate");
  assert.equal(j.accept(99, 4), false);
  j.fileStarted({ id: "00112233445566aa", path: "/tmp/x", name: "x", size: 3 });
  j.close();
  const { journal: k, notices } = Journal.open(dir);
  assert.deepEqual(notices, []);
  assert.equal(k.origin, origin);
  assert.deepEqual(k.pending().map((m) => m.text), ["two", "three"]);
  assert.equal(k.accept(99, 5), false, "the cursor survived");
  assert.equal(k.accept(98, 1), true, "another origin starts its own count");
  assert.equal(k.files().length, 1);
  k.acked(2);
  k.acked(3);
  k.close();
  // An intact journal is reopened as it is, not rewritten.
  const path = join(dir, "journal");
  const inode = Deno.statSync(path).ino;
  const { journal: l } = Journal.open(dir);
  assert.equal(Deno.statSync(path).ino, inode, "not rewritten at start");
  // Each run starts past the ids the one before reserved (257, then 513): never an id that a
  // power loss may have taken from the file after the peer saw it.
  assert.equal(l.addOut("ann", "four"), 513);
  // Once it holds far more records than its state needs, it is compacted, and ids go on.
  // (Acknowledgements in a row are one record, so this takes more than 4,096 messages.)
  let last = 0;
  for (let i = 5; i < 5000; i++) l.acked(last = l.addOut("ann", `m${i}`));
  l.commit();
  const lines = Deno.readTextFileSync(path).trim().split("\n");
  assert.ok(lines.length < 100, `compacted: ${lines.length} lines`);
  l.close();
  const { journal: m } = Journal.open(dir);
  assert.deepEqual(m.pending().map((x) => x.text), ["four"]);
  const next = m.addOut("ann", "next");
  assert.ok(next > last && next <= last + 257, `ids go on past ${last}: ${next}`);
  assert.equal(m.accept(98, 1), false, "the cursor survived compaction");
  m.close();
});

Deno.test("acknowledgements in a row are one record, and a gap splits them", () => {
  const dir = Deno.makeTempDirSync();
  const { journal: j } = Journal.open(dir);
  for (let i = 1; i <= 6; i++) j.addOut("ann", `m${i}`);
  for (const id of [1, 2, 3, 5, 6]) j.acked(id);
  assert.deepEqual(j.pending().map((m) => m.id), [4], "acknowledged at once in memory");
  j.close();
  const acked = Deno.readTextFileSync(join(dir, "journal")).split("\n")
    .filter((l) => l.includes('"acked"')).map((l) => JSON.parse(l.slice(9)));
  assert.deepEqual(acked, [{ t: "acked", id: 1, to: 3 }, { t: "acked", id: 5, to: 6 }]);
  const { journal: k } = Journal.open(dir);
  assert.deepEqual(k.pending().map((m) => m.id), [4]);
  assert.equal(k.addOut("ann", "next"), 257, "past the first run's reservation");
  k.close();
  // A run that ends before it starts is not a record anyone writes.
  const backwards = encodeRecord({ t: "acked", id: 5, to: 4 });
  assert.equal(parseJournal(new TextEncoder().encode(backwards)).records.length, 0);
});

Deno.test("a torn last record is dropped with a notice; damage in the middle is set aside", () => {
  const dir = Deno.makeTempDirSync();
  const { journal: j } = Journal.open(dir);
  j.addOut("ann", "kept");
  j.close();
  const path = join(dir, "journal");
  const good = Deno.readTextFileSync(path);
  Deno.writeTextFileSync(path, good + encodeRecord({ t: "acked", id: 1 }).slice(0, 12));
  const torn = Journal.open(dir);
  assert.match(torn.notices[0], /dropped a torn last record/);
  assert.deepEqual(torn.journal.pending().map((m) => m.text), ["kept"]);
  torn.journal.close();

  const lines = Deno.readTextFileSync(path).split("\n");
  lines[3] = lines[3].replace("kept", "kapt");
  Deno.writeTextFileSync(path, lines.join("\n") + encodeRecord({ t: "acked", id: 1 }));
  const damaged = Journal.open(dir);
  assert.match(
    damaged.notices[0],
    /is damaged at line 4: skipped 1 damaged record, kept the other \d+, and set the whole file aside as .*journal\.corrupt-.*; a message or file written there may be lost$/,
  );
  const aside = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("journal.corrupt-"));
  assert.equal(aside.length, 1);
  damaged.journal.close();
  // What is left opens cleanly.
  assert.deepEqual(Journal.open(dir).notices, []);
});

Deno.test("one damaged message record loses that message only: the queued ones after it are kept", () => {
  const dir = Deno.makeTempDirSync();
  const { journal: j } = Journal.open(dir);
  const ids = ["p1", "p2", "p3", "p4", "p5"].map((t) => j.addOut("ann", t));
  j.close();
  const path = join(dir, "journal");
  Deno.writeTextFileSync(path, Deno.readTextFileSync(path).replace('"text":"p3"', '"text":"pX"'));
  const { journal, notices } = Journal.open(dir);
  assert.equal(notices.length, 1);
  assert.deepEqual(journal.pending().map((m) => m.text), ["p1", "p2", "p4", "p5"]);
  // New ids never reuse the lost one's.
  assert.ok(journal.addOut("ann", "p6") > Math.max(...ids));
  journal.close();
});

Deno.test("garbage in place of a journal is set aside, never a crash", () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeFileSync(join(dir, "journal"), crypto.getRandomValues(new Uint8Array(5000)));
  const { journal, notices } = Journal.open(dir);
  assert.equal(notices.length, 1);
  assert.deepEqual(journal.pending(), []);
  assert.equal(journal.addOut("ann", "fresh"), 1);
  journal.close();
});

Deno.test("history returns the last entries and skips torn lines", () => {
  const dir = Deno.makeTempDirSync();
  const h = new History(dir);
  for (let i = 1; i <= 5000; i++) {
    h.append({ dir: i % 2 ? "out" : "in", id: i, name: "n", text: `m${i}`, at: "2026-01-01" });
  }
  h.close();
  Deno.writeTextFileSync(join(dir, "history.jsonl"), '{"dir":"in","id":', { append: true });
  const again = new History(dir);
  const text = (e: HistoryEntry) => "text" in e ? e.text : e.name;
  assert.deepEqual(again.last(3).map(text), ["m4998", "m4999", "m5000"]);
  assert.equal(again.last(4000).length, 4000);
  assert.equal(text(again.last(4000)[0]), "m1001");
  again.close();
});

Deno.test("the default state directory follows XDG, else ~/.local/state", () => {
  const chat = { port: 9000, peerHost: "fe80::1%eth0", peerPort: 9001 };
  assert.equal(
    defaultStateDir({ XDG_STATE_HOME: "/x/state", HOME: "/home/a" }, chat),
    "/x/state/chatnet/9000-fe80__1_eth0-9001",
  );
  assert.equal(
    defaultStateDir({ HOME: "/home/a" }, chat),
    "/home/a/.local/state/chatnet/9000-fe80__1_eth0-9001",
  );
  // A relative XDG_STATE_HOME is invalid by the spec and ignored.
  assert.equal(
    defaultStateDir({ XDG_STATE_HOME: "rel", HOME: "/h" }, chat),
    "/h/.local/state/chatnet/9000-fe80__1_eth0-9001",
  );
  assert.deepEqual(defaultStateDir({}, chat), {
    error: "Cannot find a state directory: set HOME or give --state-dir DIR",
  });
});

Deno.test("a history line torn by a crash costs only that line, not the next one", () => {
  const dir = Deno.makeTempDirSync();
  const entry = (id: number): HistoryEntry => ({
    dir: "in",
    id,
    name: "bob",
    text: `m${id}`,
    at: "2026-12-02T10:00:00.000Z",
  });
  const h = new History(dir);
  h.append(entry(1));
  h.close();
  // A crash mid-write: half of the second line reached the file.
  Deno.writeTextFileSync(join(dir, "history.jsonl"), JSON.stringify(entry(2)).slice(0, 20), {
    append: true,
  });
  const again = new History(dir);
  again.append(entry(3));
  again.close();
  assert.deepEqual(new History(dir).last(10).map((e) => "text" in e && e.text), ["m1", "m3"]);
});

Deno.test("a write that fills the disk halfway is taken back, and written whole once there is room", () => {
  const world = new World(rngFor(1));
  const disk = new Disk(world, [{ prefix: "/state", capacity: 100 }]);
  const life: Life = { name: "A", gen: 1, alive: true, frozen: false, held: [], onDeath: [] };
  world.enter(life);
  const f = new AppendFile("/state/log", disk.fsFor(life));
  f.append("a".repeat(59) + "\n");
  f.write();
  f.append("b".repeat(59) + "\n");
  assert.throws(() => f.write(), /No space left/);
  // Not the 40 bytes of b that fitted: the file holds only whole writes.
  assert.equal(new TextDecoder().decode(disk.read("/state/log")), "a".repeat(59) + "\n");
  disk.mounts[0].capacity = 200;
  f.append("c\n");
  f.write();
  assert.equal(
    new TextDecoder().decode(disk.read("/state/log")),
    `${"a".repeat(59)}\n${"b".repeat(59)}\nc\n`,
  );
});
