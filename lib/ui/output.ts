import { writeAllSync } from "../bytes.ts";

/** Where an interface writes. Passed in, so tests capture exact output. */
export interface Out {
  write(text: string): void;
}

/** Writes synchronously and completely. */
export function fileOut(file: { writeSync(p: Uint8Array): number }): Out {
  return { write: (text) => writeAllSync(file, text) };
}

/** Splits a byte stream into lines (LF or CRLF); a last line without a newline still counts. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl).replace(/\r$/, "");
      rest = rest.slice(nl + 1);
    }
  }
  if (rest) yield rest.replace(/\r$/, "");
}
