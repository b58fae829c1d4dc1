/**
 * Discovery from a host with two network interfaces (a LAN card and a host-only VM network, as
 * in the README's VMware example): a joiner on the second one, which the default route does not
 * use, still pairs. IPv4 only (IPv6 off), so link-local addresses cannot stand in. Needs root;
 * skips with the reason otherwise.
 */
import assert from "node:assert/strict";
import { ChatProc, tempStateHome } from "./proc.ts";
import { unavailable } from "./netns/netns.ts";

const reason = await unavailable();
if (reason) console.log(`netns two-interface discovery skipped: ${reason}`);

async function sh(script: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-ec", script], stderr: "piped" }).output();
  if (!out.success) throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
}

Deno.test({
  name:
    "an inviter with two interfaces pairs with a joiner on the one its default route does not use",
  ignore: reason !== undefined,
  async fn() {
    const tag = `nic${Deno.pid % 10000}`;
    const [h1, h2, h3] = [1, 2, 3].map((i) => `${tag}h${i}`);
    const v6off = (ns: string) =>
      `ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`;
    await sh(`
ip netns add ${h1}; ip netns add ${h2}; ip netns add ${h3}
${v6off(h1)}; ${v6off(h2)}; ${v6off(h3)}
ip link add ${tag}a type veth peer name ${tag}b; ip link add ${tag}c type veth peer name ${tag}d
ip link set ${tag}a netns ${h1}; ip link set ${tag}b netns ${h2}
ip link set ${tag}c netns ${h1}; ip link set ${tag}d netns ${h3}
ip -n ${h1} link set ${tag}a name lan; ip -n ${h1} link set ${tag}c name vmnet
ip -n ${h2} link set ${tag}b name eth0; ip -n ${h3} link set ${tag}d name eth0
ip -n ${h1} addr add 10.81.0.1/24 dev lan; ip -n ${h1} addr add 10.82.0.1/24 dev vmnet
ip -n ${h2} addr add 10.81.0.2/24 dev eth0; ip -n ${h3} addr add 10.82.0.2/24 dev eth0
for n in ${h1} ${h2} ${h3}; do ip -n $n link set lo up; done
ip -n ${h1} link set lan up; ip -n ${h1} link set vmnet up
ip -n ${h2} link set eth0 up; ip -n ${h3} link set eth0 up
ip -n ${h1} route add default dev lan; ip -n ${h1} route add 224.0.0.0/4 dev lan
ip -n ${h3} route add 224.0.0.0/4 dev eth0
`);
    const procs: ChatProc[] = [];
    const run = (ns: string, args: string[]) => {
      const p = new ChatProc(["--json", ...args], {
        prefix: ["ip", "netns", "exec", ns],
        stateHome: tempStateHome(),
      });
      procs.push(p);
      return p;
    };
    try {
      const alice = run(h1, ["--name", "alice", "--invite"]);
      await alice.until(() => /code is (\S+):/.test(alice.stderr), "the code", 20_000);
      const code = /code is (\S+):/.exec(alice.stderr)![1];
      const bob = run(h3, ["--name", "bob", "--join", code, "--wait", "15"]);
      const online = (p: ChatProc) => p.of("peer").some((e) => e.state === "online");
      for (const p of [alice, bob]) await p.until(() => online(p), "online", 20_000);
      assert.match(bob.stderr, /Found alice at 10\.82\.0\.1:\d+/);
      await bob.command({ type: "send", text: "over the host-only network" });
      await alice.until(() => alice.of("message").length === 1, "the message");
      assert.equal(alice.of("message")[0].text, "over the host-only network");
    } finally {
      for (const p of procs) {
        p.kill();
        await p.exit();
      }
      await sh(`ip netns del ${h1}; ip netns del ${h2}; ip netns del ${h3}`).catch(() => {});
    }
  },
});
