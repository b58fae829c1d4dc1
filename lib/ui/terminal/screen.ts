/**
 * The interactive terminal's screen: messages with time, sender and number above a one-line editor
 * that incoming output never disturbs; your own lines go from … (pending) to ✓ (delivered) in place;
 * progress bars between the messages and the prompt. Everything is measured in display columns.
 */
import { styleText } from "node:util";
import type { ChatEvent } from "../../events.ts";
import { fileDone, folderDone, folderText } from "./file_lines.ts";
import {
  clock,
  errorLabel,
  formatBar,
  formatBytes,
  formatStats,
  PLAINTEXT_WARNING,
  visible,
} from "../format.ts";
import type { Out } from "../output.ts";
import type { ChatPeer } from "../peer_handle.ts";
import { VERSION } from "../../version.ts";
import { LineEditor } from "./editor.ts";
import { complete, type DirEntry, expandHome, splitPaths } from "./completion.ts";
import { indent, markPosition, promptLine, rowsOf, wrapWords } from "./render.ts";
import { describeOffer, TerminalOffers } from "./offers.ts";
import { fitColumns } from "../width.ts";

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
  listDir?: (dir: string) => DirEntry[];
  /** The home folder `~` stands for in /send. */
  home?: string;
  /** The wall clock for your own lines' times (tests fix it). */
  now?: () => Date;
}

type Style = Parameters<typeof styleText>[0];

const HELP = [
  "/help            this list",
  "/send PATH...    send files or folders (quote names with spaces; ~ is your home)",
  "/stats           RTT, RTO, in flight, retransmissions, drops",
  "/history [N]     show the last N messages and files of the conversation (default 20)",
  "/offers          list the offers of files waiting for your answer",
  "/accept N        accept offer N (y answers the latest offer, when it waits)",
  "/decline N       decline offer N (n answers the latest offer)",
  "/quit            leave (waits briefly for undelivered messages); also Ctrl-D",
  "//text           send a message that starts with /",
  "Keys: ←/→ Home/End move, ↑/↓ recall, Tab complete, Ctrl-U clear, Ctrl-W delete word, " +
  "Ctrl-L redraw, Ctrl-C leave now",
];

/** The commands Tab completes. */
const COMMANDS = [
  "/help",
  "/send",
  "/stats",
  "/history",
  "/offers",
  "/accept",
  "/decline",
  "/quit",
  "/exit",
];

/** A queued line that arrives this much later than it was written also shows when it arrived. */
const LATE_MS = 60_000;

