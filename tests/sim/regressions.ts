/** The bugs of issue 18 and those the random seeds found, each as a scenario kept as a regression
 * test. */
import { CALM } from "./net.ts";
import { type Scenario, SETTLE_MS } from "./scenario.ts";

function base(label: string, seed: number): Scenario {
  return {
    seed,
    label,
    secrets: [undefined, undefined],
    stateBytes: 2 ** 30,
    downloadBytes: 2 ** 30,
    weather: { ...CALM, delayMs: 2 },
    files: [],
    timeline: [
      { at: 0, action: { kind: "start", who: "A" } },
      { at: 0, action: { kind: "start", who: "B" } },
    ],
    activeMs: 30_000,
    settleMs: SETTLE_MS,
  };
}

const MIB = 2 ** 20;

function every(ms: number, from: number, to: number): number[] {
  const out = [];
  for (let t = from; t < to; t += ms) out.push(t);
  return out;
}

export const REGRESSIONS: Record<string, () => Scenario> = {
  /** Bug 1: with a passphrase, B quits cleanly and starts again; A must see it online again. */
  "an encrypted session comes back after a clean quit": () => {
    const s = base("bug 1", 101);
    s.secrets = ["correct horse", "correct horse"];
    every(250, 500, 25_000).forEach((at, i) =>
      s.timeline.push({ at, action: { kind: "send", who: "A", text: `A#${i + 1} hi` } })
    );
    for (const at of [3_000, 9_000, 15_000]) {
      s.timeline.push({ at, action: { kind: "quit", who: "B" } });
      s.timeline.push({ at: at + 1_000, action: { kind: "start", who: "B" } });
    }
    return sorted(s);
  },
  /** Bug 2: the receiver dies mid-transfer; the sender must not die 10 s later. */
  "the sender survives an interrupted file": () => {
    const s = base("bug 2", 102);
    s.weather = { ...CALM, delayMs: 5 };
    s.files.push({ who: "A", path: "/home/A/big.bin", size: 20 * MIB });
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "A", path: "/home/A/big.bin" } });
    s.timeline.push({ at: 1_100, action: { kind: "crash", who: "B" } });
    s.timeline.push({ at: 2_000, action: { kind: "start", who: "B" } });
    return sorted(s);
  },
  /** Bug 3: a folder of many small files is sent a few at a time, not all at once. */
  "a folder of 300 small files arrives whole": () => {
    const s = base("bug 3", 103);
    for (let i = 0; i < 300; i++) {
      s.files.push({ who: "A", path: `/home/A/many/${i}.txt`, size: 100 + i });
    }
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "A", path: "/home/A/many" } });
    s.timeline.push({
      at: 1_500,
      action: { kind: "send", who: "A", text: "A#1 during the folder" },
    });
    return sorted(s);
  },
  /** Bug 4: B's state disk fills while messages arrive, and B restarts: no crash, no duplicate. */
  "a full state disk is an event, not a crash or a duplicate": () => {
    const s = base("bug 4", 104);
    every(100, 500, 10_000).forEach((at, i) =>
      s.timeline.push({ at, action: { kind: "send", who: "A", text: `A#${i + 1} hi` } })
    );
    s.timeline.push({ at: 3_000, action: { kind: "fill", who: "B", mount: "/state", room: 0 } });
    s.timeline.push({ at: 6_000, action: { kind: "crash", who: "B" } });
    s.timeline.push({ at: 6_500, action: { kind: "start", who: "B" } });
    return sorted(s);
  },
  /** Seed 12: while B is frozen A restarts twice, so B's socket holds INITs from two incarnations.
   * Thawed, B answers the first (gone) and must not wait out HANDSHAKE_TIMEOUT before the second. */
  "a frozen peer reconnects at once to the second incarnation that knocked": () => {
    const s = base("seed 12", 106);
    s.secrets = ["correct horse", "correct horse"];
    s.activeMs = 12_000;
    s.timeline.push({ at: 1_000, action: { kind: "send", who: "A", text: "A#1 before" } });
    s.timeline.push({ at: 2_000, action: { kind: "freeze", who: "B" } });
    s.timeline.push({ at: 3_000, action: { kind: "quit", who: "A" } });
    s.timeline.push({ at: 4_000, action: { kind: "start", who: "A" } });
    s.timeline.push({ at: 7_000, action: { kind: "crash", who: "A" } });
    s.timeline.push({ at: 8_000, action: { kind: "start", who: "A" } });
    s.timeline.push({
      at: 9_000,
      action: { kind: "send", who: "A", text: "A#2 while B is frozen" },
    });
    return sorted(s);
  },
  /** Seed 36: A, frozen, answers B's new incarnation's INIT as it thaws and quits; B's CONFIRM goes
   * to nobody, and A's next incarnation must not wait for B to give up on it. */
  "a restarted peer's INIT replaces a handshake its old incarnation left": () => {
    const s = base("seed 36", 107);
    s.secrets = ["correct horse", "correct horse"];
    s.activeMs = 12_000;
    s.timeline.push({ at: 1_000, action: { kind: "send", who: "B", text: "B#1 before" } });
    s.timeline.push({ at: 2_000, action: { kind: "crash", who: "B" } });
    s.timeline.push({ at: 2_100, action: { kind: "freeze", who: "A" } });
    s.timeline.push({ at: 5_000, action: { kind: "start", who: "B" } });
    s.timeline.push({ at: 6_000, action: { kind: "quit", who: "A" } });
    return sorted(s);
  },
  /** Seed 13: B offers a folder while A is frozen and crashes 2 s later. No datagram came in
   * meanwhile, so the offers were still in memory, not in the journal: the next run never made
   * them again. */
  "a file offered to a frozen peer is offered again after the sender crashes": () => {
    const s = base("seed 13", 108);
    s.activeMs = 8_000;
    for (let i = 0; i < 3; i++) s.files.push({ who: "B", path: `/home/B/d0/${i}.txt`, size: 1000 });
    s.timeline.push({ at: 500, action: { kind: "freeze", who: "A" } });
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "B", path: "/home/B/d0" } });
    s.timeline.push({ at: 4_000, action: { kind: "crash", who: "B" } });
    s.timeline.push({ at: 5_000, action: { kind: "start", who: "B" } });
    return sorted(s);
  },
  /** Seed 8: a /quit typed just after a /send of a folder. chatnet reads its lines one at a time
   * (runJson), so the files are offered, and the next run offers them again; the simulator read
   * the /quit while the folder was still being listed. */
  "a folder sent just before /quit is offered by the next run": () => {
    const s = base("seed 8", 109);
    s.activeMs = 5_000;
    for (let i = 0; i < 5; i++) s.files.push({ who: "B", path: `/home/B/d2/${i}.txt`, size: 1000 });
    s.timeline.push({ at: 500, action: { kind: "freeze", who: "A" } });
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "B", path: "/home/B/d2" } });
    s.timeline.push({ at: 1_000, action: { kind: "quit", who: "B" } });
    s.timeline.push({ at: 2_000, action: { kind: "start", who: "B" } });
    return sorted(s);
  },
  /** Seeds 2 and 199: A dies after B has the whole file but before B's "done" reaches it. A's next
   * run offers the file again; B, done with it, took that for a new transfer and kept its .part,
   * and A, told "done" by then, ignored B's accept. */
  "a file offered again after it arrived leaves no .part": () => {
    const s = base("seed 2", 110);
    s.weather = { ...CALM, delayMs: 200 };
    s.activeMs = 8_000;
    s.files.push({ who: "A", path: "/home/A/f0.bin", size: 1000 });
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "A", path: "/home/A/f0.bin" } });
    // B has the file at 2,600 ms; its "done" reaches A at 2,800.
    s.timeline.push({ at: 2_700, action: { kind: "crash", who: "A" } });
    s.timeline.push({ at: 4_000, action: { kind: "start", who: "A" } });
    return sorted(s);
  },
  /** Seed 61: B dies while the last of a file A has written whole is still on the way. A waited
   * for a "done" from B's next run, which had never heard of the file. */
  "a file that went out whole to a receiver that died is sent to its next run": () => {
    const s = base("seed 61", 111);
    s.weather = { ...CALM, delayMs: 200 };
    s.activeMs = 8_000;
    s.files.push({ who: "A", path: "/home/A/f1.bin", size: 1000 });
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "A", path: "/home/A/f1.bin" } });
    // A has written it all by 2,300 ms; B would have it at 2,600.
    s.timeline.push({ at: 2_450, action: { kind: "crash", who: "B" } });
    s.timeline.push({ at: 4_000, action: { kind: "start", who: "B" } });
    return sorted(s);
  },
  /** Seed 11: B offers a file to a frozen A, which then crashes. Its next run gets the offer
   * twice at once (the session carries the first over, and B offers again for the new run); the
   * second took another .part, and the first's was left behind. */
  "an offer that comes twice at once takes one .part": () => {
    const s = base("seed 11", 112);
    s.activeMs = 8_000;
    s.files.push({ who: "B", path: "/home/B/f2.bin", size: 1000 });
    s.timeline.push({ at: 500, action: { kind: "freeze", who: "A" } });
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "B", path: "/home/B/f2.bin" } });
    s.timeline.push({ at: 2_000, action: { kind: "crash", who: "A" } });
    s.timeline.push({ at: 3_000, action: { kind: "start", who: "A" } });
    return sorted(s);
  },
  /** Seed 595: A's journal cannot note its offer (the state disk fails), and A dies once B has
   * accepted. A's next run knows nothing of the file, and B waited for it with a .part for ever. */
  "a transfer its restarted sender forgot is dropped by the receiver": () => {
    const s = base("seed 595", 113);
    s.weather = { ...CALM, delayMs: 200 };
    s.activeMs = 8_000;
    s.files.push({ who: "A", path: "/home/A/f1.bin", size: 1000 });
    s.timeline.push({ at: 900, action: { kind: "eio", who: "A", mount: "/state", count: 20 } });
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "A", path: "/home/A/f1.bin" } });
    // A has acknowledged B's accept (at 1,400 ms) but not connected yet (1,600).
    s.timeline.push({ at: 1_500, action: { kind: "crash", who: "A" } });
    s.timeline.push({ at: 3_000, action: { kind: "start", who: "A" } });
    return sorted(s);
  },
  /** Seed 986: A writes a small file whole into its connection just as the path goes dark for
   * longer than B waits for a header. A waited for a "done", B for a stream, both for ever. */
  "a stream lost in a long partition is sent again once the peer is back": () => {
    const s = base("seed 986", 114);
    s.weather = { ...CALM, delayMs: 200 };
    s.activeMs = 16_000;
    s.files.push({ who: "A", path: "/home/A/f0.bin", size: 1000 });
    s.timeline.push({ at: 1_000, action: { kind: "file", who: "A", path: "/home/A/f0.bin" } });
    // A connects and writes it at 1,900 ms; it would reach B at 2,100.
    s.timeline.push({ at: 1_950, action: { kind: "partition" } });
    s.timeline.push({ at: 14_000, action: { kind: "heal" } });
    return sorted(s);
  },
  /** Bug 5: two 12 MiB files offered at once to a 20 MiB downloads disk. */
  "free space counts the transfers in progress": () => {
    const s = base("bug 5", 105);
    s.downloadBytes = 20 * MIB;
    for (const n of ["one", "two"]) {
      s.files.push({ who: "A", path: `/home/A/${n}.bin`, size: 12 * MIB });
      s.timeline.push({ at: 1_000, action: { kind: "file", who: "A", path: `/home/A/${n}.bin` } });
    }
    return sorted(s);
  },
  /** Seeds 17, 67, 318: a message went out but its journal write failed, the sender lost power,
   * and the next run gave its id to a new message, which the peer then took for one it had shown. */
  "a power loss never makes a message id be used twice": () => {
    const s = base("id reuse", 106);
    s.timeline.push({ at: 900, action: { kind: "eio", who: "A", mount: "/state", count: 1 } });
    s.timeline.push({ at: 1_000, action: { kind: "send", who: "A", text: "A#1 lost to power" } });
    s.timeline.push({ at: 1_200, action: { kind: "power", who: "A" } });
    s.timeline.push({ at: 2_000, action: { kind: "start", who: "A" } });
    s.timeline.push({
      at: 4_000,
      action: { kind: "send", who: "A", text: "A#2 after the restart" },
    });
    return sorted(s);
  },
  /** Seed 2046, kept whole (a hand-made copy did not fail: which write meets the EIO depends on
   * the traffic around it): a message's journal write failed, so it waited unshown for the retry;
   * a sync for our own message wrote its cursor, the peer forgot it, and a power loss before the
   * retry left it in the history but never shown. */
  "a message whose cursor a later sync wrote is shown then, not at the retry": () => kept(2046),
  /** Seed 1182, kept whole: a folder offered just before /quit on a full state disk; the quit
   * could not write its records, and nobody was told those files would not be sent. */
  "a quit that cannot write the journal says which files will not be sent": () => kept(1182),
  /** Seed 3384, kept whole: on a full disk the journal's sync stored a receive cursor while the
   * history line it covers did not fit; the message, never shown, was then taken as shown. */
  "a receive cursor is never stored ahead of its history line": () => kept(3384),
  /** Seed 8386, kept whole: a frozen sender, thawed, streamed the accepts of a peer that had
   * died meanwhile; the new incarnation dropped the streams and no "done" ever came. */
  "a stream to a peer that restarted meanwhile is offered again": () => kept(8386),
  /** Seed 958, kept whole: "sent" was reported at a /quit whose journal commit skipped its
   * fdatasync because one was already under way, which the exit then cut short; a power loss took
   * the message. */
  "a quit stores what it reports sent even with a sync under way": () => kept(958),
};

/** A random scenario that failed, kept as it was generated (tests/sim/kept/), so that later changes
 * to the generator leave it as it was. */
function kept(seed: number): Scenario {
  const text = Deno.readTextFileSync(new URL(`./kept/seed_${seed}.json`, import.meta.url));
  const s = JSON.parse(text) as Scenario;
  // JSON has no undefined: a side without a passphrase was written as null.
  s.secrets = s.secrets.map((x) => x ?? undefined) as Scenario["secrets"];
  return s;
}

function sorted(s: Scenario): Scenario {
  s.timeline.sort((a, b) => a.at - b.at);
  return s;
}
