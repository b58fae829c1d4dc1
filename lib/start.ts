/** From a parsed Config to a bound Peer, with every failure worded as one line. */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { BindError, type HeldOutput, Peer } from "./peer.ts";
import type { Config } from "./cli/args.ts";
import { formatAddress } from "./events.ts";
import { Journal } from "./store/journal.ts";
import { claimStateFor } from "./store/state_peer.ts";
import { History } from "./store/history.ts";
import { defaultStateDir } from "./store/state_dir.ts";
import { describeFsError, type Fs, fsError } from "./store/fs.ts";
import { askHidden } from "./ui/ask_secret.ts";
import { serveWeb, type WebServer } from "./ui/web/server.ts";
import { join } from "node:path";
import { denoEffects, type Effects } from "./effects.ts";

/** Resolves a host name or literal to an IP address, or says why it cannot. */
export async function resolveHost(host: string): Promise<string | { error: string }> {
  if (isIP(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOTFOUND" ? "no such host" : (e as Error).message;
    return { error: `Cannot resolve peer host "${host}": ${why}` };
  }
}

/** The passphrase from the environment, a file or a hidden prompt; undefined for none. */
export async function readSecret(
  s: Config["secret"],
): Promise<string | undefined | { error: string; interrupted?: true }> {
  switch (s.from) {
    case "none":
      return undefined;
    case "env":
      return s.value;
    case "ask": {
      if (!Deno.stdin.isTerminal()) {
        return { error: "Cannot use --ask-secret: standard input is not a terminal" };
      }
      const secret = await askHidden("Passphrase (both sides type the same): ");
      if (secret === null) return { error: "", interrupted: true };
      return secret ? secret : { error: "Cannot use --ask-secret: no passphrase was typed" };
    }
    case "file": {
      let text: string;
      try {
        text = await Deno.readTextFile(s.path);
      } catch (e) {
        const why = e instanceof Deno.errors.NotFound
          ? "no such file"
          : e instanceof Deno.errors.PermissionDenied
          ? "permission denied"
          : (e as Error).message;
        return { error: `Cannot read --secret-file ${s.path}: ${why}` };
      }
      // The first line is the passphrase (an editor's trailing newline is not part of it).
      const secret = text.split(/\r?\n/)[0];
      if (!text) return { error: `Cannot use --secret-file ${s.path}: the file is empty` };
      if (!secret) return { error: `Cannot use --secret-file ${s.path}: its first line is empty` };
      return secret;
    }
  }
}

export async function openPeer(
  c: Config,
  { secret, output, effects = denoEffects }: {
    secret?: string;
    output?: HeldOutput;
    /** Time, sockets and files: main.ts passes Deno's. */
    effects?: Effects;
  },
): Promise<{ peer: Peer; stateDir: string; created?: string } | string> {
  const ip = await resolveHost(c.peerHost);
  if (typeof ip !== "string") return ip.error;
  // Deno binds to 127.0.0.1 unless told otherwise; a chat peer must listen on all interfaces.
  const bind = c.bind || (isIP(ip) === 6 ? "::" : "0.0.0.0");
  if (c.bind && !isIP(bind)) return `Cannot use --bind: "${c.bind}" is not an IP address`;
  const downloads = await openDownloads(c.downloads, effects.fs);
  if (typeof downloads === "object") return downloads.error;
  const state = await openState(c, effects, ip);
  if ("error" in state) return state.error;
  try {
    const peer = new Peer({
      ...state,
      stateDir: state.dir,
      secret,
      output,
      bind,
      port: c.port,
      peerIp: ip,
      peerPort: c.peerPort,
      name: c.name,
      sim: c.sim,
      filePort: c.filePort || c.port,
      downloads: c.downloads,
      maxFileSize: c.maxFileSize,
      files: c.files,
      accept: c.accept,
      effects,
    });
    return { peer, stateDir: state.dir, created: downloads };
  } catch (e) {
    state.journal.close();
    state.history?.close();
    if (!(e instanceof BindError)) throw e;
    return bindError(e.cause, { protocol: e.protocol, bind, port: e.port });
  }
}

/** The downloads folder must be a folder we can write, checked at start rather than when the
 * first file arrives (when only the peer would hear of it). A missing one is made; returns its
 * name then, so that the user is told. */
export async function openDownloads(
  dir: string,
  fs: Fs,
): Promise<string | undefined | { error: string; interrupted?: true }> {
  const cannot = (why: string) => ({ error: `Cannot use --downloads ${dir}: ${why}` });
  let created: string | undefined;
  try {
    const info = await fs.stat(dir).catch(async (e) => {
      if (fsError(e) !== "not_found") throw e;
      await fs.mkdir(dir, { recursive: true });
      created = dir;
      return await fs.stat(dir);
    });
    if (!info.isDirectory) return cannot("it is a file, not a folder");
    // Writable: a probe file made and removed (permissions alone miss read-only mounts).
    const probe = join(dir, `.chatnet-write-check-${crypto.randomUUID().slice(0, 8)}`);
    (await fs.open(probe, { write: true, createNew: true })).close();
    await fs.remove(probe);
  } catch (e) {
    return cannot(describeFsError(e));
  }
  return created;
}

/** The journal and history in the state directory, created (private to the user) if needed,
 * and locked: a second chatnet on the same directory would rewrite the journal under the first. */
async function openState(
  c: Config,
  { fs }: Effects,
  ip: string,
): Promise<
  { journal: Journal; history?: History; notices: string[]; dir: string } | { error: string }
> {
  const dir = c.stateDir ||
    defaultStateDir({ XDG_STATE_HOME: env("XDG_STATE_HOME"), HOME: env("HOME") }, c);
  if (typeof dir !== "string") return dir;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const link = linkInside(dir);
    if (link) return { error: `Cannot use state directory ${dir}: ${link}` };
    // Held until the process exits. Deno's lock only waits, so give up after a moment.
    const lock = await Deno.open(join(dir, "lock"), { write: true, create: true, mode: 0o600 });
    const unsafe = sharedDir(dir, lock.statSync().uid);
    if (unsafe) {
      lock.close();
      return { error: `Cannot use state directory ${dir}: ${unsafe}` };
    }
    const opened = privateFiles(dir);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const locked = await Promise.race([
      lock.lock(true).then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), LOCK_WAIT_MS)),
    ]);
    clearTimeout(timer);
    if (!locked) return { error: `Cannot use state directory ${dir}: another chatnet is using it` };
    // A full disk takes the lock and an existing journal without a write: ask before the chat.
    const free = await fs.freeSpace(dir).catch(() => Infinity);
    if (free < MIN_FREE_BYTES) {
      return { error: `Cannot use state directory ${dir}: the disk is full` };
    }
    const { journal, notices } = Journal.open(dir, fs);
    if (opened) notices.push(opened);
    // A pair's directory is its own (lib/join.ts), whatever address discovery finds.
    const taken = c.discover ? undefined : claimStateFor({
      dir,
      peer: formatAddress(ip, c.peerPort),
      waiting: { messages: journal.pending().length, files: journal.files().length },
      fs,
    });
    if (taken) {
      journal.close();
      return { error: taken };
    }
    return { journal, notices, history: c.history ? new History(dir, fs) : undefined, dir };
  } catch (e) {
    const why = fsError(e) === "exists" ? "it is a file, not a folder" : describeFsError(e);
    return { error: `Cannot use state directory ${dir}: ${why}` };
  }
}

