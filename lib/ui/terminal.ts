/**
 * The interactive terminal: a one-line editor at the bottom that incoming output never disturbs,
 * messages with time, sender and number, your own going from … (pending) to ✓ (delivered).
 */
import { styleText } from "node:util";
import type { ChatEvent } from "../events.ts";
import {
  clock,
  formatBar,
  formatBytes,
  formatStats,
  PLAINTEXT_WARNING,
  visible,
} from "./format.ts";
import type { Out } from "./output.ts";
import type { ChatPeer } from "./peer_handle.ts";
import { VERSION } from "../version.ts";

export interface TerminalOptions {
  peer: ChatPeer;
  out: Out;
  color: boolean;
  columns: () => number;
  rows: () => number;
  stdin?: { setRaw(raw: boolean): void; read(p: Uint8Array): Promise<number | null> };
  /** How long /quit waits for unacknowledged messages. */
  quitWaitMs?: number;
  /** A folder's entries, for Tab completion of /send paths (none without it). */
  listDir?: (dir: string) => { name: string; isDirectory: boolean }[];
}

type Style = Parameters<typeof styleText>[0];

const HELP = [
  "/help            this list",
  "/send PATH...    send files or folders (quote names with spaces; Tab completes)",
  "/stats           RTT, RTO, in flight, retransmissions, drops",
  "/history [N]     show the last N messages of the conversation (default 20)",
  "/quit            leave (waits briefly for undelivered messages); also Ctrl-D",
  "//text           send a message that starts with /",
  "Keys: ←/→ Home/End move, ↑/↓ recall, Ctrl-U clear, Ctrl-W delete word, Ctrl-C leave now",
];

export class TerminalUi {
  #o: TerminalOptions;
  #line: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historyAt = 0;
  /** Rows written above the prompt so far; own messages remember where they started. */
  #row = 0;
  /** Own messages still waiting for ✓: where the line starts, its text, its mark's length. */
  #own = new Map<number, { row: number; plain: string; mark: number }>();
  #decoder = new TextDecoder();
  #pendingEscape = "";
  /** Progress bars of transfers in progress, drawn between the messages and the prompt. */
  #bars = new Map<string, string>();
  #barsDrawn = 0;
  quit: "" | "wait" | "now" = "";

  constructor(options: TerminalOptions) {
    this.#o = options;
  }

  onEvent(e: ChatEvent): void {
    switch (e.type) {
      case "ready":
        this.print(
          `ChatNet ${VERSION}: UDP ${e.bind}:${e.port} ↔ peer ${e.peer}` +
            (e.sim ? ` (simulating ${e.sim})` : ""),
          "dim",
        );
        if (!e.encrypted) this.print(`⚠ Warning: ${PLAINTEXT_WARNING}.`, "yellow");
        this.print("Waiting for the peer… Type /help for commands.", "dim");
        break;
      case "sent":
        this.#printOwn(e.id, e.text, e.queued ? "… queued" : "…");
        break;
      case "history": {
        const who = e.dir === "out" ? "you" : visible(e.name);
        const head = `[${clock(e.at)}] ${who} #${e.id}: `;
        const mark = e.dir === "in" ? "" : e.delivered ? "✓" : "… queued";
        const plain = head + indent(visible(e.text), head.length) + (mark && " " + mark);
        if (e.delivered === false) {
          this.#own.set(e.id, { row: this.#row, plain, mark: mark.length });
        }
        this.print(plain, "dim");
        break;
      }
      case "delivered":
        this.#markDelivered(e.id);
        break;
      case "message": {
        const head = `[${clock(e.at)}] ${visible(e.name)}@${e.from} #${e.id}: `;
        this.print(head + indent(visible(e.text), head.length), "", head.length, "cyan");
        break;
      }
      case "peer":
        this.print(
          e.state === "online"
            ? (e.restarted
              ? "● peer restarted and is back online; unacknowledged messages are sent again"
              : "● peer is online") +
              (e.fingerprint
                ? `; encrypted, fingerprint ${e.fingerprint} (compare it with the peer's)`
                : "")
            : "○ peer is offline; messages will wait for it",
          e.state === "online" ? "green" : "yellow",
        );
        break;
      case "stats":
        for (const l of formatStats(e)) this.print(l, "dim");
        break;
      case "error":
        if (e.id) this.#bars.delete(e.id);
        this.print(`error: ${e.message}`, e.code === "transfer_interrupted" ? "yellow" : "red");
        break;
      case "file_start": {
        const what = `${e.direction === "send" ? "↑ Sending" : "↓ Receiving"} ${visible(e.name)}`;
        const resume = e.offset ? `, resuming at ${formatBytes(e.offset)}` : "";
        this.print(`${what} (${formatBytes(e.size)}${resume})`, "dim");
        break;
      }
      case "progress":
        this.#bars.set(e.id, visible(formatBar(e, this.#o.columns() - 1)));
        this.redraw();
        break;
      case "file_sent":
      case "file_received":
        this.#bars.delete(e.id);
        this.print(
          e.type === "file_sent"
            ? `✓ Sent ${visible(e.name)} (${formatBytes(e.size)}); the peer verified its SHA-256`
            : `✓ Received ${visible(e.name)} → ${visible(e.path)} (${formatBytes(e.size)}, ` +
              `SHA-256 ${e.sha256.slice(0, 16)}…)`,
          "green",
        );
        break;
    }
  }

