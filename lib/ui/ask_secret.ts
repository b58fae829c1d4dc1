/** A hidden prompt on the terminal: nothing typed is echoed. Enter ends it; Ctrl-D gives up (an
 * empty answer); Ctrl-C interrupts (null: the run ends with 130, as Ctrl-C does elsewhere). */
export async function askHidden(prompt: string): Promise<string | null> {
  const err = new TextEncoder();
  Deno.stderr.writeSync(err.encode(prompt));
  Deno.stdin.setRaw(true);
  const chars: string[] = [];
  const decoder = new TextDecoder();
  const buf = new Uint8Array(256);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) return "";
      for (const c of decoder.decode(buf.subarray(0, n), { stream: true })) {
        if (c === "\r" || c === "\n") return chars.join("");
        if (c === "\x03") return null;
        if (c === "\x04") return "";
        if (c === "\x7f" || c === "\b") chars.pop();
        else if (c === "\x15") chars.length = 0;
        else if (c >= " ") chars.push(c);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(err.encode("\n"));
  }
}
