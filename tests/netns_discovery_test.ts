/**
 * LAN discovery by code on a real kernel path: three network namespaces on one bridge. Two pairs
 * with different codes each find only their partner; a wrong code finds nobody and says so; a
 * pair made by code later finds itself by name, and a side that crashes rejoins the side still
 * running. Needs root; skips with the reason otherwise.
 */
import assert from "node:assert/strict";
import { ChatProc, tempStateHome } from "./proc.ts";
import { unavailable } from "./netns/netns.ts";

const reason = await unavailable();
if (reason) console.log(`netns discovery skipped: ${reason}`);

async function sh(script: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-ec", script], stderr: "piped" }).output();
  if (!out.success) throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Three hosts on one bridge (in a namespace of its own), with a multicast route. */
async function makeLan(): Promise<{ ns: string[]; cleanup(): Promise<void> }> {
  const tag = `reach${Deno.pid % 10000}`;
  const br = `${tag}br`, ns = [1, 2, 3].map((i) => `${tag}h${i}`);
  let script =
    `ip netns add ${br}; ip -n ${br} link add br0 type bridge; ip -n ${br} link set br0 up\n`;
  ns.forEach((n, i) => {
    script += `ip netns add ${n}; ip link add ${tag}v${i} type veth peer name ${tag}p${i}
ip link set ${tag}v${i} netns ${n}; ip link set ${tag}p${i} netns ${br}
ip -n ${br} link set ${tag}p${i} master br0; ip -n ${br} link set ${tag}p${i} up
ip -n ${n} link set ${tag}v${i} name eth0; ip -n ${n} addr add 10.79.0.${i + 1}/24 dev eth0
ip -n ${n} link set eth0 up; ip -n ${n} link set lo up
ip -n ${n} route add 224.0.0.0/4 dev eth0\n`;
  });
  await sh(script);
  return {
    ns,
    cleanup: () => sh([br, ...ns].map((n) => `ip netns del ${n} 2>/dev/null || true`).join("; ")),
  };
}

Deno.test({
  name:
    "three hosts on one LAN: two codes pair only their partners, a wrong code finds nobody, a pair rejoins by name, and after a crash",
  ignore: reason !== undefined,
  async fn() {
    const lan = await makeLan();
    const procs: ChatProc[] = [];
    const run = (ns: string, args: string[], stateHome = tempStateHome()) => {
      const p = new ChatProc(["--json", ...args], {
        prefix: ["ip", "netns", "exec", ns],
        stateHome,
      });
      procs.push(p);
      return p;
    };
    const codeOf = async (p: ChatProc) => {
      await p.until(() => /code is (\S+):/.test(p.stderr), "the printed code", 20_000);
      return /code is (\S+):/.exec(p.stderr)![1];
    };
    try {
      const [h1, h2, h3] = lan.ns;
      const homes = { alice: tempStateHome(), bob: tempStateHome() };
      const alice = run(h1, ["--name", "alice", "--invite"], homes.alice);
      const code1 = await codeOf(alice);
      // Two invites with one number would meet each other's joiner first: draw again.
      let carol: ChatProc, code2: string;
      do {
        carol = run(h2, ["--name", "carol", "--invite"]);
        code2 = await codeOf(carol);
        if (code2.split("-")[0] === code1.split("-")[0]) carol.kill();
      } while (code2.split("-")[0] === code1.split("-")[0]);
      const bob = run(h3, ["--name", "bob", "--join", code1], homes.bob);
      const dave = run(h3, ["--name", "dave", "--join", code2]);
      const online = (p: ChatProc) => p.of("peer").some((e) => e.state === "online");
      for (const p of [alice, bob, carol, dave]) await p.until(() => online(p), "online", 30_000);
      assert.equal(alice.of("ready")[0].peer.split(":")[0], "10.79.0.3");
      assert.equal(carol.of("ready")[0].peer.split(":")[0], "10.79.0.3");
      assert.match(alice.stderr, /Found bob at 10\.79\.0\.3:\d+/);
      assert.match(bob.stderr, /Found alice at 10\.79\.0\.1:\d+/);
      assert.match(carol.stderr, /Found dave at 10\.79\.0\.3:\d+/);
      assert.match(dave.stderr, /Found carol at 10\.79\.0\.2:\d+/);
      await bob.command({ type: "send", text: "hello alice" });
      await dave.command({ type: "send", text: "hello carol" });
      await alice.until(() => alice.of("message").length === 1, "alice's message");
      await carol.until(() => carol.of("message").length === 1, "carol's message");
      assert.deepEqual(alice.of("message").map((m) => [m.name, m.text]), [["bob", "hello alice"]]);
      assert.deepEqual(carol.of("message").map((m) => [m.name, m.text]), [["dave", "hello carol"]]);
      const said = (p: ChatProc, re: RegExp) => p.of("notice").some((e) => re.test(e.message));
      await alice.until(() => said(alice, /^Paired with bob: next time/), "alice paired");
      await bob.until(() => said(bob, /^Paired with alice: next time/), "bob paired");

      // A code nobody invited with: nobody answers, and the run says so and fails.
      let wrong = (Number(code1.split("-")[0]) % 99) + 1;
      while (wrong === Number(code2.split("-")[0])) wrong = (wrong % 99) + 1;
      const lost = run(h2, ["--join", `${wrong}-tomato-dancer`, "--wait", "3"]);
      const status = await lost.exit();
      assert.equal(status.code, 1);
      assert.match(
        lost.stderr,
        new RegExp(
          `chatnet: Nobody answered for code ${wrong}-tomato-dancer within 3 s: multicast may be ` +
            "blocked on this network, or the other host is on another subnet",
        ),
      );
      for (const p of procs.splice(0)) {
        p.kill();
        await p.exit();
      }

      // Later, by name: no code, the pair's own secret.
      const alice2 = run(h1, ["--name", "alice", "--join", "bob"], homes.alice);
      const bob2 = run(h3, ["--name", "bob", "--join", "alice"], homes.bob);
      for (const p of [alice2, bob2]) await p.until(() => online(p), "online by name", 30_000);
      assert.ok(alice2.of("ready")[0].encrypted);
      assert.equal(alice2.of("peer")[0].fingerprint, bob2.of("peer")[0].fingerprint);
      await bob2.command({ type: "send", text: "again" });
      await alice2.until(() => alice2.of("message").length === 1, "the message by name");
      assert.equal(alice2.of("message")[0].text, "again");

      // Bob's side crashes while alice's keeps running (a running session answers no
      // announcements): bob's --join alice finds her at her last address, on his old port.
      const bobKilled = procs.indexOf(bob2);
      bob2.kill();
      await bob2.exit();
      procs.splice(bobKilled, 1);
      await alice2.command({ type: "send", text: "while bob was down" });
      const bob3 = run(h3, ["--name", "bob", "--join", "alice"], homes.bob);
      await bob3.until(
        () => bob3.of("message").some((m) => m.text === "while bob was down"),
        "alice's queued line after bob's restart",
        20_000,
      );
      assert.match(
        bob3.stderr,
        /chatnet: Nobody answered on the local network; trying alice at its last address 10\.79\.0\.1:\d+ \(it may still be running there\)/,
      );
      assert.deepEqual(bob3.of("message").map((m) => m.text), ["while bob was down"]);

      // Another host whose user is also bob pairs with alice: kept as bob-2, the first pair and
      // its journal untouched.
      for (const p of procs.splice(0)) {
        p.kill();
        await p.exit();
      }
      const alice3 = run(h1, ["--name", "alice", "--invite"], homes.alice);
      const otherBob = run(h3, ["--name", "bob", "--join", await codeOf(alice3)]);
      await alice3.until(
        () =>
          said(
            alice3,
            /^Paired with bob-2 \(kept as bob-2: you are already paired with another bob\): next time, chatnet --join bob-2$/,
          ),
        "the second bob kept apart",
      );
      await otherBob.until(() => said(otherBob, /^Paired with alice: next time/), "bob-2 paired");
      const pairs = JSON.parse(
        await Deno.readTextFile(`${homes.alice}/chatnet/pairs.json`),
      ).pairs;
      assert.deepEqual(Object.keys(pairs).sort(), ["bob", "bob-2"]);
    } finally {
      for (const p of procs) {
        p.kill();
        await p.exit();
      }
      await lan.cleanup();
    }
  },
});
