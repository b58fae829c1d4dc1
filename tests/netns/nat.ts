/**
 * Two hosts, each behind its own NAT router, in network namespaces (issue 21's topology):
 *
 *   host A (10.191.N.2) ─ router A (10.191.N.1 | 10.193.N.1) ══ router B (10.193.N.2 | 10.192.N.1) ─ host B (10.192.N.2)
 *
 * Each router masquerades its host behind its public address (the 10.193.N side) with no port
 * forwarded, and, as home routers do, drops what nobody inside asked for: only replies to what
 * went out (conntrack's established) come in. `symmetric` gives router B a new random port for
 * each mapping. Each host is told only the other's public address. Root only; nothing leaves this
 * machine.
 */

export interface NatHosts {
  hostA: string;
  hostB: string;
  routerA: string;
  routerB: string;
  /** The routers' public addresses: all each host knows of the other. */
  publicA: string;
  publicB: string;
  /** Prefix that runs a command inside a namespace. */
  exec(ns: string): string[];
  /** Both routers drop every TCP packet they would forward (a firewall that passes only UDP). */
  blockTcp(): Promise<void>;
  /** Router B forwards TCP `port` on its public address to host B (a port forward). */
  forwardTcpToB(port: number): Promise<void>;
  /** Packets a router dropped as unsolicited (not a reply to anything that went out). */
  unsolicited(router: string): Promise<number>;
  /** Sends one UDP datagram from `ns` to `host`:`port`. */
  probe(ns: string, host: string, port: number): Promise<void>;
  cleanup(): Promise<void>;
}

async function run(cmd: string, args: string[], stdin?: string) {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout), err: dec.decode(out.stderr).trim() };
}

async function must(cmd: string, args: string[], stdin?: string): Promise<string> {
  const r = await run(cmd, args, stdin);
  if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.err}`);
  return r.out;
}

let made = 0;

export async function makeNatHosts(o: { symmetric?: boolean } = {}): Promise<NatHosts> {
  const tag = `${Deno.pid % 10000}n${made++}`;
  const n = 10 + ((Deno.pid + made) % 200);
  const hostA = `cn${tag}ha`, hostB = `cn${tag}hb`, routerA = `cn${tag}ra`, routerB = `cn${tag}rb`;
  const publicA = `10.193.${n}.1`, publicB = `10.193.${n}.2`;
  const lanA = `10.191.${n}`, lanB = `10.192.${n}`;
  const all = [hostA, hostB, routerA, routerB];
  const cleanup = async () => {
    for (const ns of all) await run("ip", ["netns", "del", ns]);
  };
  const inNs = (ns: string, ...args: string[]) => must("ip", ["netns", "exec", ns, ...args]);
  const link = async (nsX: string, devX: string, nsY: string, devY: string) => {
    await must("ip", [
      "link",
      "add",
      devX,
      "netns",
      nsX,
      "type",
      "veth",
      "peer",
      "name",
      devY,
      "netns",
      nsY,
    ]);
  };
  const addr = async (ns: string, dev: string, cidr: string) => {
    await inNs(ns, "ip", "addr", "add", cidr, "dev", dev);
    await inNs(ns, "ip", "link", "set", dev, "up");
  };
  try {
    for (const ns of all) {
      await must("ip", ["netns", "add", ns]);
      await inNs(ns, "ip", "link", "set", "lo", "up");
    }
    await link(hostA, "lan0", routerA, "lan0");
    await link(hostB, "lan0", routerB, "lan0");
    await link(routerA, "wan0", routerB, "wan0");
    await addr(hostA, "lan0", `${lanA}.2/24`);
    await addr(routerA, "lan0", `${lanA}.1/24`);
    await addr(hostB, "lan0", `${lanB}.2/24`);
    await addr(routerB, "lan0", `${lanB}.1/24`);
    await addr(routerA, "wan0", `${publicA}/24`);
    await addr(routerB, "wan0", `${publicB}/24`);
    await inNs(hostA, "ip", "route", "add", "default", "via", `${lanA}.1`);
    await inNs(hostB, "ip", "route", "add", "default", "via", `${lanB}.1`);
    for (
      const [router, symmetric] of [[routerA, false], [routerB, o.symmetric ?? false]] as const
    ) {
      await inNs(router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
      await must("ip", ["netns", "exec", router, "nft", "-f", "-"], ruleset(symmetric));
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return {
    hostA,
    hostB,
    routerA,
    routerB,
    publicA,
    publicB,
    exec: (ns) => ["ip", "netns", "exec", ns],
    async blockTcp() {
      for (const r of [routerA, routerB]) {
        await inNs(
          r,
          "nft",
          "insert",
          "rule",
          "ip",
          "home_router",
          "forward",
          "meta",
          "l4proto",
          "tcp",
          "counter",
          "drop",
        );
      }
    },
    async forwardTcpToB(port: number) {
      await inNs(
        routerB,
        ...["nft", "add", "rule", "ip", "home_router", "prerouting", "iifname", "wan0", "tcp"],
        ...["dport", String(port), "dnat", "to", `${lanB}.2:${port}`],
      );
    },
    async unsolicited(router: string) {
      const out = await inNs(router, "nft", "list", "table", "ip", "home_router");
      let n = 0;
      for (const line of out.split("\n")) {
        const m = /counter packets (\d+) .*comment "unsolicited"/.exec(line);
        if (m) n += Number(m[1]);
      }
      return n;
    },
    async probe(ns: string, host: string, port: number) {
      await inNs(
        ns,
        "python3",
        "-c",
        `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"probe", ("${host}", ${port}))`,
      );
    },
    cleanup,
  };
}

/** A home router: masquerade out of wan0, and in only what answers something that went out (and
 * what a port forward names). */
function ruleset(symmetric: boolean): string {
  return [
    "table ip home_router {",
    "  chain prerouting { type nat hook prerouting priority dstnat; }",
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat;",
    `    oifname "wan0" masquerade${symmetric ? " random" : ""}`,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy drop;",
    "    ct state established,related accept",
    '    iifname "lan0" oifname "wan0" accept',
    "    ct status dnat accept",
    '    counter drop comment "unsolicited"',
    "  }",
    "  chain input {",
    "    type filter hook input priority filter; policy drop;",
    "    ct state established,related accept",
    '    iifname { "lo", "lan0" } accept',
    '    counter drop comment "unsolicited"',
    "  }",
    "}",
  ].join("\n");
}
