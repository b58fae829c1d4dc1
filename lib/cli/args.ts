/** Turns argv into a Config, or a one-line error. Pure: no I/O, no name resolution. */
import { parseArgs } from "node:util";
import { OPTIONS } from "./options.ts";
import { type ImpairSpec, parseSim } from "../net/impair.ts";
import { type Code, parseCode } from "../crypto/words.ts";
import { FILES_MODES, type FilesMode } from "../files/route.ts";
import { ACCEPT_MODES, type AcceptMode } from "../files/consent.ts";

export interface Config {
  mode: "chat" | "demo" | "help" | "version" | "new-secret";
  /** Find the peer on the LAN instead of being told its address (lib/join.ts). */
  discover?: Discover;
  /** How long discovery looks for the other side. */
  waitMs: number;
  port: number;
  peerHost: string;
  peerPort: number;
  /** Empty means all interfaces of the peer's address family. */
  bind: string;
  name: string;
  json: boolean;
  sim?: ImpairSpec;
  timeoutMs: number;
  /** 0 means the same number as `port`. */
  filePort: number;
  downloads: string;
  maxFileSize: number;
  /** How files go out (--files). */
  files: FilesMode;
  /** Which offered files are taken (--accept); undefined: ask in a terminal, all otherwise. */
  accept?: AcceptMode;
  /** Paths for the one-shot --send mode (empty: chat). */
  send: string[];
  /** Empty means the default under $XDG_STATE_HOME or ~/.local/state. */
  stateDir: string;
  history: boolean;
  /** At the timeout, keep undelivered messages for the next run (false: --no-keep). */
  keep: boolean;
  /** Where the passphrase comes from; never from a command-line value (`ps` shows those). */
  /** The web window: off unless --web. */
  web: boolean;
  webPort: number;
  webBind: string;
  open: boolean;
  secret: { from: "none" } | { from: "env"; value: string } | { from: "file"; path: string } | {
    from: "ask";
  };
}

export type Discover =
  | { kind: "invite" }
  | { kind: "code"; code: Code }
  | { kind: "pair"; name: string };

/** An invite waits for someone to type the code; a join expects the other side to be there. */
const INVITE_WAIT_MS = 600_000;
const JOIN_WAIT_MS = 30_000;

const DEFAULT_MAX_FILE_SIZE = 64 * 2 ** 30;

export const DEMO_SIM = "loss=30%,delay=20ms,jitter=10ms,dup=5%,corrupt=5%,reorder=10%";

/** `--timeout -1` as `--timeout=-1` and `--send -notes.txt` as `--send=-notes.txt`: a value that
 * starts with a dash but is no option of ours is the option's value, and gets our words ("not a
 * number of seconds") rather than parseArgs' "argument is ambiguous". */
