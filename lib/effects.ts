/**
 * Every effect of a peer, bundled: time, the UDP socket, TCP for files, the file system. main.ts
 * (through start.ts) passes the Deno adapters; the simulator (tests/sim/) passes virtual ones.
 * Randomness stays WebCrypto's: the simulator seeds crypto.getRandomValues for its whole process.
 */
import { type Clock, denoClock } from "./net/clock.ts";
import { denoTcp, type Tcp } from "./net/tcp.ts";
import { denoUdp, type Udp } from "./net/udp.ts";
import { denoFs, type Fs } from "./store/fs.ts";

export interface Effects {
  clock: Clock;
  udp: Udp;
  tcp: Tcp;
  fs: Fs;
}

export const denoEffects: Effects = { clock: denoClock, udp: denoUdp, tcp: denoTcp, fs: denoFs };
