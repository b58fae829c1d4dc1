/**
 * A simulated host running one chatnet process at a time: the real Peer, Journal, History and
 * Transfers, driven through the JSON contract's commands, on the simulated clock, network and
 * disk. It can crash (memory gone, disk kept), lose power (only fsynced data kept), quit cleanly,
 * freeze (SIGSTOP) and restart.
 */
import { Peer } from "../../lib/peer.ts";
import { Journal } from "../../lib/store/journal.ts";
import { History } from "../../lib/store/history.ts";
import type { ChatEvent } from "../../lib/events.ts";
import { runCommand } from "../../lib/ui/json.ts";
import type { Effects } from "../../lib/effects.ts";
import type { Life, World } from "./world.ts";
import type { Net } from "./net.ts";
import { Disk } from "./disk.ts";

export const PORT = 4000;
export const STATE_DIR = "/state/chat";
export const DOWNLOADS = "/downloads";

/** One event as a process reported it (after a round trip through JSON, as --json prints it). */
export interface Seen {
  at: number;
  gen: number;
  e: ChatEvent;
}

export class Host {
  readonly events: Seen[] = [];
  readonly disk: Disk;
  life?: Life;
  peer?: Peer;
  gen = 0;
  /** Power losses so far (the checks relax what a power loss may change). */
  powerLosses = 0;
  /** The command lines a process read, with its generation and the time. */
  readonly read: { line: string; gen: number; at: number }[] = [];
  /** When each generation died, and how (a clean quit is not a death). */
  readonly deaths = new Map<number, { at: number; how: "crash" | "power" | "uncaught" }>();
  #world: World;
  #net: Net;
  /** --accept ask: the user answers every offer a few seconds after it is shown. */
  #accept?: "ask";
  /** The user's answers, by offer id (the same when an offer is shown again). */
  readonly answers = new Map<string, boolean>();
  /** The command lines the running process has still to read, one after another. */
  #lines: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly ip: string,
    readonly peerIp: string,
    readonly secret: string | undefined,
    o: {
      world: World;
      net: Net;
      stateBytes: number;
      downloadBytes: number;
      accept?: "ask";
    },
  ) {
    this.#world = o.world;
    this.#net = o.net;
    this.#accept = o.accept;
    this.disk = new Disk(o.world, [
      { prefix: "/state", capacity: o.stateBytes },
      { prefix: "/downloads", capacity: o.downloadBytes },
      { prefix: "/home", capacity: 2 ** 40 },
    ]);
  }

  get running(): boolean {
    return this.life?.alive ?? false;
  }

  start(): void {
    if (this.running) return;
    const w = this.#world;
    const life: Life = {
      name: this.name,
      gen: ++this.gen,
      alive: true,
      frozen: false,
      held: [],
      onDeath: [],
    };
    this.life = life;
    this.#lines = Promise.resolve();
    const fx: Effects = {
      clock: w.clockFor(life),
      udp: this.#net.udpFor(life, this.ip),
      tcp: this.#net.tcpFor(life, this.ip),
      fs: this.disk.fsFor(life),
    };
    w.log(this.who, "start");
    let journal: Journal | undefined, history: History | undefined;
    try {
      fx.fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
      const opened = Journal.open(STATE_DIR, fx.fs);
      journal = opened.journal;
      history = new History(STATE_DIR, fx.fs);
      const peer = new Peer({
        bind: "0.0.0.0",
        port: PORT,
        peerIp: this.peerIp,
        peerPort: PORT,
        name: this.name,
        filePort: PORT,
        downloads: DOWNLOADS,
        maxFileSize: 2 ** 30,
        journal,
        history,
        notices: opened.notices,
        secret: this.secret,
        accept: this.#accept ?? "all",
        effects: fx,
      });
      this.peer = peer;
      peer.on((e) => this.#record(life, e));
      peer.start();
    } catch (e) {
      // chatnet says "Cannot use state directory …" and exits 2 (start.ts): not a crash.
      w.log(this.who, `start failed: ${(e as Error).message}`);
      this.events.push({ at: w.now, gen: life.gen, e: startFailed(e) });
      w.kill(life);
      this.peer = undefined;
    }
  }

  get who(): string {
    return `${this.name}${this.gen}`;
  }

  /** One line of the --json contract, as typed. */
  command(line: string): void {
    const peer = this.peer, life = this.life;
    if (!peer || !life?.alive) return;
    // A frozen (SIGSTOPped) process reads nothing: the line waits in the pipe until it is thawed,
    // and is lost if it dies first.
    // It reads one line at a time, as runJson does: a /quit typed after a /send of a folder is
    // read once the folder's files have been offered.
    this.#world.at(this.#world.now, () => {
      this.#lines = this.#lines.then(async () => {
        if (!life.alive) return;
        if (life.frozen) await new Promise<void>((resume) => life.held.push(resume));
        this.#world.log(this.who, `< ${line}`);
        this.read.push({ line, gen: life.gen, at: this.#world.now });
        const more = await runCommand(peer, line, (e) => this.#record(life, e));
        if (!more && this.life === life) this.quit();
      }).catch((e) => this.#world.onUncaught(life, e));
    }, life);
  }

  /** SIGKILL: memory gone, disk kept. */
  crash(): void {
    if (!this.life?.alive) return;
    this.#world.log(this.who, "crash");
    this.died("crash");
    this.#world.kill(this.life);
  }

  powerLoss(): void {
    this.#world.log(this.who, "power loss");
    if (this.life?.alive) {
      this.died("power");
      this.#world.kill(this.life);
    }
    this.disk.powerLoss();
    this.powerLosses++;
  }

  died(how: "crash" | "power" | "uncaught"): void {
    if (this.life?.alive) this.deaths.set(this.life.gen, { at: this.#world.now, how });
  }

  /** /quit: goodbye said, journal committed. */
  quit(): void {
    if (!this.life?.alive || !this.peer) return;
    this.#world.log(this.who, "quit");
    this.peer.close();
    this.#world.kill(this.life);
  }

  freeze(): void {
    if (!this.life?.alive) return;
    this.#world.log(this.who, "freeze");
    this.#world.freeze(this.life);
  }

  thaw(): void {
    if (!this.life?.alive || !this.life.frozen) return;
    this.#world.log(this.who, "thaw");
    this.#world.thaw(this.life);
  }

  /** The user reads the offer and answers it: yes to four in five, the same each time it is
   * shown (it comes again after a restart). The line goes to whichever process runs then. */
  #answerLater(id: string): void {
    const yes = this.answers.get(id) ?? parseInt(id.slice(0, 8), 16) % 5 !== 0;
    this.answers.set(id, yes);
    const delay = Math.floor(this.#world.rng() * ANSWER_MS);
    this.#world.at(this.#world.now + delay, () => {
      this.command(JSON.stringify({ type: yes ? "accept" : "decline", id }));
    });
  }

  #record(life: Life, e: ChatEvent): void {
    if (!life.alive) return;
    const copy = JSON.parse(JSON.stringify(e)) as ChatEvent;
    this.events.push({ at: this.#world.now, gen: life.gen, e: copy });
    if (copy.type === "offer") this.#answerLater(copy.id);
    if (e.type !== "progress") this.#world.log(`${this.name}${life.gen}`, JSON.stringify(e));
  }
}

/** Ms the simulated user takes to answer an offer, at most. */
const ANSWER_MS = 5_000;

function startFailed(e: unknown): ChatEvent {
  return {
    type: "error",
    code: "start_failed",
    message: `Cannot use state directory: ${(e as Error).message}`,
  };
}
