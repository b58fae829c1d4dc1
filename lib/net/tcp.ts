/**
 * TCP behind an interface, for the file streams: listen, connect, and the connection's reads and
 * writes. `denoTcp` hands out Deno's own connections, which already have this shape.
 */
import type { Reader, Writer } from "./file_stream.ts";

export interface NetAddr {
  hostname: string;
  port: number;
}

export interface TcpConn extends Reader, Writer {
  readonly remoteAddr: NetAddr;
  /** Ends our direction (FIN); reads go on. */
  closeWrite(): Promise<void>;
  close(): void;
}

export interface TcpListener {
  readonly port: number;
  accept(): Promise<TcpConn>;
  close(): void;
}

export interface Tcp {
  /** Throws Deno.errors.AddrInUse and friends (the simulator throws the same) for start.ts. */
  listen(o: NetAddr): TcpListener;
  connect(o: NetAddr): Promise<TcpConn>;
}

export const denoTcp: Tcp = {
  listen(o) {
    const l = Deno.listen({ hostname: o.hostname, port: o.port });
    return {
      port: l.addr.port,
      accept: () => l.accept(),
      close: () => l.close(),
    };
  },
  connect: (o) =>
    Deno.connect({ hostname: o.hostname, port: o.port }).catch((e) => {
      // Our words for the one refusal users meet most; the rest keep the system's message.
      throw e instanceof Deno.errors.ConnectionRefused ? new Error("connection refused") : e;
    }),
};
