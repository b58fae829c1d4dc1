/** Runs one scenario: builds the world, plays the timeline, settles, and checks the invariants. */
import { World } from "./world.ts";
import { Net } from "./net.ts";
import { Host } from "./proc.ts";
import { type Action, contentOf, type Scenario, type Who } from "./scenario.ts";
import { rngFor, seedWebCrypto } from "./random.ts";
import { check, type Outcome } from "./check.ts";

/** Virtual time for a thawed process to read the lines typed while it was frozen. */
const STDIN_DRAIN_MS = 100;

export interface Result {
  scenario: Scenario;
  violations: string[];
  trace: string[];
  outcome: Outcome;
}

export async function runScenario(s: Scenario): Promise<Result> {
  const rng = rngFor(s.seed);
  const crypto = seedWebCrypto(rngFor(s.seed ^ 0xc0ffee));
  const world = new World(rng);
  const net = new Net(world);
  net.weather = s.weather;
  const o = {
    world,
    net,
    stateBytes: s.stateBytes,
    downloadBytes: s.downloadBytes,
    accept: s.accept,
  };
  const hosts: Record<Who, Host> = {
    A: new Host("A", "10.0.0.1", "10.0.0.2", s.secrets[0], o),
    B: new Host("B", "10.0.0.2", "10.0.0.1", s.secrets[1], o),
  };
  for (const f of s.files) hosts[f.who].disk.put(f.path, contentOf(s.seed, f));
  world.onUncaught = (life, e) => {
    const where = (e as Error).stack?.split("\n").slice(0, 9).join(" | ") ?? String(e);
    world.violation(`uncaught in ${life.name}${life.gen}: ${where}`);
    // Deno exits on an uncaught exception: the process dies.
    const host = hosts[life.name as Who];
    if (host.life === life) host.died("uncaught");
    world.kill(life);
  };
  const onRejection = (ev: PromiseRejectionEvent) => {
    ev.preventDefault();
    const life = world.current;
    if (life) world.onUncaught(life, ev.reason);
    else world.violation(`unhandled rejection: ${(ev.reason as Error)?.stack ?? ev.reason}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  try {
    for (const t of s.timeline) if (t.at <= s.activeMs) world.at(t.at, () => act(t.action));
    await world.run(s.activeMs);
    // Settle: the network heals, faults clear, both run.
    world.log("--", "settle");
    net.partitioned = false;
    for (const h of Object.values(hosts)) {
      for (const m of h.disk.mounts) {
        m.eio = 0;
        m.readOnly = false;
        const room = m.prefix === "/state"
          ? 2 ** 30
          : m.prefix === "/downloads"
          ? s.downloadBytes
          : 0;
        m.capacity = Math.max(m.capacity, room, h.disk.used(m));
      }
      h.thaw();
    }
    // What a thawed process had waiting on stdin runs first (a /quit typed while it was frozen:
    // lines are read one at a time, so give them a moment of virtual time, not just this instant).
    await world.run(world.now + STDIN_DRAIN_MS);
    for (const h of Object.values(hosts)) if (!h.running) h.start();
    const settledAt = world.now, before = net.counts.datagrams;
    await world.run(settledAt + s.settleMs);
    const settleDatagrams = net.counts.datagrams - before;
    // Over a budget (world.ts): the run stopped where it was, and that is the failure.
    const outcome = world.stuck
      ? { violations: [], sent: 0, shown: 0, files: 0 }
      : check({ scenario: s, world, hosts, settledAt, settleDatagrams });
    return {
      scenario: s,
      violations: world.violations.concat(outcome.violations),
      trace: world.trace,
      outcome,
    };
  } finally {
    for (const h of Object.values(hosts)) if (h.life) world.kill(h.life);
    globalThis.removeEventListener("unhandledrejection", onRejection);
    crypto.restore();
  }

  function act(a: Action): void {
    switch (a.kind) {
      case "send":
        return hosts[a.who].command(JSON.stringify({ type: "send", text: a.text }));
      case "file":
        return hosts[a.who].command(JSON.stringify({ type: "file", path: a.path }));
      case "crash":
        return hosts[a.who].crash();
      case "power":
        return hosts[a.who].powerLoss();
      case "quit":
        return hosts[a.who].command(JSON.stringify({ type: "quit" }));
      case "freeze":
        return hosts[a.who].freeze();
      case "thaw":
        return hosts[a.who].thaw();
      case "start":
        return hosts[a.who].start();
      case "partition":
        world.log("--", "partition");
        net.partitioned = true;
        return;
      case "heal":
        world.log("--", "heal");
        net.partitioned = false;
        return;
      case "weather":
        net.weather = a.weather;
        return;
      case "fill": {
        const disk = hosts[a.who].disk;
        const m = disk.mount(a.mount);
        m.capacity = disk.used(m) + a.room;
        world.log(`${a.who}`, `${a.mount} has ${a.room} bytes left`);
        return;
      }
      case "eio":
        hosts[a.who].disk.mount(a.mount).eio = a.count;
        world.log(`${a.who}`, `${a.mount}: the next ${a.count} writes fail (EIO)`);
        return;
    }
  }
}
