/** A terminal screen on a fake peer, capturing exactly what it writes. */
import type { TerminalOptions } from "../lib/ui/terminal/screen.ts";
import { TerminalUi } from "../lib/ui/terminal/screen.ts";
import type { ChatPeer } from "../lib/ui/peer_handle.ts";
import type { ChatEvent, MessageEvent, StatsEvent } from "../lib/events.ts";
import { zeroStats } from "../lib/protocol/arq/mod.ts";

export const keys = (s: string) => new TextEncoder().encode(s);

/** 09:05:03 local time, the time every fixed line shows. */
export const AT = new Date(2026, 10, 22, 9, 5, 3).toISOString();

export function setup(
  options: Partial<Pick<TerminalOptions, "color" | "listDir" | "home">> & {
    columns?: number | (() => number);
    online?: boolean;
  } = {},
) {
  let written = "";
  const sent: string[] = [];
  const sentFiles: string[] = [];
  /** Offers answered through the peer, and the ids it knows as pending. */
  const answers: [string, boolean][] = [];
  const pendingOffers = new Set<string>();
  const peer = {
    online: options.online ?? true,
    pending: 0,
    on() {},
    start() {},
    sendFiles(paths: string[]) {
      sentFiles.push(...paths);
      return Promise.resolve();
    },
    transfers: 0,
    send(text: string) {
      sent.push(text);
      return sent.length;
    },
    stats: (): StatsEvent => ({
      type: "stats",
      ...zeroStats(),
      corrupt: 3,
      malformed: 0,
      reflected: 0,
      stale: 0,
      datagramsIn: 10,
      peerRestarts: 0,
      foreign: 2,
      sendErrors: 0,
      pending: 0,
      alreadyShown: 0,
      unauthenticated: 0,
      replayed: 0,
      authFailed: 0,
      handshakeStray: 0,
      tcpRefused: 0,
      tcpBadHeader: 0,
      tcpOverloaded: 0,
      cipher: "ChaCha20-Poly1305 (OpenSSL 3.0.19)",
    }),
    drained: () => Promise.resolve(true),
    history: (n: number): ChatEvent[] =>
      [
        { type: "history", dir: "in", id: 4, name: "bob", text: "older", at: AT },
        { type: "history", dir: "out", id: 9, name: "ann", text: "mine", at: AT, delivered: true },
      ].slice(-n) as ChatEvent[],
    close() {},
    keeping: true,
    offers: () => [],
    answerOffer(id: string, accept: boolean) {
      answers.push([id, accept]);
      return pendingOffers.delete(id);
    },
  } as unknown as ChatPeer;
  const ui = new TerminalUi({
    peer,
    out: { write: (t) => void (written += t) },
    color: options.color ?? false,
    columns: typeof options.columns === "function"
      ? options.columns
      : () => (options.columns as number | undefined) ?? 80,
    rows: () => 24,
    listDir: options.listDir,
    home: options.home,
    now: () => new Date(AT),
  });
  return {
    ui,
    sent,
    sentFiles,
    answers,
    pendingOffers,
    peer,
    take() {
      const w = written;
      written = "";
      return w;
    },
  };
}

export const message = (text: string, id = 7): MessageEvent => ({
  type: "message",
  id,
  text,
  from: "192.0.2.7:9001",
  name: "bob",
  at: new Date(2026, 10, 22, 9, 5, 3).toISOString(),
});
