/**
 * Two test hosts in network namespaces joined by a veth pair, with kernel-level impairment:
 * netem where the kernel has it, nftables (random drop and dup on egress) everywhere. Root only.
 * Addresses are the namespaces' own; nothing leaves this machine.
 */

export interface Impairment {
  /** Percent of packets dropped, and duplicated, in each direction. */
  loss: number;
  dup: number;
}

export interface Hosts {
  nsA: string;
  nsB: string;
  ipA: string;
  ipB: string;
  /** How the impairment is applied: "netem" or "nftables". */
  method: string;
  impair(i: Impairment): Promise<void>;
  /** Packets dropped and duplicated so far, both directions (nftables only; netem: undefined). */
  counters(): Promise<{ dropped: number; duplicated: number } | undefined>;
  /** Prefix that runs a command inside a namespace. */
  exec(ns: string): string[];
  cleanup(): Promise<void>;
}

async function run(
  cmd: string,
  args: string[],
  stdin?: string,
): Promise<{ ok: boolean; err: string }> {
  try {
    const child = new Deno.Command(cmd, {
      args,
      stdin: stdin ? "piped" : "null",
      stdout: "null",
      stderr: "piped",
    })
      .spawn();
    if (stdin) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
  } catch (e) {
    return { ok: false, err: (e as Error).message };
  }
}

async function must(cmd: string, args: string[], stdin?: string): Promise<void> {
  const r = await run(cmd, args, stdin);
  if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.err}`);
}

/** Why namespaces cannot be used here, or undefined when they can. */
export async function unavailable(): Promise<string | undefined> {
  const id = await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output().catch(() =>
    undefined
  );
  if (new TextDecoder().decode(id?.stdout).trim() !== "0") return "needs root (network namespaces)";
  for (const tool of ["ip", "nft"]) {
    if (!(await run("sh", ["-c", `command -v ${tool}`])).ok) {
      return `${tool} is not installed (apt-get install iproute2 nftables)`;
    }
  }
  const probe = `cnprobe${Deno.pid}`;
  const r = await run("ip", ["netns", "add", probe]);
  if (!r.ok) return `cannot create a network namespace: ${r.err}`;
  await run("ip", ["netns", "del", probe]);
  return undefined;
}

let created = 0;

/** Creates each namespace, moves its device in, gives it its address and brings it up. */
async function placeHosts(hosts: [ns: string, dev: string, ip: string][]): Promise<void> {
  for (const [ns, dev, ip] of hosts) {
    await must("ip", ["netns", "add", ns]);
    await must("ip", ["link", "set", dev, "netns", ns]);
    await must("ip", ["-n", ns, "addr", "add", `${ip}/24`, "dev", dev]);
    await must("ip", ["-n", ns, "link", "set", dev, "up"]);
    await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }
}

export interface DelayLink {
  delay: number;
  jitter: number;
  loss: number;
  dup: number;
  corrupt: number;
}

/** Hosts A and B joined through tapfwd.py, a userspace netem-like link, instead of a veth. */
export async function makeDelayHosts(
  seed = 1,
): Promise<Hosts & { link(l: DelayLink): Promise<void> }> {
  const tag = `${Deno.pid % 100000}x${created++}`;
  const subnet = 10 + (created % 200);
  const nsA = `cn${tag}a`, nsB = `cn${tag}b`, tA = `ct${tag}a`, tB = `ct${tag}b`;
  const ipA = `10.78.${subnet}.1`, ipB = `10.78.${subnet}.2`;
  const fwd = new Deno.Command("python3", {
    args: [new URL("./tapfwd.py", import.meta.url).pathname, tA, tB, String(seed)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const control = fwd.stdin.getWriter();
  const reader = fwd.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  const cleanup = async () => {
    await control.close().catch(() => {});
    try {
      fwd.kill();
    } catch { /* gone */ }
    await fwd.status;
    await run("ip", ["netns", "del", nsA]);
    await run("ip", ["netns", "del", nsB]);
  };
  try {
    if (!first.value?.includes("ready")) throw new Error("tapfwd.py did not start");
    await placeHosts([[nsA, tA, ipA], [nsB, tB, ipB]]);
  } catch (e) {
    await cleanup();
    throw e;
  }
  const link = async (l: DelayLink) => {
    await control.write(
      new TextEncoder().encode(`${l.delay} ${l.jitter} ${l.loss} ${l.dup} ${l.corrupt}\n`),
    );
  };
  return {
    nsA,
    nsB,
    ipA,
    ipB,
    method: "tapfwd",
    impair: ({ loss, dup }) => link({ delay: 0, jitter: 0, loss, dup, corrupt: 0 }),
    counters: () => Promise.resolve(undefined),
    link,
    exec: (ns) => ["ip", "netns", "exec", ns],
    cleanup,
  };
}

/** What a qdisc has passed and dropped so far (`tc -s qdisc`). */
export interface QueueStats {
  bytes: number;
  packets: number;
  dropped: number;
}

/** Runs an nftables script inside a namespace. */
export async function nft(ns: string, script: string): Promise<void> {
  await must("ip", ["netns", "exec", ns, "nft", "-f", "-"], script);
}

/** The packet and byte counters of a table's rules, in rule order, each with the rule's comment
 * (`counter comment "name"`) as its name. */
export async function nftCounters(
  ns: string,
  table: string,
): Promise<Map<string, { packets: number; bytes: number }>> {
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", ns, "nft", "list", "table", ...table.split(" ")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `nft list table ${table} in ${ns}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  const found = new Map<string, { packets: number; bytes: number }>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /counter packets (\d+) bytes (\d+).*comment "([^"]+)"/.exec(line);
    if (m) found.set(m[3], { packets: Number(m[1]), bytes: Number(m[2]) });
  }
  return found;
}

