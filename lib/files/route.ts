/**
 * How a file's bytes reach the peer (`--files`): a TCP connection to its file port, the chat's
 * UDP session (lib/files/udp_stream.ts), or (`auto`, the default) TCP unless it cannot connect
 * within CONNECT_MS, and the session from then on for the rest of the run: a port that did not
 * answer once (a NAT with nothing forwarded, a firewall) is not waited on again for every file.
 */
import type { Writer } from "../net/file_stream.ts";
import type { Tcp, TcpConn } from "../net/tcp.ts";
import type { Clock } from "../net/clock.ts";
import type { UdpFiles } from "./udp_stream.ts";

export type FilesMode = "auto" | "tcp" | "udp";
export const FILES_MODES: readonly FilesMode[] = ["auto", "tcp", "udp"];

/** "Within a few seconds" (issue 21): a LAN or the Internet answers a SYN in well under a second,
 * and a refused port answers at once; a dropped SYN is retried by the kernel after 1 s and 3 s. */
export const CONNECT_MS = 3_000;

/** Either kind of outgoing stream. */
export interface FileConn extends Writer {
  closeWrite(): Promise<void>;
  close(): void;
}

export interface RouteOptions {
  mode: FilesMode;
  peerIp: string;
  tcp: Tcp;
  clock: Clock;
  udp?: UdpFiles;
  /** Said once, when `auto` gives up on TCP. */
  onFallback?: (why: string, port: number) => void;
  connectMs?: number;
}

export class Route {
  #o: RouteOptions;
  #tcpFailed = false;

  constructor(options: RouteOptions) {
    this.#o = { ...options };
  }

  /** The peer moved (lib/peer_path.ts): new connections, resumes included, go to `ip`. A TCP
   * port that failed at the old address may answer at the new one, so auto tries TCP again. */
  set peerIp(ip: string) {
    if (ip === this.#o.peerIp) return;
    this.#o.peerIp = ip;
    this.#tcpFailed = false;
  }

  get peerIp(): string {
    return this.#o.peerIp;
  }

  async connect(id: string, port: number): Promise<{ conn: FileConn; via: "tcp" | "udp" }> {
    const { mode, udp } = this.#o;
    const viaUdp = () => {
      if (!udp) throw new Error("files cannot go over the session here");
      return { conn: udp.open(id), via: "udp" as const };
    };
    if (mode === "udp" || (mode === "auto" && this.#tcpFailed)) return viaUdp();
    try {
      return { conn: await this.#connectTcp(port), via: "tcp" };
    } catch (e) {
      if (mode === "tcp" || !udp) throw e;
      this.#tcpFailed = true;
      this.#o.onFallback?.(why(e), port);
      return viaUdp();
    }
  }

  /** Gives up after connectMs: a SYN into a firewall that drops it waits two minutes otherwise.
   * A connection that comes up after all is closed. */
  async #connectTcp(port: number): Promise<TcpConn> {
    const { tcp, clock } = this.#o;
    const ms = this.#o.connectMs ?? CONNECT_MS;
    const attempt = tcp.connect({ hostname: this.#o.peerIp, port });
    let timer: number | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimer(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
    });
    try {
      return await Promise.race([attempt, timeout]);
    } catch (e) {
      attempt.then((c) => c.close(), () => {});
      throw e;
    } finally {
      clock.clearTimer(timer!);
    }
  }
}

function why(e: unknown): string {
  return (e as Error).message ?? String(e);
}
