/**
 * `--invite` and `--join CODE|NAME`: find the peer on the LAN (lib/net/discovery.ts), turn the
 * code or the pair into the session's passphrase and the peer's address, and, once a code's
 * session is authenticated, keep the pair (lib/store/pairs.ts) so `--join NAME` works later.
 */
import { join } from "node:path";
import type { Config } from "./cli/args.ts";
import { newCode } from "./crypto/words.ts";
import { codeTag, pairSecret, pairTag } from "./crypto/pairing.ts";
import { parseHostPort } from "./cli/args.ts";
import { discover, freePort, portFree } from "./net/discovery.ts";
import { loadPairs, type Pair, savePair } from "./store/pairs.ts";
import { stateRoot } from "./store/state_dir.ts";
import { type ChatEvent, formatAddress } from "./events.ts";

export interface Joined {
  /** The config with the peer's address, our port and the pair's state directory filled in. */
  config: Config;
  secret: string;
  /** Where pairs.json lives, and the name the pair is kept under. */
  root: string;
  name: string;
  /** A code (not a pair): consumed by the first handshake, good or bad. */
  byCode: boolean;
  /** We made the code (--invite), rather than typed it (--join CODE). */
  invited: boolean;
  /** A new pair kept under another name, since a pair of the announced one exists already. */
  sameNameAs?: string;
  /** The pair `--join NAME` joins, as kept (none for a code until its session is authenticated). */
  pair?: Pair;
}

/** Finds the peer, or says in one line why not: a string when nobody answered (exit 1), an
 * `{ usage }` when the command cannot work as given (exit 2: no such pair, no state). */
export async function findPeer(
  c: Config,
  io: { log(line: string): void; env: { XDG_STATE_HOME?: string; HOME?: string } },
): Promise<Joined | string | { usage: string }> {
  const d = c.discover!;
  const root = c.stateDir || stateRoot(io.env);
  if (typeof root !== "string") return { usage: root.error };
  let secret: string, tag: Uint8Array, what: string, last: Pair | undefined;
  if (d.kind === "pair") {
    const pairs = loadPairs(root);
    if (typeof pairs === "string") return { usage: pairs };
    if (!pairs[d.name]) {
      const known = Object.keys(pairs);
      // "3-apple": a code cut short, most likely, rather than a name.
      const codeLike = /^\d+-/.test(d.name)
        ? "; a code is a number and two words, like 7-crossbow-ladder"
        : "";
      return {
        usage: `Cannot join ${d.name}: no pair of that name (${
          known.length ? `paired: ${known.join(", ")}` : "none yet"
        }); pair first with chatnet --invite on one host and --join CODE on the other${codeLike}`,
      };
    }
    last = pairs[d.name];
    secret = last.secret;
    tag = pairTag(secret);
    what = d.name;
  } else {
    const code = d.kind === "code"
      ? d.code
      : newCode((n) => crypto.getRandomValues(new Uint8Array(n)));
    secret = code.text;
    tag = codeTag(code.number);
    what = `code ${code.text}`;
    if (d.kind === "invite") {
      io.log(`Your code is ${code.text}: on the other host run chatnet --join ${code.text}`);
    }
  }
  const port = c.port || (last?.port && portFree(last.port) ? last.port : freePort());
  const lastPeer = last?.peer ? parseHostPort(last.peer) : undefined;
  const fallback = typeof lastPeer === "object" ? lastPeer : undefined;
  // With a last address, a short look: the other side may be a session still running there.
  const waitMs = fallback ? Math.min(c.waitMs, LAST_ADDRESS_AFTER_MS) : c.waitMs;
  const seconds = Math.round(waitMs / 1000);
  io.log(
    `Looking for ${d.kind === "pair" ? d.name : "the other side"} on the local network ` +
      `(up to ${seconds} s)…`,
  );
  let found;
  try {
    found = await discover({ tag, port, name: c.name, timeoutMs: waitMs });
  } catch (e) {
    if (!fallback) {
      return `${(e as Error).message}; give the peer's address instead: ${ADDRESS_FORM}`;
    }
  }
  const lastTry = !found && fallback;
  if (lastTry) {
    io.log(
      `Nobody answered on the local network; trying ${what} at its last address ${last!.peer} ` +
        "(it may still be running there)",
    );
    found = { ip: fallback.host, port: fallback.port, name: what };
  }
  if (!found) {
    return `Nobody answered for ${what} within ${seconds} s: multicast may be blocked on this ` +
      "network, or the other host is on another subnet (discovery stays on one LAN). " +
      `The address form always works: ${ADDRESS_FORM}`;
  }
  const announced = found.name.replace(/[^\p{L}\p{N}._-]/gu, "_") || "peer";
  const name = d.kind === "pair" ? d.name : freePairName(root, announced);
  if (!lastTry) io.log(`Found ${name} at ${formatAddress(found.ip, found.port)}`);
  return {
    config: {
      ...c,
      port,
      filePort: c.filePort || port,
      peerHost: found.ip,
      peerPort: found.port,
      stateDir: c.stateDir || join(root, `pair-${name}`),
    },
    secret,
    root,
    name,
    byCode: d.kind !== "pair",
    invited: d.kind === "invite",
    ...(last ? { pair: last } : {}),
    ...(d.kind !== "pair" && name !== announced ? { sameNameAs: announced } : {}),
  };
}

