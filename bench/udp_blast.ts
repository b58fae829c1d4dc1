/**
 * One end of bench/udp_files.ts's raw UDP ceiling: Deno's datagram socket with nothing around it,
 * 1,200-byte datagrams one `send` at a time (as chatnet sends them), no protocol, no
 * acknowledgements. It shows how many datagrams a second a Deno process moves here at all, the
 * ceiling of any protocol built on them.
 *
 *   recv HOST PORT COUNT       listens, prints "ready", counts until COUNT or 1 s of silence
 *   send HOST PORT COUNT       sends COUNT datagrams as fast as the socket takes them
 *
 * The receiver prints "got N ms MS cpu MS": datagrams received, the time from the first to the
 * last, and its user plus system time meanwhile; the sender prints "cpu MS".
 */
import process from "node:process";

const [mode, hostname, port, count] = Deno.args;
const SIZE = 1200;
const n = Number(count);
let closed = false;
const conn = Deno.listenDatagram({
  transport: "udp",
  hostname: mode === "recv" ? hostname : "0.0.0.0",
  port: mode === "recv" ? Number(port) : 0,
});
if (mode === "recv") {
  console.log("ready");
  const buf = new Uint8Array(2048);
  let got = 0, first = 0, last = 0, cpu = process.cpuUsage();
  for (;;) {
    const timer = got ? setTimeout(() => (closed = true, conn.close()), 1000) : undefined;
    try {
      await conn.receive(buf);
    } catch {
      break;
    }
    clearTimeout(timer);
    last = performance.now();
    if (got++ === 0) first = last, cpu = process.cpuUsage();
    if (got === n) break;
  }
  const used = process.cpuUsage(cpu);
  console.log(`got ${got} ms ${(last - first).toFixed(1)} cpu ${(used.user + used.system) / 1000}`);
} else {
  const data = new Uint8Array(SIZE).fill(7);
  const cpu = process.cpuUsage();
  const to = { transport: "udp" as const, hostname, port: Number(port) };
  for (let i = 0; i < n; i++) await conn.send(data, to);
  const used = process.cpuUsage(cpu);
  console.log(`cpu ${(used.user + used.system) / 1000}`);
}
if (!closed) conn.close();
