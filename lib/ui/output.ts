import { writeAllSync } from "../bytes.ts";
import { turns } from "../net/turns.ts";

/** Where an interface writes. Passed in, so tests capture exact output. */
export interface Out {
  write(text: string): void;
}

/** Writes synchronously and completely. */
export function fileOut(file: { writeSync(p: Uint8Array): number }): Out {
  return { write: (text) => writeAllSync(file, text) };
}

/** Text held before a buffered write goes out regardless. */
const BUFFER_LIMIT = 64 * 1024;

/** Writes the first text of a task at once and gathers the rest of that task's into one write
 * (in a microtask, or sooner past BUFFER_LIMIT): a datagram that delivers 30 messages costs two
 * writes, not 30, and a lone message is not held back (deferring every write to a microtask made
 * the median message here 0.3 ms later). `hold()` gathers the first one too, until `flush()`.
 * Call `flush()` before exiting. */
export function bufferedOut(
  file: { writeSync(p: Uint8Array): number },
): Out & { hold(): void; flush(): void } {
  let pending = "", busy = false;
  const flush = () => {
    if (!pending) return;
    const text = pending;
    pending = "";
    writeAllSync(file, text);
  };
  const gather = () => {
    if (busy) return;
    busy = true;
    queueMicrotask(() => {
      flush();
      busy = false;
    });
  };
  return {
    write(text) {
      if (!busy) {
        gather();
        return writeAllSync(file, text);
      }
      pending += text;
      if (pending.length > BUFFER_LIMIT) flush();
    },
    hold: gather,
    flush,
  };
}

/** Lines are handed out back to back, but at least every YIELD_MS of the consumer's work the
 * event loop gets a turn (lib/net/turns.ts): a paste of 20,000 lines must not leave the socket unread
 * and the retransmission timers late for the whole time it takes to queue them. */
const YIELD_MS = 4;

/** A line too long to be anything we accept: skipped as it streamed, never held whole. */
export interface Overlong {
  overlong: number;
}

/** Splits a byte stream into lines (LF or CRLF); a last line without a newline still counts. */
export function readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  return readInput(stream, Infinity) as AsyncGenerator<string>;
}

/** As readLines, but a line longer than `maxChars` is skipped as it streams (a flood of garbage
 * lines keeps memory at one limit's worth) and stands as an Overlong with its length. */
export async function* readInput(
  stream: ReadableStream<Uint8Array>,
  maxChars: number,
): AsyncGenerator<string | Overlong> {
  const turn = turns(YIELD_MS);
  let rest = "";
  /** While a line over the limit is being skipped: its length so far (0 otherwise). */
  let skipped = 0;
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    turn.reset();
    let text = chunk;
    for (let nl; (nl = text.indexOf("\n")) >= 0;) {
      const length = (skipped || rest.length) + nl;
      if (skipped || length > maxChars) yield { overlong: length };
      else yield (rest + text.slice(0, nl)).replace(/\r$/, "");
      rest = "";
      skipped = 0;
      text = text.slice(nl + 1);
      await turn.take();
    }
    if (skipped) skipped += text.length;
    else if (rest.length + text.length > maxChars) {
      [skipped, rest] = [rest.length + text.length, ""];
    } else rest += text;
  }
  if (skipped) yield { overlong: skipped };
  else if (rest) yield rest.replace(/\r$/, "");
}
