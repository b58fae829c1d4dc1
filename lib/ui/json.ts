/**
 * The `--json` interface: commands as JSON lines on stdin, events as JSON lines on stdout.
 * A bad line gets an error event and nothing else happens.
 */
import type { ChatEvent, Command, ErrorEvent } from "../events.ts";
import type { Out, Overlong } from "./output.ts";
import { MAX_TEXT_BYTES } from "../peer.ts";
import type { ChatPeer } from "./peer_handle.ts";

export function parseCommand(line: string): Command | ErrorEvent {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return badInput("Cannot parse input line: not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return badInput("Cannot parse input line: expected a JSON object");
  }
  const o = v as Record<string, unknown>;
  switch (o.type) {
    case "send":
      if (typeof o.text !== "string") return badInput('Cannot send: "text" must be a string');
      return { type: "send", text: o.text };
    case "stats":
    case "quit":
      return { type: o.type };
    case "history": {
      const count = o.count ?? 20;
      if (!Number.isSafeInteger(count) || (count as number) < 0) {
        return badInput('Cannot show history: "count" must be a whole number');
      }
      return { type: "history", count: count as number };
    }
    case "accept":
    case "decline":
      if (typeof o.id !== "string" || !o.id) {
        return badInput(`Cannot ${o.type} an offer: "id" must be a non-empty string`);
      }
      return { type: o.type, id: o.id };
    case "file":
      if (typeof o.path !== "string" || !o.path) {
        return badInput('Cannot send file: "path" must be a non-empty string');
      }
      return { type: "file", path: o.path };
    default:
      return badInput(`Unknown command type: ${JSON.stringify(o.type ?? null)}`);
  }
}

function unknownOffer(what: "accept" | "decline", id: string): ErrorEvent {
  return {
    type: "error",
    code: "unknown_offer",
    message: `Cannot ${what} offer ${JSON.stringify(id)}: no offer with that id is waiting for ` +
      "an answer",
    id,
  };
}

function badInput(message: string): ErrorEvent {
  return { type: "error", code: "bad_input", message };
}

/** The longest command line read: a message at its limit with every byte escaped (\u00XX),
 * and room for the rest of the object. Longer lines are skipped as they stream. */
export const MAX_COMMAND_CHARS = 6 * MAX_TEXT_BYTES + 1024;

export interface LineOptions {
  peer: ChatPeer;
  /** Lines, or the length of one skipped for being over the mode's limit. */
  input: AsyncIterable<string | Overlong>;
  out: Out;
  /** Where diagnostics go (stderr). */
  log: Out;
  timeoutMs: number;
  /** At the timeout, keep undelivered messages for the next run (default) or drop them. */
  keep?: boolean;
  /** stdout is a terminal (pipe mode then shows the peer's control characters as ^[). */
  terminal?: boolean;
}

/** Runs until quit or end of input, then waits for delivery; resolves to the exit code. */
/** Errors that mean a line or a file given to this run was refused or failed: the run then
 * exits 1 (the README's exit codes), in JSON mode as with --send. */
export const REFUSED_CODES = new Set([
  "bad_input",
  "too_long",
  "file_not_found",
  "declined",
  "transfer_failed",
  "hash_mismatch",
  "unknown_offer",
]);

export async function runJson(o: LineOptions): Promise<number> {
  let refused = 0;
  const print = (e: ChatEvent) => {
    // Only what this run was given: a decline of the peer's file is the peer's failure.
    if (e.type === "error" && REFUSED_CODES.has(e.code) && e.direction !== "receive") refused++;
    o.out.write(JSON.stringify(e) + "\n");
  };
  o.peer.on(print);
  o.peer.start();
  for await (const line of o.input) {
    if (typeof line !== "string") {
      print({
        type: "error",
        code: "too_long",
        message: `Cannot read input line: ${line.overlong} characters is over the ` +
          `${MAX_COMMAND_CHARS}-character limit; skipped`,
      });
    } else if (line.trim() && !await runCommand(o.peer, line, print)) break;
  }
  const code = await finish(o);
  return refused ? Math.max(code, 1) : code;
}

/** Carries out one command line of the contract (JSON mode and the web window share it); what
 * answers only the asker (errors, stats, history) goes to `reply`. False after "quit". */
export async function runCommand(
  peer: ChatPeer,
  line: string,
  reply: (e: ChatEvent) => void,
): Promise<boolean> {
  const c = parseCommand(line);
  if (c.type === "error") reply(c);
  else if (c.type === "send") peer.send(c.text);
  else if (c.type === "file") await peer.sendFiles([c.path]);
  else if (c.type === "stats") reply(peer.stats());
  else if (c.type === "history") peer.history(c.count).forEach(reply);
  else if (c.type === "accept" || c.type === "decline") {
    if (!peer.answerOffer(c.id, c.type === "accept")) reply(unknownOffer(c.type, c.id));
  } else return false;
  return true;
}

/** Waits up to the timeout for everything sent (messages and files) to be delivered, then leaves. */
export async function finish(o: LineOptions): Promise<number> {
  if (o.peer.transfers > 0 && !await transfersDone(o.peer, o.timeoutMs)) {
    const n = o.peer.transfers;
    o.log.write(
      `chatnet: gave up after the peer was unreachable for ${o.timeoutMs / 1000} s: ` +
        `${n === 1 ? "1 file transfer is" : `${n} file transfers are`} unfinished; ` +
        `${n === 1 ? "it resumes" : "they resume"} the next time chatnet runs with this peer\n`,
    );
    o.peer.close();
    return 1;
  }
  const delivered = await o.peer.drained(o.timeoutMs);
  const left = o.peer.pending;
  if (delivered) {
    o.peer.close();
    return 0;
  }
  const what = left === 1 ? "1 message" : `${left} messages`;
  if (o.keep === false) {
    await o.peer.forgetUndelivered();
    o.peer.close();
    o.log.write(
      `chatnet: gave up after ${o.timeoutMs / 1000} s: ${what} not delivered and dropped ` +
        "(--no-keep)\n",
    );
    return 1;
  }
  o.peer.close();
  o.log.write(
    o.peer.keeping
      ? `chatnet: gave up after ${o.timeoutMs / 1000} s: ${what} not delivered yet; ` +
        `${left === 1 ? "it is" : "they are"} kept and sent the next time chatnet runs with this ` +
        "peer (--no-keep drops them instead)\n"
      : `chatnet: gave up after ${o.timeoutMs / 1000} s: ${what} not delivered, and not kept: ` +
        "the state directory cannot be written\n",
  );
  return 1;
}

/** Resolves true when no transfer is left, false once the peer has been offline for `timeoutMs`. */
export function transfersDone(peer: ChatPeer, timeoutMs: number): Promise<boolean> {
  let offlineSince = peer.online ? Infinity : performance.now();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (peer.transfers === 0) return stop(true);
      if (peer.online) offlineSince = Infinity;
      else if (offlineSince === Infinity) offlineSince = performance.now();
      else if (performance.now() - offlineSince > timeoutMs) stop(false);
    }, 100);
    const stop = (done: boolean) => {
      clearInterval(timer);
      resolve(done);
    };
  });
}