/** A symbolic link among the state files would have chatnet write wherever it points (another
 * user's planted `history.jsonl` → ~/.bashrc): refused, never followed. */
function linkInside(dir: string): string | undefined {
  for (const e of Deno.readDirSync(dir)) {
    if (e.isSymlink) return `it holds a symbolic link, ${e.name}: remove it (chatnet follows none)`;
  }
  return undefined;
}

/** The folder must be ours (`uid`: of the lock file just made, so no extra permission is needed to
 * know who we are) and writable by us alone, or another user could swap its files; one that
 * others may only read is made ours alone (chmod 700). */
function sharedDir(dir: string, uid: number | null): string | undefined {
  const info = Deno.statSync(dir);
  if (uid !== null && info.uid !== null && info.uid !== uid) {
    return `it belongs to another user (uid ${info.uid}); use a folder of your own`;
  }
  const mode = info.mode ?? 0;
  if (mode & 0o022) {
    return `other users may write to it (mode ${(mode & 0o777).toString(8)}): chmod 700 ${dir}`;
  }
  if (mode & 0o077) Deno.chmodSync(dir, mode & 0o700);
  return undefined;
}

/** A state directory made by hand (mkdir, umask 022) or by an older release may let other users
 * read the conversation: its files are made the user's alone, and that is said. */
function privateFiles(dir: string): string | undefined {
  const opened: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    const mode = e.isFile ? Deno.statSync(path).mode : null;
    if (mode === null || (mode & 0o077) === 0) continue;
    Deno.chmodSync(path, mode & 0o700);
    opened.push(e.name);
  }
  if (!opened.length) return undefined;
  return `Made ${opened.join(", ")} in ${dir} readable by you alone (other users could read ` +
    `${opened.length === 1 ? "it" : "them"})`;
}

/** Below this much free space (one block) nothing more can be appended to the journal. */
const MIN_FREE_BYTES = 4096;

/** How long to wait for the state directory's lock (a live owner holds it indefinitely). */
const LOCK_WAIT_MS = 300;

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** Serves the web window, or says in one line why it cannot. */
export function openWeb(
  c: Config,
  o: { peer: Peer; stateDir: string },
): WebServer | string {
  const hostname = c.webBind || "127.0.0.1";
  try {
    return serveWeb({
      peer: o.peer,
      hostname,
      port: c.webPort,
      downloads: c.downloads,
      uploads: join(o.stateDir, "uploads"),
    });
  } catch (e) {
    return bindError(e, { protocol: "TCP", bind: hostname, port: c.webPort }) + " (--web)";
  }
}

export function bindError(
  e: unknown,
  { protocol, bind, port }: { protocol: string; bind: string; port: number },
): string {
  const where = `Cannot listen on ${protocol} ${bind.includes(":") ? `[${bind}]` : bind}:${port}`;
  if (e instanceof Deno.errors.AddrInUse) return `${where}: port already in use`;
  if (e instanceof Deno.errors.PermissionDenied) {
    return `${where}: permission denied${port < 1024 ? " (ports below 1024 need root)" : ""}`;
  }
  if (e instanceof Deno.errors.AddrNotAvailable) return `${where}: no such address on this host`;
  return `${where}: ${(e as Error).message}`;
}
