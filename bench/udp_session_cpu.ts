/**
 * The JavaScript cost of one file datagram over the session, with no socket: two Sessions and
 * their file channels (lib/files/udp_stream.ts) in one process, joined by a lossless in-memory
 * wire, move SIZE_MIB from one stream to the other as fast as the protocol lets them. What it
 * prints (µs of CPU per file datagram, both ends together, and datagrams each way) is what the
 * protocol core and the file channel cost over and above the socket calls that bench/udp_files.ts
 * also counts. Each side marks what it received durable after every datagram, as lib/peer.ts does
 * with a journal on disk. Deterministic apart from the machine's speed; compare runs made one after another.
 *
 *   deno run -A bench/udp_session_cpu.ts [SIZE_MIB=64] [SECRET]
 */
import process from "node:process";
import { setImmediate } from "node:timers";
import { Session } from "../lib/protocol/session.ts";
import { FRAME_DATA, UdpFiles, type UdpInStream } from "../lib/files/udp_stream.ts";
import { decodeApp } from "../lib/app_message.ts";
import { preparePassphrase } from "../lib/crypto/passphrase.ts";
import { useOpenSsl } from "../lib/native/openssl_aead.ts";

const sizeMiB = Number(Deno.args[0] ?? 64);
const secret = Deno.args[1];
const size = sizeMiB * 2 ** 20;
if (secret) useOpenSsl(undefined);

/** Virtual time: each datagram handled moves it on by a little, so the pacer and timers see a
 * fast link rather than a frozen one. */
let now = 0;
const STEP_MS = 0.002;
type Side = { session: Session; files: UdpFiles; inbox: Uint8Array[]; out: number };
const timers: { at: number; fn: () => void }[] = [];
const later = (fn: () => void, ms: number) => void timers.push({ at: now + ms, fn });

function side(epoch: number, name: "a" | "b"): Side {
  const s = { inbox: [] as Uint8Array[], out: 0 } as Side;
  s.files = new UdpFiles({
    port: {
      send: (m) => s.session.send(m, 0, now),
      unsent: () => s.session.unsent,
      flush: () => s.session.flush(now),
    },
    later,
  });
  s.session = new Session({
    epoch,
    output: (d) => {
      s.out++;
      (name === "a" ? b : a).inbox.push(d);
    },
    onMessage: (data) => {
      const m = decodeApp(data);
      if (typeof m !== "string" && m.kind === "file") s.files.onFrame(m.bytes);
    },
    onDelivered: () => {},
    onPeer: () => {},
    durableMarks: true,
    // What lib/net/udp_native.ts's socket holds where net.core.rmem_max allows: a large flight.
    receiveBuffer: 8 * 2 ** 20,
    passphrase: secret === undefined ? undefined : prepared(secret),
  });
  return s;
}
function prepared(text: string): string {
  const p = preparePassphrase(text);
  if (typeof p !== "string") throw new Error(p.error);
  return p;
}

const a: Side = side(0xaaaa0001, "a");
const b: Side = side(0xbbbb0001, "b");

/** Delivers what each side sent, one datagram at a time, and runs what is due; false when
 * nothing was. */
function step(): boolean {
  let moved = false;
  for (const s of [a, b]) {
    const d = s.inbox.shift();
    if (!d) continue;
    now += STEP_MS;
    s.session.input(d, now);
    // As lib/peer.ts does after each datagram: what it delivered is stored (the file's bytes
    // go to the .part file, which resumes on its own).
    s.session.markDurable(s.session.durableMark(), now);
    s.files.feed();
    moved = true;
  }
  for (const s of [a, b]) {
    if (s.session.nextDeadline() <= now) {
      s.session.tick(now);
      s.files.feed();
      moved = true;
    }
  }
  for (let i = 0; i < timers.length; i++) {
    if (timers[i].at <= now) {
      const [t] = timers.splice(i--, 1);
      t.fn();
      moved = true;
    }
  }
  return moved;
}

/** Nothing was due even after the streams had their turn: time moves to the next deadline. */
function skip(): void {
  const next = Math.min(
    a.session.nextDeadline(),
    b.session.nextDeadline(),
    ...timers.map((t) => t.at),
  );
  if (next !== Infinity) now = Math.max(now, next);
}

const yieldNow = () => new Promise<void>((r) => setImmediate(r));
let stop = false;
async function drive(): Promise<void> {
  let idle = 0;
  while (!stop) {
    let i = 0;
    while (i < 256 && step()) i++;
    if (i > 0) idle = 0;
    else if (++idle > 1) skip();
    await yieldNow();
  }
}

// Connect: HELLOs both ways until both are online.
a.session.tick(now);
b.session.tick(now);
const driving = drive();
while (!(a.session.online && b.session.online)) await yieldNow();

const incoming = new Promise<UdpInStream>((r) => b.files.onIncoming(r));
const chunk = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
const cpu0 = process.cpuUsage(), out0 = [a.out, b.out], t0 = performance.now();
const out = a.files.open("0123456789abcdef");
const sending = (async () => {
  for (let sent = 0; sent < size; sent += chunk.length) await out.write(chunk);
  await out.closeWrite();
})();
const inStream = await incoming;
const buf = new Uint8Array(1 << 20);
let got = 0;
for (let n; (n = await inStream.read(buf)) !== null;) got += n;
await sending;
const cpu = process.cpuUsage(cpu0), ms = performance.now() - t0;
stop = true;
await driving;
if (got !== size) throw new Error(`received ${got} of ${size} bytes`);
const frames = Math.ceil(size / FRAME_DATA);
const [outA, outB] = [a.out - out0[0], b.out - out0[1]];
const us = (cpu.user + cpu.system) / frames;
console.log(
  `${sizeMiB} MiB over two in-process sessions (${secret ? "sealed" : "plain"}): ` +
    `${us.toFixed(2)} us CPU per file datagram (both ends), ` +
    `${(size / 1e6 / (ms / 1000)).toFixed(1)} MB/s; datagrams A->B ${outA}, B->A ${outB} ` +
    `(${(outB / outA).toFixed(2)} per file datagram)`,
);
const st = a.session.stats();
console.log(
  `  sender: ${st.retransmits} retransmits (${st.spuriousRetransmits} spurious), ` +
    `${st.timeouts} timeouts, ${st.tailProbes} probes, cwnd ${st.cwnd} B, srtt ${
      st.srtt.toFixed(3)
    } ms; ` +
    `${now.toFixed(0)} ms of virtual time`,
);
