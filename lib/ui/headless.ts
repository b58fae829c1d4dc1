/** `--web` without a terminal: the web window is the interface; runs until SIGINT or SIGTERM. */
import type { ChatPeer } from "./peer_handle.ts";

export function runHeadless(peer: ChatPeer): Promise<number> {
  peer.start();
  return new Promise((resolve) => {
    Deno.addSignalListener("SIGTERM", () => {
      peer.close();
      resolve(0);
    });
  });
}
