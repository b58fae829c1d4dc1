/**
 * File transfers in both directions. Negotiation rides the reliable chat stream (offer → accept
 * or decline → done); bytes ride TCP (lib/net/file_stream.ts) or, when TCP cannot connect, the
 * UDP session (lib/files/route.ts, udp_stream.ts). A transfer that breaks is offered
 * again, and the receiver resumes from its `.part` once the sender has checked the prefix hash.
 * A few files stream at a time each way (lib/files/slots.ts). The sending side is
 * lib/files/sender.ts, the receiving side offers.ts (offers decided and queued) and receiver.ts
 * (their streams); this class is what drives them.
 */
import type { FileControl } from "./control.ts";
import { Route } from "./route.ts";
import { denoClock } from "../net/clock.ts";
import { denoTcp, type TcpConn, type TcpListener } from "../net/tcp.ts";
import { denoFs } from "../store/fs.ts";
import { Offers } from "./offers.ts";
import type { OfferRecord } from "./consent.ts";
import type { OfferEvent, OfferWaitingEvent } from "../events.ts";
import { Receiver } from "./receiver.ts";
import { Sender } from "./sender.ts";
import {
  type OutgoingFile,
  type TransferContext,
  TransferEvents,
  type TransferOptions,
} from "./transfer_common.ts";

export type { OutgoingFile, TransferOptions } from "./transfer_common.ts";
export { READ_AHEAD, WRITE_DEPTH } from "./transfer_common.ts";

export class Transfers {
  #listener: TcpListener;
  #route: Route;
  #sender: Sender;
  #offers: Offers;
  #receiver: Receiver;
  #closed = false;

  constructor(options: TransferOptions, listener: TcpListener) {
    this.#listener = listener;
    const clock = options.clock ?? denoClock;
    const events = new TransferEvents(options.emit);
    this.#route = new Route({
      mode: options.files ?? "tcp",
      peerIp: options.peerIp,
      tcp: options.tcp ?? denoTcp,
      clock,
      udp: options.udp,
      onFallback: (why, port) =>
        events.error(
          "tcp_unreachable",
          `Cannot connect to the peer's file port ${port} over TCP (${why}): files go over the ` +
            "chat's UDP session from now on",
        ),
    });
    const c: TransferContext = {
      o: options,
      clock,
      fs: options.fs ?? denoFs,
      route: this.#route,
      events,
    };
    this.#sender = new Sender(c);
    this.#offers = new Offers(c);
    this.#receiver = new Receiver(c, this.#offers);
  }

  /** TCP file port: connections refused (not the peer), bad headers, over the limit. */
  get counts(): { refused: number; badHeader: number; overloaded: number } {
    return this.#receiver.counts;
  }

  /** The peer moved to `ip` (an authenticated migration): connections to its file port go there,
   * and only that address may connect to ours. Transfers over the session follow by themselves. */
  movePeer(ip: string): void {
    this.#route.peerIp = ip;
  }

  /** Transfers not yet finished, in either direction. */
  get active(): number {
    return this.#sender.active + this.#offers.size;
  }

  /** Accepts TCP connections until closed. */
  async serve(): Promise<void> {
    while (!this.#closed) {
      let conn: TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        if (this.#closed) return;
        continue;
      }
      this.#receiver.onConnection(conn).catch(() => {});
    }
  }

  /** Offers files and folders (a folder's files keep their paths relative to it). */
  send(paths: string[]): Promise<void> {
    return this.#sender.send(paths);
  }

  onControl(c: FileControl): void {
    switch (c.op) {
      case "offer":
        return this.#offers.take(c);
      case "accept":
        this.#sender.onAccept(c).catch(() => {});
        return;
      case "decline":
        if (!this.#sender.onDecline(c)) this.#offers.withdrawn(c.id, c.reason);
        return;
      case "done":
        return this.#sender.onDone(c);
      case "wait":
        this.#sender.onWait(c.id).catch(() => {});
        return;
      case "agree":
        this.#sender.onAgree(c.id).catch(() => {});
        return;
      case "ask": {
        const { op: _, ...group } = c;
        return this.#offers.consent.onAsk(group);
      }
    }
  }

  /** Offers asked about (--accept ask) and waiting for an answer, oldest first. */
  offers(): OfferEvent[] {
    return this.#offers.consent.pending();
  }

  /** Our offers the peer's user is being asked about (offer_waiting), oldest first. */
  waiting(): OfferWaitingEvent[] {
    return this.#sender.waiting();
  }

  /** Answers a pending offer; false if `id` is none. */
  answerOffer(id: string, accept: boolean): boolean {
    return this.#offers.consent.answer(id, accept);
  }

  /** Offers an earlier run was asking about, or had answered (from the journal). */
  restoreOffers(records: OfferRecord[]): void {
    this.#offers.consent.restore(records);
  }

  /** Files an earlier run was sending: offered again once the peer is online, and the receiver
   * resumes from its .part. A file that is gone or changed size is given up with an error. */
  resume(files: OutgoingFile[]): Promise<void> {
    return this.#sender.resume(files);
  }

  /** The peer is back (`restarted`: as a new process): see Sender.onPeerOnline. */
  onPeerOnline(restarted = false): void {
    this.#sender.onPeerOnline(restarted);
    this.#receiver.onPeerOnline();
    this.#offers.consent.onPeerOnline();
  }

  close(): void {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    this.#sender.close();
    this.#receiver.close();
    this.#offers.close();
  }
}
