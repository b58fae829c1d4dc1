/**
 * Display width: how many terminal columns text takes. East Asian wide characters and emoji take
 * two, combining marks none, a flag or a joined emoji sequence counts once (Unicode's East Asian
 * Width and emoji properties, from the npm package string-width). Everything in lib/ui that
 * measures, cuts or wraps text for the terminal goes through here.
 */
import stringWidth from "string-width";

const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

/** Columns `text` takes on a terminal (escape sequences count as none). */
export function columns(text: string): number {
  return stringWidth(text);
}

/** The user-perceived characters of `text` (a flag, a family emoji, e + ◌́ are one each). */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** The longest start of `text` that fits in `max` columns. */
export function fitColumns(text: string, max: number): string {
  let used = 0;
  let out = "";
  for (const g of graphemes(text)) {
    const w = columns(g);
    if (used + w > max) break;
    used += w;
    out += g;
  }
  return out;
}

/** The longest end of `text` that fits in `max` columns. */
export function lastColumns(text: string, max: number): string {
  const gs = graphemes(text);
  let used = 0;
  let i = gs.length;
  while (i > 0 && used + columns(gs[i - 1]) <= max) used += columns(gs[--i]);
  return gs.slice(i).join("");
}

/**
 * Rows a line takes on a terminal `cols` wide, and the column (0-based) where its end falls. A wide
 * character that does not fit at the end of a row moves whole to the next one, as terminals do.
 */
export function layout(text: string, cols: number): { rows: number; endColumn: number } {
  const width = Math.max(1, cols);
  let rows = 1;
  let col = 0;
  for (const g of graphemes(text)) {
    const w = columns(g);
    if (col + w > width) {
      rows++;
      col = 0;
    }
    col += w;
  }
  return { rows, endColumn: col };
}

/** The part of `text` on its last row, on a terminal `cols` wide (wrapped as `layout` does). */
export function lastRow(text: string, cols: number): string {
  const width = Math.max(1, cols);
  let col = 0;
  let row = "";
  for (const g of graphemes(text)) {
    const w = columns(g);
    if (col + w > width) {
      row = "";
      col = 0;
    }
    col += w;
    row += g;
  }
  return row;
}
