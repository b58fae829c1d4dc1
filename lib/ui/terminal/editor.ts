/**
 * The line editor, pure: keys in, line state and actions out. It holds the typed line as grapheme
 * clusters (so a flag or an accented letter is one cursor step), the cursor and the recall history.
 */
import { graphemes } from "../width.ts";

/** What a key asks of the screen beyond editing the line. */
export type EditorAction =
  | { type: "submit"; text: string }
  | { type: "complete" }
  | { type: "clear" }
  | { type: "quit"; how: "wait" | "now" };

/** Longest escape sequence kept across reads when it arrives cut in two. */
const MAX_SPLIT_ESCAPE = 6;

export class LineEditor {
  #line: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historyAt = 0;
  #pendingEscape = "";

  /** The typed line. */
  get text(): string {
    return this.#line.join("");
  }

  /** The typed line before the cursor. */
  get beforeCursor(): string {
    return this.#line.slice(0, this.#cursor).join("");
  }

  /** The cursor, in graphemes from the start of the line. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The line as graphemes. */
  get cells(): readonly string[] {
    return this.#line;
  }

  /** Replaces the text before the cursor with `before` (what completion does). */
  setBeforeCursor(before: string): void {
    const rest = this.#line.slice(this.#cursor);
    this.#line = [...graphemes(before), ...rest];
    this.#cursor = this.#line.length - rest.length;
  }

  /** Feeds decoded keyboard text; `act` is told what the screen must do, as each key comes (a
   * completion is applied before the keys after the Tab). */
  feed(input: string, act: (a: EditorAction) => void): void {
    const text = this.#pendingEscape + input;
    this.#pendingEscape = "";
    const chars = Array.from(text);
    let typed = "";
    const flushTyped = () => {
      if (!typed) return;
      // A combining mark typed on its own joins the character before it.
      const joinPrevious = this.#cursor > 0 ? 1 : 0;
      const gs = graphemes((joinPrevious ? this.#line[this.#cursor - 1] : "") + typed);
      this.#line.splice(this.#cursor - joinPrevious, joinPrevious, ...gs);
      this.#cursor += gs.length - joinPrevious;
      typed = "";
    };
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i];
      if (c >= " " && c !== "\x7f") {
        typed += c;
        continue;
      }
      flushTyped();
      if (c === "\x1b") {
        const rest = chars.slice(i).join("");
        const m = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(rest);
        if (!m) {
          // An escape sequence split across reads: keep it for the next call.
          if (rest.length < MAX_SPLIT_ESCAPE) this.#pendingEscape = rest;
          break;
        }
        this.#escape(m[0]);
        i += m[0].length - 1;
      } else if (c === "\r" || c === "\n") {
        if (c === "\n" && chars[i - 1] === "\r") continue;
        const submitted = this.#submit();
        if (submitted !== undefined) act({ type: "submit", text: submitted });
      } else if (c === "\x7f" || c === "\b") {
        if (this.#cursor > 0) this.#line.splice(--this.#cursor, 1);
      } else if (c === "\t") {
        act({ type: "complete" });
      } else if (c === "\x0c") {
        act({ type: "clear" });
      } else if (c === "\x03") {
        act({ type: "quit", how: "now" });
      } else if (c === "\x04") {
        if (this.#line.length === 0) act({ type: "quit", how: "wait" });
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
      }
    }
    flushTyped();
  }

  #submit(): string | undefined {
    const text = this.#line.join("");
    this.#line = [];
    this.#cursor = 0;
    if (!text.trim()) return undefined;
    this.#history.push(text);
    this.#historyAt = this.#history.length;
    return text;
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
      this.#line = graphemes(this.#history[at] ?? "");
      this.#cursor = this.#line.length;
    }
  }
}
