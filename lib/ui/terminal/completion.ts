/**
 * Tab completion, pure: the text before the cursor in, the completed text or the choices out.
 * Completes command names (`/he` → `/help `) and, after `/send`, paths, `~` and `~/…` included.
 */

/** A folder entry, as the screen's `listDir` returns it. */
export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

export interface CompletionContext {
  commands: readonly string[];
  /** A folder's entries; throws when it cannot be read. */
  listDir?: (dir: string) => DirEntry[];
  /** The home folder `~` stands for. */
  home?: string;
}

export type Completion =
  | { type: "replace"; before: string }
  | { type: "choices"; choices: string[] }
  | undefined;

export function complete(before: string, ctx: CompletionContext): Completion {
  if (/^\/\S*$/.test(before) && !before.startsWith("//")) return completeCommand(before, ctx);
  if (!before.startsWith("/send ") || !ctx.listDir) return undefined;
  return completePath(before, ctx);
}

function completeCommand(typed: string, ctx: CompletionContext): Completion {
  const matches = ctx.commands.filter((c) => c.startsWith(typed));
  if (matches.length === 1) return { type: "replace", before: matches[0] + " " };
  if (matches.length === 0) return undefined;
  const common = commonPrefix(matches);
  if (common.length > typed.length) return { type: "replace", before: common };
  return { type: "choices", choices: matches };
}

function completePath(before: string, ctx: CompletionContext): Completion {
  const token = /(?:\\.|[^\s\\])*$/.exec(before)![0];
  const typed = token.replace(/\\(.)/g, "$1");
  if (typed === "~") return { type: "replace", before: before.slice(0, -1) + "~/" };
  const slash = typed.lastIndexOf("/");
  const dir = typed.slice(0, slash + 1);
  const base = typed.slice(slash + 1);
  let entries: DirEntry[];
  try {
    entries = ctx.listDir!(expandHome(dir, ctx.home) || ".");
  } catch {
    return undefined;
  }
  const matches = entries
    .filter((e) => e.name.startsWith(base) && (base.startsWith(".") || !e.name.startsWith(".")))
    .sort((a, b) => a.name < b.name ? -1 : 1);
  if (matches.length === 0) return undefined;
  let completion: string;
  if (matches.length === 1) {
    const m = matches[0];
    completion = dir + m.name + (m.isDirectory ? "/" : " ");
  } else {
    const common = commonPrefix(matches.map((m) => m.name));
    if (common.length === base.length) {
      return {
        type: "choices",
        choices: matches.map((m) => m.name + (m.isDirectory ? "/" : "")),
      };
    }
    completion = dir + common;
  }
  const escaped = completion.replace(/([\s\\"'])(?!$)/g, "\\$1");
  return { type: "replace", before: before.slice(0, before.length - token.length) + escaped };
}

function commonPrefix(names: string[]): string {
  let common = names[0];
  for (const n of names) while (!n.startsWith(common)) common = common.slice(0, -1);
  return common;
}

/** `~` and `~/…` name the home folder, as in a shell; other paths are left alone. */
export function expandHome(path: string, home: string | undefined): string {
  if (!home || (path !== "~" && !path.startsWith("~/"))) return path;
  return home + path.slice(1);
}

/** Splits `a "b c" d\ e` into paths, honouring quotes and backslash-escaped spaces. */
export function splitPaths(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"([^"]*)"|'([^']*)'|((?:\\.|\S)+)/g)) {
    out.push(m[1] ?? m[2] ?? m[3].replace(/\\(.)/g, "$1"));
  }
  return out;
}
