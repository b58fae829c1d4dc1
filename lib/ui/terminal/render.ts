/**
 * Rendering, pure: what the bottom of the screen and the lines above it look like, measured in
 * display columns (lib/ui/width.ts), for a terminal of a given width.
 */
import { visible } from "../format.ts";
import { columns, fitColumns, graphemes, lastRow, layout } from "../width.ts";

/** Columns always left free after the input line, so the cursor never sits in the last column. */
const PROMPT_SPARE = 1;
/** The fewest columns the input line shows, however narrow the terminal. */
const MIN_INPUT_COLUMNS = 10;

export interface PromptParts {
  /** The ● or ○, styled; it takes one column. */
  dot: string;
  /** Pending count as plain text ("" when none) and styled. */
  pendingPlain: string;
  pendingStyled: string;
  cells: readonly string[];
  cursor: number;
  columns: number;
}

/** The prompt and input line, scrolled so the cursor shows, and the move back to the cursor. */
export function promptLine(p: PromptParts): string {
  const promptWidth = 2 + columns(p.pendingPlain) + 2;
  const room = Math.max(MIN_INPUT_COLUMNS, p.columns - promptWidth - PROMPT_SPARE);
  // Scroll: the first cell shown is the one that leaves the cursor inside the room.
  let start = 0;
  let toCursor = widthOf(p.cells, 0, p.cursor);
  while (toCursor > room && start < p.cursor) toCursor -= columns(p.cells[start++]);
  const shown = fitColumns(visible(p.cells.slice(start).join("")), room);
  const col = promptWidth + widthOf(p.cells, start, p.cursor);
  return `\r\x1b[2K${p.dot} ${p.pendingStyled}> ${shown}\r\x1b[${col}C`;
}

function widthOf(cells: readonly string[], from: number, to: number): number {
  let w = 0;
  for (let i = from; i < to; i++) w += columns(visible(cells[i]));
  return w;
}

/** Rows `text` takes (each `\n` starts a row). */
export function rowsOf(text: string, cols: number): number {
  return text.split("\n").reduce((n, l) => n + layout(l, cols).rows, 0);
}

/** Where the mark at the end of `plain` (its last `markLength` characters) starts: rows below the
 * line's first row, and what that row holds before the mark. The ✓ rewrites that whole row rather
 * than jumping to a column, so a terminal that draws an emoji sequence wider than Unicode says
 * (a skin tone as two glyphs) still shows the text whole, the ✓ after it. */
export function markPosition(
  plain: string,
  markLength: number,
  cols: number,
): { row: number; before: string } {
  const lines = plain.split("\n");
  const last = lines[lines.length - 1];
  const before = last.slice(0, last.length - markLength);
  const first = graphemes(last.slice(before.length))[0] ?? " ";
  const at = layout(before + first, cols);
  const above = lines.slice(0, -1).reduce((n, l) => n + layout(l, cols).rows, 0);
  const row = lastRow(before + first, cols);
  return { row: above + at.rows - 1, before: row.slice(0, row.length - first.length) };
}

/** Breaks `text` into lines of at most `cols` columns at spaces; a longer word is cut. */
export function wrapWords(text: string, cols: number): string[] {
  const width = Math.max(1, cols);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const candidate = line ? `${line} ${word}` : word;
    if (columns(candidate) <= width) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    let rest = word;
    while (columns(rest) > width) {
      const piece = fitColumns(rest, width);
      lines.push(piece);
      rest = rest.slice(piece.length);
    }
    line = rest;
  }
  lines.push(line);
  return lines;
}

/** Indents every line after the first by `by` columns (a message's hanging indent). */
export function indent(text: string, by: number): string {
  return text.replaceAll("\n", "\n" + " ".repeat(by));
}