export interface VethHosts extends Hosts {
  devA: string;
  devB: string;
  /** Shapes it to a rate ("1gbit") each way with tbf. */
  limit(rate: string): Promise<void>;
  /** Replaces the root qdisc on A's egress (["tbf", "rate", "1mbit", ...]); none: the default. */
  bottleneck(qdisc?: string[]): Promise<void>;
  /** The counters of the root qdisc on A's egress. */
  queue(): Promise<QueueStats>;
}

/** Builds hosts A (10.77.N.1) and B (10.77.N.2) joined by a veth pair. */
export async function makeHosts(): Promise<VethHosts> {
  const tag = `${Deno.pid % 100000}x${created++}`;
  const subnet = 10 + (created % 200);
  const nsA = `cn${tag}a`, nsB = `cn${tag}b`, vA = `cv${tag}a`, vB = `cv${tag}b`;
  const ipA = `10.77.${subnet}.1`, ipB = `10.77.${subnet}.2`;
  const cleanup = async () => {
    await run("ip", ["netns", "del", nsA]);
    await run("ip", ["netns", "del", nsB]);
  };
  try {
    await must("ip", ["link", "add", vA, "type", "veth", "peer", "name", vB]);
    await placeHosts([[nsA, vA, ipA], [nsB, vB, ipB]]);
  } catch (e) {
    await cleanup();
    throw e;
  }
  const netem = await run("ip", [
    "netns",
    "exec",
    nsA,
    "tc",
    "qdisc",
    "add",
    "dev",
    vA,
    "root",
    "netem",
    "loss",
    "0%",
  ]);
  const method = netem.ok ? "netem" : "nftables";
  if (!netem.ok) {
    console.log(`  netem unavailable (${netem.err.split("\n")[0]}); impairing with nftables`);
  }
  const impair = async ({ loss, dup }: Impairment) => {
    for (const [ns, dev] of [[nsA, vA], [nsB, vB]]) {
      if (method === "netem") {
        await must("ip", [
          "netns",
          "exec",
          ns,
          "tc",
          "qdisc",
          "replace",
          "dev",
          dev,
          "root",
          "netem",
          "loss",
          `${loss}%`,
          "duplicate",
          `${dup}%`,
        ]);
        continue;
      }
      await run("ip", ["netns", "exec", ns, "nft", "delete", "table", "netdev", "chatnet_impair"]);
      await must(
        "ip",
        ["netns", "exec", ns, "nft", "-f", "-"],
        [
          "table netdev chatnet_impair {",
          "  chain egress {",
          `    type filter hook egress device "${dev}" priority 0;`,
          loss > 0 ? `    numgen random mod 100 < ${loss} counter drop` : "",
          dup > 0 ? `    numgen random mod 100 < ${dup} counter dup to "${dev}"` : "",
          "  }",
          "}",
        ].join("\n"),
      );
    }
  };
  const counters = async () => {
    if (method !== "nftables") return undefined;
    let dropped = 0, duplicated = 0;
    for (const ns of [nsA, nsB]) {
      const out = await new Deno.Command("ip", {
        args: ["netns", "exec", ns, "nft", "list", "table", "netdev", "chatnet_impair"],
      })
        .output();
      for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
        const m = /counter packets (\d+)/.exec(line);
        if (m && line.includes("drop")) dropped += Number(m[1]);
        else if (m && line.includes("dup")) duplicated += Number(m[1]);
      }
    }
    return { dropped, duplicated };
  };
  const limit = async (rate: string) => {
    for (const [ns, dev] of [[nsA, vA], [nsB, vB]]) {
      const tbf = ["root", "tbf", "rate", rate, "burst", "2mb", "latency", "20ms"];
      await must("ip", ["netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, ...tbf]);
    }
  };
  const bottleneck = async (qdisc?: string[]) => {
    const tc = ["netns", "exec", nsA, "tc", "qdisc"];
    if (qdisc) await must("ip", [...tc, "replace", "dev", vA, "root", ...qdisc]);
    else await run("ip", [...tc, "del", "dev", vA, "root"]);
  };
  const queue = async (): Promise<QueueStats> => {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", nsA, "tc", "-s", "qdisc", "show", "dev", vA, "root"],
      stdout: "piped",
    }).output();
    const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+)/.exec(
      new TextDecoder().decode(out.stdout),
    );
    if (!m) throw new Error(`Unreadable tc -s qdisc output on ${vA}`);
    return { bytes: Number(m[1]), packets: Number(m[2]), dropped: Number(m[3]) };
  };
  return {
    nsA,
    nsB,
    ipA,
    ipB,
    devA: vA,
    devB: vB,
    method,
    impair,
    counters,
    limit,
    bottleneck,
    queue,
    exec: (ns) => ["ip", "netns", "exec", ns],
    cleanup,
  };
}
