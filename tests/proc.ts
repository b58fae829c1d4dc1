/** Runs `chatnet` (main.ts) as a real child process and collects what it prints. */
import { readLines } from "../lib/ui/output.ts";
import { ALLOW_FFI, OPT_OUT_ENV } from "../lib/native/openssl_aead.ts";

export const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** The permissions chatnet needs (as in deno.json's tasks): never -A. */
export const PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys=statfs,networkInterfaces",
  ALLOW_FFI,
];

// deno-lint-ignore no-explicit-any
export type Json = any;

const stateHomes: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const d of stateHomes) {
    try {
      Deno.removeSync(d, { recursive: true });
    } catch { /* gone already */ }
  }
});

/** A fresh $XDG_STATE_HOME, removed when the tests end: each process starts with no journal or
 * history unless a test hands the same one to a restarted process. */
export function tempStateHome(): string {
  const d = Deno.makeTempDirSync({ prefix: "chatnet-state-" });
  stateHomes.push(d);
  return d;
}

export class ChatProc {
  child: Deno.ChildProcess;
  lines: string[] = [];
  /** performance.now() when each line arrived. */
  arrivedAt: number[] = [];
  stderr = "";
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #done: Promise<void>;
  #waiters: (() => void)[] = [];

  /** `prefix` runs it through another command (["ip", "netns", "exec", "ns1"]); `script` runs
   * another Deno program than chatnet with the same harness. */
  constructor(
    args: string[],
    options: {
      prefix?: string[];
      script?: string;
      stateHome?: string;
      env?: Record<string, string>;
    } = {},
  ) {
    const prefix = options.prefix ?? [];
    const script = options.script ?? MAIN;
    const argv = [...prefix.slice(1), Deno.execPath(), "run", ...PERMISSIONS, script, ...args];
    const child = this.child = new Deno.Command(prefix[0] ?? argv.shift()!, {
      args: argv,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: {
        NO_COLOR: "1",
        XDG_STATE_HOME: options.stateHome ?? tempStateHome(),
        ...options.env,
      },
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    const out = (async () => {
      for await (const line of readLines(child.stdout)) {
        this.lines.push(line);
        this.arrivedAt.push(performance.now());
        this.#waiters.splice(0).forEach((w) => w());
      }
    })();
    const err = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
      }
    })();
    this.#done = Promise.all([out, err]).then(() => {});
  }

  #parsed: Json[] = [];
  #byType = new Map<string, Json[]>();

  /** Parsed JSON events printed so far (in --json mode); each line is parsed once. */
  get events(): Json[] {
    for (let i = this.#parsed.length; i < this.lines.length; i++) {
      const e = JSON.parse(this.lines[i]);
      this.#parsed.push(e);
      const list = this.#byType.get(e.type) ?? [];
      list.push(e);
      this.#byType.set(e.type, list);
    }
    return this.#parsed;
  }

  /** The events of one type so far, kept by type as they arrive, so a wait for thousands of
   * messages does not scan every event at every line. */
  of(type: string): readonly Json[] {
    this.events;
    return this.#byType.get(type) ?? [];
  }

  /** When the first event of `type` matching `pred` arrived. */
  timeOf(type: string, pred: (e: Json) => boolean = () => true): number {
    const i = this.events.findIndex((e) => e.type === type && pred(e));
    return i < 0 ? NaN : this.arrivedAt[i];
  }

  async write(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  async command(c: Json): Promise<void> {
    await this.write(JSON.stringify(c) + "\n");
  }

  async closeStdin(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  /** The URL of its --web window, once it has said it. */
  async webUrl(): Promise<string> {
    await this.until(() => /web window at http/.test(this.stderr), "the web window's URL");
    return /web window at (\S+)/.exec(this.stderr)![1];
  }

  /** Waits until `cond()` holds, failing with `what` after `ms`. */
  async until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) {
        throw new Error(`Timed out waiting for ${what}; stderr: ${this.stderr}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async exit(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await this.#done;
    return status;
  }

  /** Resident memory of the process now and at its peak, in bytes (from /proc, read with `cat`:
   * Deno reads /proc/PID only with --allow-all). */
  async memory(): Promise<{ rss: number; peak: number }> {
    const out = await new Deno.Command("cat", { args: [`/proc/${this.child.pid}/status`] })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    const kb = (field: string) =>
      Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN) * 1024;
    return { rss: kb("VmRSS"), peak: kb("VmHWM") };
  }

  cpuMs(): Promise<number> {
    return processCpuMs(this.child.pid);
  }

  kill(): void {
    try {
      this.child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

/** CPU time of a whole process (every thread, user and kernel) so far, in ms, from
 * /proc/PID/stat (read with `cat`: Deno reads /proc/PID only with --allow-all); clock ticks of
 * 10 ms. */
export async function processCpuMs(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`] }).output();
  const fields = new TextDecoder().decode(out.stdout).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Runs chatnet to completion with no input; returns exit code, stdout and stderr. */
export async function runOnce(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    stdin: "null",
    env: { NO_COLOR: "1", XDG_STATE_HOME: tempStateHome() },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

export interface JsonPeer {
  name: string;
  port: number;
  /** The UDP port its peer (or a relay) listens on, on 127.0.0.1. */
  peer: number;
  /** More options (--sim, --downloads, ...). */
  args?: string[];
  /** Kept across a restart, so the journal carries over; fresh when absent. */
  stateHome?: string;
  /** Given as CHATNET_SECRET. */
  secret?: string;
  /** Seal with node:crypto rather than OpenSSL (CHATNET_OPENSSL=0). */
  nodeCipher?: boolean;
}

/** One chatnet in --json mode on loopback: the end-to-end tests' usual process. */
export function jsonPeer(o: JsonPeer): ChatProc {
  return new ChatProc([
    ...["--json", "--name", o.name, "-p", String(o.port), "--peer", `127.0.0.1:${o.peer}`],
    ...(o.args ?? []),
  ], {
    stateHome: o.stateHome,
    env: {
      ...(o.secret === undefined ? {} : { CHATNET_SECRET: o.secret }),
      ...(o.nodeCipher ? { [OPT_OUT_ENV]: "0" } : {}),
    },
  });
}

/** Whether `needle` occurs anywhere in `hay`, byte for byte. */
export function containsBytes(hay: Uint8Array, needle: string | Uint8Array): boolean {
  const n = typeof needle === "string" ? new TextEncoder().encode(needle) : needle;
  outer: for (let i = 0; i + n.length <= hay.length; i++) {
    for (let j = 0; j < n.length; j++) if (hay[i + j] !== n[j]) continue outer;
    return true;
  }
  return false;
}

/** Whether script(1) is here to give a test a pty (util-linux; the terminal tests skip without). */
export async function hasScript(): Promise<boolean> {
  try {
    return (await new Deno.Command("script", { args: ["--version"] }).output()).success;
  } catch {
    return false;
  }
}

/** What `source` (a module) prints when run with no permissions at all (no --allow-ffi): how a
 * native library's loader is seen to fall back. */
export async function printedWithoutPermissions(source: string): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", file],
      stdin: "null",
    }).output();
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(file);
  }
}