function joinDashValues(argv: string[]): string[] {
  const flag = (
    o: (typeof OPTIONS)[number],
  ) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])];
  const takesValue = new Set(OPTIONS.filter((o) => o.arg).flatMap(flag));
  const known = new Set(OPTIONS.flatMap(flag));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1] ?? "";
    const option = next.split("=")[0];
    const long = () => argv[i].startsWith("--") ? argv[i] : `--${longName(argv[i])}`;
    if (!takesValue.has(argv[i]) || argv.slice(0, i).includes("--")) out.push(argv[i]);
    else if (next === "--" && i + 2 < argv.length) {
      // `--send -- -x.txt b.txt`: the value follows the end of options, and later paths join it.
      out.push(`${long()}=${argv[i + 2]}`, "--", ...argv.slice(i + 3));
      break;
    } else if (next === "--") {
      out.push(argv[i]);
      break;
    } else if (next.startsWith("-") && !known.has(option)) {
      out.push(`${long()}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

function longName(short: string): string {
  return OPTIONS.find((o) => `-${o.short}` === short)!.name;
}

export function parseCli(
  argv: string[],
  env: { user?: string; secret?: string } = {},
): Config | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinDashValues(argv),
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        OPTIONS.map((o) => [
          o.name,
          {
            type: o.arg ? "string" : "boolean",
            ...(o.short ? { short: o.short } : {}),
            ...(o.multiple ? { multiple: true } : {}),
          },
        ]),
      ) as Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>,
    });
  } catch (e) {
    return cleanParseError((e as Error).message);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const send = (parsed.values as { send?: string[] }).send ?? [];
  // With --send, paths may also follow the address arguments: --send a.txt b.txt.
  const needed = parsed.positionals.length >= 3 && /^\d+$/.test(parsed.positionals[0]) ? 3 : 0;
  const pos = send.length ? parsed.positionals.slice(0, needed) : parsed.positionals;
  if (send.length) send.push(...parsed.positionals.slice(needed));
  const base: Config = {
    mode: "chat",
    port: 0,
    peerHost: "",
    peerPort: 0,
    bind: "",
    name: env.user || "anon",
    json: Boolean(v.json),
    timeoutMs: 30_000,
    waitMs: 0,
    filePort: 0,
    downloads: ".",
    maxFileSize: DEFAULT_MAX_FILE_SIZE,
    files: "auto",
    send,
    stateDir: "",
    history: !v["no-history"],
    keep: !v["no-keep"],
    web: Boolean(v.web),
    webPort: 0,
    webBind: "",
    open: Boolean(v.open),
    secret: env.secret ? { from: "env", value: env.secret } : { from: "none" },
  };
  if (v.help) return { ...base, mode: "help" };
  if (v.version) return { ...base, mode: "version" };
  if (v["new-secret"]) return { ...base, mode: "new-secret" };

  if (typeof v.name === "string") {
    const name = v.name.trim();
    if (!name || /[\p{Cc}]/u.test(name)) return "Cannot use --name: it must be visible text";
    base.name = name;
  }
  if (typeof v.timeout === "string") {
    const t = Number(v.timeout);
    if (!Number.isFinite(t) || t < 0) {
      return `Cannot parse --timeout: "${v.timeout}" is not a number of seconds`;
    }
    base.timeoutMs = t * 1000;
  }
  if (typeof v["file-port"] === "string") {
    const p = parsePort(v["file-port"], "--file-port");
    if (typeof p === "string") return p;
    base.filePort = p;
  }
  if (typeof v.downloads === "string") {
    if (!v.downloads) return "Cannot use --downloads: the folder name is empty";
    base.downloads = v.downloads;
  }
  // Set but empty is a mistake (a variable that did not expand), not a wish for no encryption.
  if (env.secret === "" && typeof v["secret-file"] !== "string" && !v["ask-secret"]) {
    return "Cannot use CHATNET_SECRET: it is set but empty; unset it for an unencrypted chat";
  }
  if (typeof v["secret-file"] === "string") {
    if (v["ask-secret"]) return "Cannot use --secret-file with --ask-secret: choose one";
    if (!v["secret-file"]) return "Cannot use --secret-file: the file name is empty";
    base.secret = { from: "file", path: v["secret-file"] };
  } else if (v["ask-secret"]) base.secret = { from: "ask" };
  if (typeof v["web-port"] === "string") {
    const p = parsePort(v["web-port"], "--web-port");
    if (typeof p === "string") return p;
    base.webPort = p;
  }
  if (typeof v["web-bind"] === "string") {
    if (!v["web-bind"]) return "Cannot use --web-bind: the address is empty";
    base.webBind = v["web-bind"].replace(/^\[(.*)\]$/, "$1");
  }
  if ((base.webPort || base.webBind || base.open) && !base.web) {
    return "Cannot use --web-port, --web-bind or --open without --web";
  }
  if (typeof v["state-dir"] === "string") {
    if (!v["state-dir"]) return "Cannot use --state-dir: the folder name is empty";
    base.stateDir = v["state-dir"];
  }
  if (typeof v["max-file-size"] === "string") {
    const size = parseSize(v["max-file-size"]);
    if (size === undefined) {
      return `Cannot parse --max-file-size: "${v["max-file-size"]}" is not a size like 500M or 20G`;
    }
    base.maxFileSize = size;
  }
  if (typeof v.files === "string") {
    if (!(FILES_MODES as string[]).includes(v.files)) {
      return `Cannot use --files: "${v.files}" is not auto, tcp or udp`;
    }
    base.files = v.files as FilesMode;
  }
  if (typeof v.accept === "string") {
    if (!(ACCEPT_MODES as string[]).includes(v.accept)) {
      return `Cannot use --accept: "${v.accept}" is not ask, all or none`;
    }
    base.accept = v.accept as AcceptMode;
  }
  if (base.accept === "ask" && send.length) {
    return "Cannot use --accept ask with --send: nothing would be there to answer an offer";
  }
  if (typeof v.bind === "string") {
    if (!v.bind) return "Cannot use --bind: the address is empty";
    base.bind = v.bind.replace(/^\[(.*)\]$/, "$1");
  }
  if (pos[0] === "demo") {
    if (pos.length > 1) return `Unexpected argument "${pos[1]}": demo takes no arguments`;
    const sim = parseSim(typeof v.sim === "string" ? v.sim : DEMO_SIM);
    if (typeof sim === "string") return sim;
    return { ...base, mode: "demo", sim };
  }
  if (typeof v.sim === "string") {
    const sim = parseSim(v.sim);
    if (typeof sim === "string") return sim;
    base.sim = sim;
  }

  if (v.invite || v.join !== undefined) return parseDiscover(v, pos, base);
  if (v.wait !== undefined) return "Cannot use --wait without --invite or --join";
  let portText: string | undefined, peer: { host: string; port: number } | string;
  if (pos.length === 3) {
    if (v.port !== undefined || v.peer !== undefined) {
      return "Cannot mix forms: give either <local_port> <peer_host> <peer_port> or --port and --peer";
    }
    portText = pos[0];
    const port = parsePort(pos[2], "peer port");
    if (typeof port === "string") return port;
    peer = { host: pos[1].replace(/^\[(.*)\]$/, "$1"), port };
  } else if (pos.length === 0) {
    if (v.port === undefined) return "Missing local port: give --port N (see chatnet --help)";
    if (v.peer === undefined) {
      return "Missing peer address: give --peer HOST:PORT (see chatnet --help)";
    }
    portText = v.port as string;
    peer = parseHostPort(v.peer as string);
  } else {
    // "9000 10.0.0.2:9001": the peer's address as one word, the way --peer takes it.
    const joined = pos.length === 2 ? parseHostPort(pos[1]) : undefined;
    const hint = typeof joined === "object" ? `; did you mean --peer ${pos[1]}?` : "";
    return `Expected 3 arguments <local_port> <peer_host> <peer_port>, got ${pos.length}` +
      (hint || " (see chatnet --help)");
  }
  const port = parsePort(portText, "local port");
  if (typeof port === "string") return port;
  if (typeof peer === "string") return peer;
  if (!peer.host) return "Cannot parse peer address: missing host";
  if (peer.port === port && isOwnAddress(peer.host, base.bind)) {
    return `Cannot chat with yourself: the peer ${peer.host} port ${port} is this chatnet's own ` +
      "address; give the other host's address and port";
  }
  return { ...base, port, peerHost: peer.host, peerPort: peer.port };
}

