/** A peer from whom nothing arrives is named unreachable, once, within 15 s (a real process). */
import assert from "node:assert/strict";
import { ChatProc } from "./proc.ts";

for (const secret of [undefined, "correct horse battery"]) {
  const how = secret ? " (with a passphrase, a pausing peer among them)" : "";
  Deno.test(`nothing from the peer: one unreachable error naming the likely causes, within 15 s${how}`, async () => {
    const dead = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (dead.addr as Deno.NetAddr).port;
    dead.close();
    const p = new ChatProc([
      "--json",
      "-p",
      String(port + 1 > 65535 ? port - 1 : port + 1),
      "--peer",
      `127.0.0.1:${port}`,
    ], { env: secret ? { CHATNET_SECRET: secret } : {} });
    try {
      const start = performance.now();
      await p.until(
        () => p.of("error").some((e) => e.code === "unreachable"),
        "unreachable",
        15_000,
      );
      assert.ok(performance.now() - start < 15_000);
      await new Promise((r) => setTimeout(r, 1500));
      const said = p.of("error").filter((e) => e.code === "unreachable");
      assert.deepEqual(said.map((e) => e.message), [
        `Nothing has arrived from 127.0.0.1:${port} in 10 s: likely no route to it, a firewall ` +
        "dropping UDP, chatnet not running there, chatnet there given another port for this " +
        `side (it must name ${
          p.of("ready")[0].port
        }), or a symmetric NAT (which needs a port forward ` +
        "or a VPN)" +
        (secret
          ? "; or, after several mistyped passphrases, the peer pausing handshakes for a minute or more " +
            "(its side says so)"
          : ""),
      ]);
    } finally {
      p.kill();
      await p.exit();
    }
  });
}
