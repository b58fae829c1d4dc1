/** What to say when nothing at all arrives from the peer: once, after UNREACHABLE_MS. */
import type { ErrorEvent } from "./events.ts";

/** About 10 s (issue 21): long past a LAN's or a hole punch's first exchange, short enough that
 * the user is still watching. */
export const UNREACHABLE_MS = 10_000;

export function unreachableEvent(
  peer: string,
  o: { encrypted?: boolean; port?: number } = {},
): ErrorEvent {
  return {
    type: "error",
    code: "unreachable",
    message: `Nothing has arrived from ${peer} in ${UNREACHABLE_MS / 1000} s: likely no route ` +
      "to it, a firewall dropping UDP, chatnet not running there" +
      // A mistyped port on either side looks the same from here, and is the commonest cause.
      (o.port ? `, chatnet there given another port for this side (it must name ${o.port})` : "") +
      ", or a symmetric NAT (which " +
      "needs a port forward or a VPN)" +
      // A peer that saw several wrong passphrases pauses its handshakes, and is silent meanwhile.
      (o.encrypted
        ? "; or, after several mistyped passphrases, the peer pausing handshakes for a minute or more " +
          "(its side says so)"
        : ""),
  };
}