/** Whether `host` names this machine for certain: loopback, or the address we bind. */
function isOwnAddress(host: string, bind: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || /^127\./.test(h) || h === "::1" || h === "0.0.0.0" || h === "::" ||
    (bind !== "" && h === bind.toLowerCase());
}

/** --invite or --join: no peer address, the passphrase is the code's (or the pair's). */
function parseDiscover(
  v: Record<string, string | boolean | undefined>,
  pos: string[],
  base: Config,
): Config | string {
  if (v.invite && v.join !== undefined) return "Cannot use --invite with --join: choose one";
  const what = v.invite ? "--invite" : "--join";
  if (pos.length || v.peer !== undefined) {
    return `Cannot use ${what} with a peer address: it finds the peer itself`;
  }
  if (base.secret.from !== "none") {
    return `Cannot use ${what} with a passphrase (CHATNET_SECRET, --secret-file, --ask-secret): ` +
      "the code is the passphrase";
  }
  let port = 0;
  if (v.port !== undefined) {
    const p = parsePort(String(v.port), "local port");
    if (typeof p === "string") return p;
    port = p;
  }
  let discover: Discover = { kind: "invite" };
  if (typeof v.join === "string") {
    const code = parseCode(v.join);
    if (typeof code === "string") return code;
    const name = v.join.trim();
    if (!code && (!name || /[\p{Cc}]/u.test(name))) {
      return "Cannot use --join: give the code --invite printed, or a paired peer's name";
    }
    discover = code ? { kind: "code", code } : { kind: "pair", name };
  }
  let waitMs = discover.kind === "invite" ? INVITE_WAIT_MS : JOIN_WAIT_MS;
  if (typeof v.wait === "string") {
    const t = Number(v.wait);
    if (!/^\d+(\.\d+)?$/.test(v.wait) || !Number.isFinite(t)) {
      return `Cannot parse --wait: "${v.wait}" is not a number of seconds`;
    }
    waitMs = t * 1000;
  }
  return { ...base, port, discover, waitMs };
}

/** "1234", "500K", "20M", "1.5G", "2T" (binary units) to bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = { "": 0, K: 1, M: 2, G: 3, T: 4 }[m[2].toUpperCase() as "" | "K" | "M" | "G" | "T"];
  return Math.floor(Number(m[1]) * 1024 ** unit);
}

export function parsePort(text: string, what: string): number | string {
  if (!/^\d+$/.test(text)) return `Cannot parse ${what}: "${text}" is not a number`;
  const n = Number(text);
  if (n < 1 || n > 65535) return `Cannot parse ${what}: ${n} is outside 1-65535`;
  return n;
}

/** "host:port", "1.2.3.4:5", "[::1]:5". */
export function parseHostPort(text: string): { host: string; port: number } | string {
  if (text.startsWith("[") && !text.includes("]")) {
    return "Cannot parse peer address: missing ] after the IPv6 address, as in [::1]:9000";
  }
  const m = /^\[([^\]]*)\]:(.*)$/.exec(text) ?? /^([^:]*):([^:]*)$/.exec(text);
  if (!m) {
    return text.includes(":") && !text.startsWith("[")
      ? "Cannot parse peer address: put an IPv6 address in brackets, as [::1]:9000"
      : "Cannot parse peer address: missing port";
  }
  const [, host, portText] = m;
  if (!host) return "Cannot parse peer address: missing host";
  if (!portText) return "Cannot parse peer address: missing port";
  const port = parsePort(portText, "peer port");
  if (typeof port === "string") return port;
  return { host, port };
}

function cleanParseError(message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `Unknown option ${unknown[1]} (see chatnet --help)`;
  const missing = /Option '(-\w, )?(--[\w-]+)[^']*' argument missing/.exec(message);
  if (missing) return `Missing value for ${missing[2]}`;
  return message.split("\n")[0].replace(/\.$/, "");
}
