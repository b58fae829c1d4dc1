/**
 * The TCP baseline: a line chat over one TCP connection with TCP_NODELAY, as any chat would set
 * (without it, Nagle and delayed ACKs add hundreds of milliseconds). Lines from stdin go out;
 * lines received are printed as {"type":"message","text":...} like chatnet --json.
 *
 *   deno run --allow-net bench/tcp_chat.ts listen PORT | connect HOST PORT
 */
import { readLines } from "../lib/ui/output.ts";
import { writeAll } from "../lib/net/file_stream.ts";

const [mode, a, b] = Deno.args;
let conn: Deno.TcpConn;
if (mode === "listen") {
  const listener = Deno.listen({ hostname: "0.0.0.0", port: Number(a) });
  conn = await listener.accept();
  listener.close();
} else {
  for (;;) {
    try {
      conn = await Deno.connect({ hostname: a, port: Number(b) });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
conn.setNoDelay(true);
console.log(JSON.stringify({ type: "ready" }));

(async () => {
  for await (const text of readLines(conn.readable)) {
    console.log(JSON.stringify({ type: "message", text }));
  }
  Deno.exit(0);
})();
const encoder = new TextEncoder();
for await (const line of readLines(Deno.stdin.readable)) {
  await writeAll(conn, encoder.encode(line + "\n"));
}
