/**
 * A model of the app ChatNet replaces: stop-and-wait over UDP. Each message goes out as
 * "1" + bit + text; the sender then sleeps a fixed 0.5 s and sends it again unless "2ACK" + bit
 * came back meanwhile. The receiver ACKs every copy and shows a message when its bit is the one
 * it expects. Received messages print as {"type":"message","text":...}.
 *
 *   deno run --allow-net bench/stop_and_wait.ts PORT PEER_HOST PEER_PORT
 */
import { readLines } from "../lib/ui/output.ts";

const WAIT_MS = 500;
const [port, peerHost, peerPort] = Deno.args;
const sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: Number(port) });
const peer = { transport: "udp" as const, hostname: peerHost, port: Number(peerPort) };
const enc = new TextEncoder(), dec = new TextDecoder();
let acked = -1;
let expected = 0;
console.log(JSON.stringify({ type: "ready" }));

(async () => {
  const buf = new Uint8Array(2048);
  for (;;) {
    const [data] = await sock.receive(buf);
    const text = dec.decode(data);
    if (text.startsWith("2ACK")) acked = Number(text[4]);
    else if (text.startsWith("1")) {
      const bit = Number(text[1]);
      await sock.send(enc.encode(`2ACK${bit}`), peer);
      if (bit === expected) {
        expected ^= 1;
        console.log(JSON.stringify({ type: "message", text: text.slice(2) }));
      }
    }
  }
})();

let bit = 0;
for await (const line of readLines(Deno.stdin.readable)) {
  do {
    await sock.send(enc.encode(`1${bit}${line}`), peer);
    await new Promise((r) => setTimeout(r, WAIT_MS));
  } while (acked !== bit);
  bit ^= 1;
}