/** `name`, or `name-2`, `name-3`…: a new pair never takes an existing pair's name (two hosts whose
 * users are both "kali" pair as kali and kali-2, each with its own secret and journal, rather than
 * the second taking over the first's pair and queue). */
function freePairName(root: string, name: string): string {
  const pairs = loadPairs(root);
  if (typeof pairs === "string") return name;
  let candidate = name;
  for (let i = 2; pairs[candidate]; i++) candidate = `${name}-${i}`;
  return candidate;
}

/** How long `--join NAME` looks on the LAN before it tries the pair's last address: a partner
 * that restarts answers within a round of announcements (well under a second on a LAN). */
const LAST_ADDRESS_AFTER_MS = 3_000;

const ADDRESS_FORM =
  "chatnet <local_port> <peer_host> <peer_port>, with the same passphrase on both sides";

/** Watches the session: a code's first authenticated session stores the pair; a failed
 * handshake ends the run (a code is used once, so a wrong guess costs the guesser the code). */
export function watchPairing(
  peer: {
    on(l: (e: ChatEvent) => void): void;
    keys: { fileSend: Uint8Array; fileRecv: Uint8Array } | undefined;
  },
  j: Joined,
  io: { log(line: string): void; exit(code: number): void },
): void {
  const c = j.config;
  let at = formatAddress(c.peerHost, c.peerPort);
  /** The pair as kept: loaded by --join NAME, or made once this session's code is authenticated. */
  let pair = j.pair;
  /** Keeps where this session runs, for a later --join NAME (said only if it fails). */
  const remember = () => {
    if (!pair || (pair.port === c.port && pair.peer === at)) return;
    pair = { ...pair, port: c.port, peer: at };
    const failed = savePair(j.root, j.name, pair);
    if (failed) io.log(failed);
  };
  peer.on((e) => {
    if (e.type === "peer" && e.state === "online" && !pair && peer.keys) {
      pair = {
        secret: pairSecret(peer.keys),
        paired: new Date().toISOString(),
        port: c.port,
        peer: at,
      };
      const failed = savePair(j.root, j.name, pair);
      const also = j.sameNameAs
        ? ` (kept as ${j.name}: you are already paired with another ${j.sameNameAs})`
        : "";
      io.log(failed ?? `Paired with ${j.name}${also}: next time, chatnet --join ${j.name}`);
    } else if (e.type === "peer" && e.state === "online") remember();
    if (e.type === "moved") {
      at = e.to;
      remember();
    }
    if (e.type === "error" && e.code === "auth_failed") {
      io.log(
        !j.byCode
          ? `${j.name} no longer has this pair's secret: pair again with --invite and --join CODE`
          : j.invited
          ? "The other side typed a different code: this one is used up; run chatnet --invite " +
            "again for a new code"
          : `The code did not match ${j.name}'s: it is used up; ask them to run chatnet --invite ` +
            "again, and type the new code",
      );
      io.exit(1);
    }
  });
}
