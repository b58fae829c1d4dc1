/** Where an interface writes. Passed in, so tests capture exact output. */
export interface Out {
  write(text: string): void;
}

const encoder = new TextEncoder();

/** Writes synchronously and completely (writeSync may take only part of a buffer). */
export function fileOut(file: { writeSync(p: Uint8Array): number }): Out {
  return {
    write(text) {
      let bytes = encoder.encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
    },
  };
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
