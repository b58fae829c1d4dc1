/** What an interface may do with the running peer: listen, command, and nothing else. */
import type { Peer } from "../peer.ts";

export type ChatPeer = Pick<
  Peer,
  | "on"
  | "start"
  | "send"
  | "sendFiles"
  | "stats"
  | "history"
  | "drained"
  | "close"
  | "forgetUndelivered"
  | "pending"
  | "online"
  | "transfers"
  | "keeping"
  | "offers"
  | "waiting"
  | "answerOffer"
>;