export class TerminalUi {
  #o: TerminalOptions;
  /** Folders under way: files of each done in this run, by offer id. A folder's files are not
   * said one by one (2,000 files would be 4,000 lines): one line as it starts, one when done. */
  #folders = new Map<string, number>();
  #editor = new LineEditor();
  #decoder = new TextDecoder();
  /** Rows written above the prompt so far; own messages remember where they started. */
  #row = 0;
  /** Own messages still waiting for ✓: where the line starts, its text, its mark's length. */
  #own = new Map<number, { row: number; plain: string; mark: number }>();
  /** Own messages shown as typed, before their "sent" (the state directory was failing). */
  #early = new Set<number>();
  /** Progress events of transfers in progress, drawn between the messages and the prompt. */
  #bars = new Map<string, Extract<ChatEvent, { type: "progress" }>>();
  #barsDrawn = 0;
  /** Files waiting their turn to stream (file_queued, until their file_start or end), by id: one
   * line under the bars counts them, rather than a bar each standing still at 0%. */
  #queued = new Map<string, "send" | "receive">();
  /** Offers waiting for an answer (--accept ask). */
  #offers = new TerminalOffers();
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
        if (!this.#early.delete(e.id)) this.#printOwn(e.id, e.text, e.queued ? "… queued" : "…");
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
        const head = `[${clock(e.sentAt ?? e.at)}] ${visible(e.name)}@${e.from} #${e.id}: `;
        const late = e.sentAt && Date.parse(e.at) - Date.parse(e.sentAt) > LATE_MS
          ? ` (arrived ${clock(e.at)})`
          : "";
        this.print(head + indent(visible(e.text), head.length) + late, "", head.length, "cyan");
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
      case "notice":
        this.print(visible(e.message), "");
        break;
      case "moved":
        this.print(
          `● peer moved from ${e.from} to ${e.to} (proved by the passphrase); chat and files follow it`,
          "green",
        );
        break;
      case "stats":
        for (const l of formatStats(e)) {
          for (const w of wrapWords(l, this.#o.columns())) this.print(w, "dim");
        }
        break;
      case "error":
        if (e.id) this.#bars.delete(e.id);
        if (e.id) this.#queued.delete(e.id);
        {
          const label = errorLabel(e.code);
          this.print(`${label}${e.message}`, label === "error: " ? "red" : "yellow");
        }
        break;
      case "file_queued":
        this.#queued.set(e.id, e.direction);
        this.redraw();
        break;
      case "file_start": {
        this.#queued.delete(e.id);
        if (e.group) {
          if (this.#folders.has(e.group.id)) break;
          this.#folders.set(e.group.id, 0);
          const arrow = e.direction === "send" ? "↑ Sending" : "↓ Receiving";
          this.print(`${arrow} ${folderText(e.group)}`, "dim");
          break;
        }
        const what = `${e.direction === "send" ? "↑ Sending" : "↓ Receiving"} ${visible(e.name)}`;
        const resume = e.offset ? `, resuming at ${formatBytes(e.offset)}` : "";
        this.print(`${what} (${formatBytes(e.size)}${resume})`, "dim");
        break;
      }
      case "progress":
        this.#bars.set(e.id, e);
        this.redraw();
        break;
      case "file_sent":
      case "file_received":
        this.#bars.delete(e.id);
        this.#queued.delete(e.id);
        if (e.group) {
          const done = (this.#folders.get(e.group.id) ?? 0) + 1;
          this.#folders.set(e.group.id, done);
          if (done < e.group.files) break;
          this.#folders.delete(e.group.id);
          this.print(folderDone(e.type === "file_sent", { ...e, group: e.group }), "green");
          break;
        }
        this.print(fileDone(e.type === "file_sent", e), "green");
        break;
      case "history_file":
        this.print(`[${clock(e.at)}] ${fileDone(e.dir === "out", e)}`, "dim");
        break;
      case "offer":
        this.print(this.#offers.add(e), "yellow");
        break;
      case "offer_closed": {
        const line = this.#offers.close(e);
        if (line) this.print(line, e.outcome === "accepted" ? "green" : "yellow");
        break;
      }
      case "offer_waiting":
        this.print(`⋯ The peer is asked whether to accept ${describeOffer(e)}`, "dim");
        break;
    }
  }

  /** Feeds raw keyboard bytes. */
  onKeys(bytes: Uint8Array): void {
    this.#editor.feed(this.#decoder.decode(bytes, { stream: true }), (a) => {
      if (a.type === "submit") this.#submit(a.text);
      else if (a.type === "complete") this.#complete();
      else if (a.type === "clear") this.clearScreen();
      else if (!this.quit || a.how === "now") this.quit = a.how;
    });
    this.redraw();
  }

  /** Writes a line above the prompt. Wide characters wrap as the terminal wraps them. */
  print(text: string, style: Style | "" = "", headLength = 0, headStyle: Style | "" = ""): void {
    const styled = headLength && headStyle
      ? this.#style(text.slice(0, headLength), headStyle) + text.slice(headLength)
      : this.#style(text, style);
    const clear = this.#clearBars() + "\r\x1b[2K";
    this.#o.out.write(clear + styled.replaceAll("\n", "\r\n") + "\r\n");
    this.#row += rowsOf(text, this.#o.columns());
    this.#drawBottom();
  }

  /** Draws the progress bars, the prompt and the input line (scrolled so the cursor shows). */
  redraw(): void {
    this.#o.out.write(this.#clearBars());
    this.#drawBottom();
  }

  /** Ctrl-L: clears the screen and draws the bars and the prompt at the top. Lines that were on
   * screen are gone, so their marks are no longer rewritten in place. */
  clearScreen(): void {
    this.#barsDrawn = 0;
    this.#row += this.#o.rows();
    this.#o.out.write("\x1b[H\x1b[2J");
    this.#drawBottom();
  }

  /** Moves up over the bars drawn last time and clears to the end of the screen. */
  #clearBars(): string {
    const n = this.#barsDrawn;
    this.#barsDrawn = 0;
    return n ? `\r\x1b[2K\x1b[${n}A\r\x1b[J` : "";
  }

  #drawBottom(): void {
    const width = this.#o.columns() - 1;
    const bars = [...this.#bars.values()].map((e) =>
      `\r\x1b[2K${this.#style(formatBar(e, width), "cyan")}\r\n`
    );
    const waiting = queuedLine(this.#queued);
    if (waiting) bars.push(`\r\x1b[2K${this.#style(waiting.slice(0, width), "dim")}\r\n`);
    const offers = this.#offers.line();
    if (offers) bars.push(`\r\x1b[2K${this.#style(fitColumns(offers, width), "yellow")}\r\n`);
    this.#barsDrawn = bars.length;
    this.#o.out.write(bars.join(""));
    const pending = this.#o.peer.pending;
    const pendingPlain = pending ? `(${pending} pending) ` : "";
    this.#o.out.write(promptLine({
      dot: this.#o.peer.online ? this.#style("●", "green") : this.#style("○", "yellow"),
      pendingPlain,
      pendingStyled: pending ? this.#style(pendingPlain, "dim") : "",
      cells: this.#editor.cells,
      cursor: this.#editor.cursor,
      columns: this.#o.columns(),
    }));
  }

  /** Leaves the prompt line clean for the shell. */
  close(message?: string): void {
    this.#o.out.write("\r\x1b[2K" + (message ? message + "\r\n" : ""));
  }

  #submit(text: string): void {
    // While an offer waits, a line of just y or n answers the latest one.
    const yn = /^\s*(y|yes|n|no)\s*$/i.exec(text);
    const latest = this.#offers.latest();
    if (yn && latest) return this.#answer(latest.id, yn[1][0].toLowerCase() === "y");
    if (text.startsWith("/") && !text.startsWith("//")) return this.#command(text.trim());
    const body = text.startsWith("//") ? text.slice(1) : text;
    const id = this.#o.peer.send(body);
    // Shown as typed, at once: its "sent" (once the journal keeps it, which a full state disk can
    // hold up for long) only confirms it; "unsaved" while the state directory cannot be written.
    if (id !== undefined) {
      const unsaved = this.#o.peer.keeping ? "" : " unsaved";
      this.#printOwn(id, body, this.#o.peer.online ? `…${unsaved}` : `… queued${unsaved}`);
      this.#early.add(id);
    }
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
        const paths = splitPaths(text.slice(cmd.length)).map((p) => expandHome(p, this.#o.home));
        if (paths.length === 0) return this.print("Usage: /send PATH... (files or folders)", "red");
        if (!this.#o.peer.online) {
          this.print(
            `○ The peer is offline: ${paths.length === 1 ? "the file goes" : "the files go"} ` +
              "when it returns",
            "yellow",
          );
        }
        this.#o.peer.sendFiles(paths);
        break;
      }
      case "/offers":
        if (this.#offers.size === 0) this.print("No offers are waiting for an answer", "dim");
        for (const l of this.#offers.list()) this.print(l, "yellow");
        break;
      case "/accept":
      case "/decline": {
        const n = text.split(/\s+/)[1] ?? "";
        const offer = /^\d+$/.test(n) ? this.#offers.byNumber(Number(n)) : undefined;
        if (!/^\d+$/.test(n)) {
          this.print(`Usage: ${cmd} N (the offer's number; /offers lists them)`, "red");
        } else if (!offer) {
          this.print(`No offer ${n} is waiting for an answer: /offers lists them`, "red");
        } else this.#answer(offer.id, cmd === "/accept");
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

  /** Tab: completes the command or path under the cursor, or lists the choices. */
  #complete(): void {
    const done = complete(this.#editor.beforeCursor, {
      commands: COMMANDS,
      listDir: this.#o.listDir,
      home: this.#o.home,
    });
    if (done?.type === "replace") this.#editor.setBeforeCursor(done.before);
    else if (done?.type === "choices") this.print(done.choices.map(visible).join("  "), "dim");
  }

  /** Answers an offer; its offer_closed event says what came of it. */
  #answer(id: string, accept: boolean): void {
    if (!this.#o.peer.answerOffer(id, accept)) {
      this.print("That offer is no longer waiting for an answer", "red");
    }
  }

  #printOwn(id: number, text: string, mark: string): void {
    const head = `[${clock((this.#o.now?.() ?? new Date()).toISOString())}] you #${id}: `;
    const plain = head + indent(visible(text), head.length) + " " + mark;
    this.#own.set(id, { row: this.#row, plain, mark: mark.length });
    this.print(plain, "");
  }

  /** Rewrites the pending mark of an own message as ✓, if that line is still on screen. */
  #markDelivered(id: number): void {
    const own = this.#own.get(id);
    this.#own.delete(id);
    if (!own) return;
    const at = markPosition(own.plain, own.mark, this.#o.columns());
    const up = this.#row - (own.row + at.row) + this.#barsDrawn;
    if (up <= 0 || up >= this.#o.rows()) return this.redraw();
    // A mark that wrapped ("… unsa" / "ved") leaves rows below its start: cleared too.
    const below = rowsOf(own.plain, this.#o.columns()) - 1 - at.row;
    this.#o.out.write(
      `\r\x1b[2K\x1b[${up}A\r${at.before}${this.#style("✓", "green")}\x1b[K` +
        "\x1b[1B\r\x1b[2K".repeat(below) + (up > below ? `\x1b[${up - below}B\r` : "\r"),
    );
    this.redraw();
  }

  #style(text: string, style: Style | ""): string {
    return this.#o.color && style ? styleText(style, text, { validateStream: false }) : text;
  }
}

/** "⋯ waiting their turn: 296 to send, 3 to receive", or "" when none waits. */
function queuedLine(queued: Map<string, "send" | "receive">): string {
  let send = 0;
  for (const d of queued.values()) if (d === "send") send++;
  const receive = queued.size - send;
  const parts = [send ? `${send} to send` : "", receive ? `${receive} to receive` : ""];
  return queued.size ? `⋯ waiting their turn: ${parts.filter(Boolean).join(", ")}` : "";
}