  /** Feeds raw keyboard bytes. */
  onKeys(bytes: Uint8Array): void {
    const text = this.#pendingEscape + this.#decoder.decode(bytes, { stream: true });
    this.#pendingEscape = "";
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === "\x1b") {
        const m = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(text.slice(i));
        if (!m) {
          // An escape sequence split across reads: keep it for the next call.
          if (text.length - i < 6) this.#pendingEscape = text.slice(i);
          break;
        }
        this.#escape(m[0]);
        i += m[0].length - 1;
      } else if (c === "\r" || c === "\n") {
        if (c === "\n" && text[i - 1] === "\r") continue;
        this.#submit();
      } else if (c === "\x7f" || c === "\b") {
        if (this.#cursor > 0) this.#line.splice(--this.#cursor, 1);
      } else if (c === "\t") {
        this.#complete();
      } else if (c === "\x03") {
        this.quit = "now";
      } else if (c === "\x04") {
        if (this.#line.length === 0) this.quit = "wait";
      } else if (c === "\x01") {
        this.#cursor = 0;
      } else if (c === "\x05") {
        this.#cursor = this.#line.length;
      } else if (c === "\x15") {
        this.#line.splice(0, this.#cursor);
        this.#cursor = 0;
      } else if (c === "\x17") {
        let start = this.#cursor;
        while (start > 0 && this.#line[start - 1] === " ") start--;
        while (start > 0 && this.#line[start - 1] !== " ") start--;
        this.#line.splice(start, this.#cursor - start);
        this.#cursor = start;
      } else if (c >= " ") {
        this.#line.splice(this.#cursor++, 0, c);
      }
    }
    this.redraw();
  }

  /** Writes a line above the prompt. `continuation` is the hanging indent of wrapped lines. */
  print(text: string, style: Style | "" = "", headLength = 0, headStyle: Style | "" = ""): void {
    const styled = headLength && headStyle
      ? this.#style(text.slice(0, headLength), headStyle) + text.slice(headLength)
      : this.#style(text, style);
    const clear = this.#clearBars() + "\r\x1b[2K";
    this.#o.out.write(clear + styled.replaceAll("\n", "\r\n") + "\r\n");
    this.#row += this.#rowsOf(text);
    this.#drawBottom();
  }

  /** Draws the progress bars, the prompt and the input line (scrolled so the cursor shows). */
  redraw(): void {
    this.#o.out.write(this.#clearBars());
    this.#drawBottom();
  }

  /** Moves up over the bars drawn last time and clears to the end of the screen. */
  #clearBars(): string {
    const n = this.#barsDrawn;
    this.#barsDrawn = 0;
    return n ? `\r\x1b[2K\x1b[${n}A\r\x1b[J` : "";
  }

  #drawBottom(): void {
    const bars = [...this.#bars.values()].map((b) => `\r\x1b[2K${this.#style(b, "cyan")}\r\n`);
    this.#barsDrawn = bars.length;
    this.#o.out.write(bars.join(""));
    const pending = this.#o.peer.pending;
    const dot = this.#o.peer.online ? this.#style("●", "green") : this.#style("○", "yellow");
    const promptPlain = `${pending ? `(${pending} pending) ` : ""}> `;
    const prompt = `${dot} ${pending ? this.#style(`(${pending} pending) `, "dim") : ""}> `;
    const room = Math.max(10, this.#o.columns() - promptPlain.length - 3);
    const start = Math.max(0, this.#cursor - room);
    const shown = this.#line.slice(start, start + room).join("");
    const col = 2 + promptPlain.length + (this.#cursor - start);
    this.#o.out.write(`\r\x1b[2K${prompt}${visible(shown)}\r\x1b[${col}C`);
  }

  /** Leaves the prompt line clean for the shell. */
  close(message?: string): void {
    this.#o.out.write("\r\x1b[2K" + (message ? message + "\r\n" : ""));
  }

  #submit(): void {
    const text = this.#line.join("");
    this.#line = [];
    this.#cursor = 0;
    if (!text.trim()) return;
    this.#history.push(text);
    this.#historyAt = this.#history.length;
    if (text.startsWith("/") && !text.startsWith("//")) return this.#command(text.trim());
    this.#o.peer.send(text.startsWith("//") ? text.slice(1) : text);
  }

  #command(text: string): void {
    const [cmd] = text.split(/\s+/);
    switch (cmd) {
      case "/help":
        for (const l of HELP) this.print(l, "dim");
        break;
      case "/stats":
        this.onEvent(this.#o.peer.stats());
        break;
      case "/history": {
        const n = text.split(/\s+/)[1] ?? "20";
        if (!/^\d+$/.test(n)) this.print("Usage: /history [N]", "red");
        else for (const e of this.#o.peer.history(Number(n))) this.onEvent(e);
        break;
      }
      case "/send": {
        const paths = splitPaths(text.slice(cmd.length));
        if (paths.length === 0) this.print("Usage: /send PATH... (files or folders)", "red");
        else this.#o.peer.sendFiles(paths);
        break;
      }
      case "/quit":
      case "/exit":
        this.quit = "wait";
        break;
      default:
        this.print(`Unknown command ${cmd}: type /help for the list`, "red");
    }
  }

  /** Tab after /send: completes the path under the cursor, or lists the choices. */
  #complete(): void {
    const before = this.#line.slice(0, this.#cursor).join("");
    if (!before.startsWith("/send ") || !this.#o.listDir) return;
    const token = /(?:\\.|[^\s\\])*$/.exec(before)![0];
    const typed = token.replace(/\\(.)/g, "$1");
    const slash = typed.lastIndexOf("/");
    const dir = typed.slice(0, slash + 1);
    const base = typed.slice(slash + 1);
    let entries: { name: string; isDirectory: boolean }[];
    try {
      entries = this.#o.listDir(dir || ".");
    } catch {
      return;
    }
    const matches = entries
      .filter((e) => e.name.startsWith(base) && (base.startsWith(".") || !e.name.startsWith(".")))
      .sort((a, b) => a.name < b.name ? -1 : 1);
    if (matches.length === 0) return;
    let completion: string;
    if (matches.length === 1) {
      const m = matches[0];
      completion = dir + m.name + (m.isDirectory ? "/" : " ");
    } else {
      let common = matches[0].name;
      for (const m of matches) while (!m.name.startsWith(common)) common = common.slice(0, -1);
      if (common.length === base.length) {
        const names = matches.map((m) => m.name + (m.isDirectory ? "/" : ""));
        return this.print(names.map(visible).join("  "), "dim");
      }
      completion = dir + common;
    }
    const escaped = completion.replace(/([\s\\"'])(?!$)/g, "\\$1");
    const chars = Array.from(escaped);
    const start = this.#cursor - Array.from(token).length;
    this.#line.splice(start, Array.from(token).length, ...chars);
    this.#cursor = start + chars.length;
  }

  #escape(seq: string): void {
    const key = seq.slice(-1);
    if (key === "D" && this.#cursor > 0) this.#cursor--;
    else if (key === "C" && this.#cursor < this.#line.length) this.#cursor++;
    else if (key === "H" || seq === "\x1b[1~") this.#cursor = 0;
    else if (key === "F" || seq === "\x1b[4~") this.#cursor = this.#line.length;
    else if (seq === "\x1b[3~") this.#line.splice(this.#cursor, 1);
    else if (key === "A" || key === "B") {
      const at = Math.max(
        0,
        Math.min(this.#history.length, this.#historyAt + (key === "A" ? -1 : 1)),
      );
      this.#historyAt = at;
      this.#line = Array.from(this.#history[at] ?? "");
      this.#cursor = this.#line.length;
    }
  }

  #ownLine(id: number, text: string, mark: string): string {
    const head = `[${clock(new Date().toISOString())}] you #${id}: `;
    return head + indent(visible(text), head.length) + " " + mark;
  }

  #printOwn(id: number, text: string, mark: string): void {
    const plain = this.#ownLine(id, text, mark);
    this.#own.set(id, { row: this.#row, plain, mark: mark.length });
    this.print(plain, "");
  }

  /** Rewrites the pending mark of an own message as ✓, if that line is still on screen. */
  #markDelivered(id: number): void {
    const own = this.#own.get(id);
    this.#own.delete(id);
    if (!own) return;
    const cols = this.#o.columns();
    const lines = own.plain.split("\n");
    const last = Array.from(lines[lines.length - 1]).length - own.mark;
    const markRow = own.row + lines.slice(0, -1).reduce((n, l) => n + this.#rowsOf(l), 0) +
      Math.floor(last / cols);
    const up = this.#row - markRow + this.#barsDrawn;
    if (up <= 0 || up >= this.#o.rows()) return this.redraw();
    this.#o.out.write(
      `\r\x1b[2K\x1b[${up}A\x1b[${(last % cols) + 1}G${this.#style("✓", "green")}\x1b[K` +
        `\x1b[${up}B\r`,
    );
    this.redraw();
  }

  #rowsOf(text: string): number {
    const cols = Math.max(1, this.#o.columns());
    return text.split("\n").reduce(
      (n, l) => n + Math.max(1, Math.ceil(Array.from(l).length / cols)),
      0,
    );
  }

  #style(text: string, style: Style | ""): string {
    return this.#o.color && style ? styleText(style, text, { validateStream: false }) : text;
  }
}

/** Splits `a "b c" d\ e` into paths, honouring quotes and backslash-escaped spaces. */
export function splitPaths(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"([^"]*)"|'([^']*)'|((?:\\.|\S)+)/g)) {
    out.push(m[1] ?? m[2] ?? m[3].replace(/\\(.)/g, "$1"));
  }
  return out;
}

function indent(text: string, by: number): string {
  return text.replaceAll("\n", "\n" + " ".repeat(by));
}

/** Runs the terminal until /quit, Ctrl-D or Ctrl-C; resolves to the exit code. */
export async function runTerminal(o: TerminalOptions): Promise<number> {
  const ui = new TerminalUi(o);
  o.peer.on((e) => ui.onEvent(e));
  const stdin = o.stdin!;
  stdin.setRaw(true);
  o.peer.start();
  const buf = new Uint8Array(4096);
  try {
    while (!ui.quit) {
      const n = await stdin.read(buf);
      if (n === null) {
        ui.quit = "wait";
        break;
      }
      ui.onKeys(buf.subarray(0, n));
    }
    if (ui.quit === "wait" && o.peer.pending > 0) {
      ui.print(`Waiting up to ${(o.quitWaitMs ?? 5000) / 1000} s for delivery…`, "dim");
      await o.peer.drained(o.quitWaitMs ?? 5000);
    }
  } finally {
    stdin.setRaw(false);
  }
  const left = o.peer.pending;
  o.peer.close();
  ui.close(
    left
      ? `Left with ${left} message${left === 1 ? "" : "s"} not delivered yet; ` +
        "they are kept and sent when you next chat with this peer."
      : "Bye.",
  );
  return left ? 1 : 0;
}
