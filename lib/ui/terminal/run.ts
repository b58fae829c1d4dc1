/** Runs the interactive terminal until /quit, Ctrl-D or Ctrl-C, redrawing when the window is
 * resized. */
import { type TerminalOptions, TerminalUi } from "./screen.ts";
import { leftBehind } from "../format.ts";

export type { TerminalOptions } from "./screen.ts";

/** Runs the terminal; resolves to the exit code. `onResize` subscribes to window size changes
 * (SIGWINCH) and returns the unsubscribe. */
export async function runTerminal(
  o: TerminalOptions & { onResize?: (redraw: () => void) => () => void },
): Promise<number> {
  const ui = new TerminalUi(o);
  o.peer.on((e) => ui.onEvent(e));
  const stdin = o.stdin!;
  stdin.setRaw(true);
  const unsubscribe = o.onResize?.(() => ui.redraw());
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
    unsubscribe?.();
    stdin.setRaw(false);
  }
  const left = o.peer.pending;
  const files = o.peer.transfers;
  o.peer.close();
  const next = "when you next chat with this peer";
  ui.close(leftBehind({ messages: left, files, keeping: o.peer.keeping, next }) || "Bye.");
  // Ctrl-C is an interruption (130, as in pipe mode and the README's exit codes).
  if (ui.quit === "now") return 130;
  return left ? 1 : 0;
}
