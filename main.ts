/** chatnet: parses the command line and wires the parts together. Nothing else lives here. */
import { type Config, parseCli } from "./lib/cli/args.ts";
import type { AcceptMode } from "./lib/files/consent.ts";
import { helpText } from "./lib/cli/options.ts";
import { buildCommit, VERSION } from "./lib/version.ts";
import { openPeer, openWeb, readSecret } from "./lib/start.ts";
import { MAX_TEXT_BYTES } from "./lib/peer.ts";
import { preparePassphrase } from "./lib/crypto/passphrase.ts";
import { leftBehind, PLAINTEXT_WARNING, statusLine } from "./lib/ui/format.ts";
import { runDemo } from "./lib/demo.ts";
import { bufferedOut, fileOut, readInput } from "./lib/ui/output.ts";
import { MAX_COMMAND_CHARS, runJson } from "./lib/ui/json.ts";
import { runPipe } from "./lib/ui/pipe.ts";
import { runSend } from "./lib/ui/send.ts";
import { runTerminal } from "./lib/ui/terminal/run.ts";
import { runHeadless } from "./lib/ui/headless.ts";
import { openInBrowser } from "./lib/ui/web/server.ts";
import { OPT_OUT_ENV, useOpenSsl } from "./lib/native/openssl_aead.ts";
import { newSecret } from "./lib/crypto/words.ts";
import { findPeer, watchPairing } from "./lib/join.ts";
import { denoEffects } from "./lib/effects.ts";
import { NATIVE_UDP_ENV, nativeUdp } from "./lib/net/udp_native.ts";

const out = bufferedOut(Deno.stdout);
const log = fileOut(Deno.stderr);

function fail(message: string): never {
  out.flush();
  log.write(`chatnet: ${message}\n`);
  Deno.exit(2);
}

async function main(): Promise<number> {
  // `deno task chat` runs in the project's folder; relative paths (downloads, /send, the state
  // directory) mean the folder the user typed the command in, which Deno names INIT_CWD.
  try {
    const typedIn = Deno.env.get("INIT_CWD");
    if (typedIn) Deno.chdir(typedIn);
  } catch { /* not allowed to read it (the compiled binary), or gone: stay where we are */ }
  let config = parseCli(Deno.args, {
    user: Deno.env.get("USER"),
    secret: Deno.env.get("CHATNET_SECRET"),
  });
  if (typeof config === "string") fail(config);
  if (config.mode === "help") return out.write(helpText() + "\n"), 0;
  if (config.mode === "version") {
    return out.write(`chatnet ${VERSION} (commit ${buildCommit()})\n`), 0;
  }
  if (config.mode === "demo") return await runDemo(config.sim!, out);
  if (config.mode === "new-secret") {
    return out.write(newSecret((n) => crypto.getRandomValues(new Uint8Array(n))) + "\n"), 0;
  }

  const typed = await readSecret(config.secret);
  if (typeof typed === "object" && typed.interrupted) return 130;
  if (typeof typed === "object") fail(typed.error);
  let secret = typed === undefined ? undefined : preparePassphrase(typed);
  if (typeof secret === "object") fail(secret.error);
  const say = (line: string) => log.write(`chatnet: ${line}\n`);
  const joined = config.discover
    ? await findPeer(config, {
      log: say,
      env: { XDG_STATE_HOME: Deno.env.get("XDG_STATE_HOME"), HOME: Deno.env.get("HOME") },
    })
    : undefined;
  if (typeof joined === "string") return say(joined), 1;
  if (joined && "usage" in joined) fail(joined.usage);
  if (joined) {
    const code = preparePassphrase(joined.secret);
    if (typeof code === "object") fail(code.error);
    [config, secret] = [joined.config, code];
  }
  // Only a passphrase seals anything.
  if (secret !== undefined) useOpenSsl(Deno.env.get(OPT_OUT_ENV));
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal() && !config.json &&
    config.send.length === 0;
  const accept = acceptMode(config, interactive);
  if (typeof accept === "object") fail(accept.error);
  const udp = nativeUdp(denoEffects.udp, Deno.env.get(NATIVE_UDP_ENV));
  const opened = await openPeer({ ...config, accept }, {
    secret,
    output: out,
    effects: typeof udp === "string" ? denoEffects : { ...denoEffects, udp },
  });
  if (typeof opened === "string") fail(opened);
  const { peer } = opened;
  if (opened.created) log.write(`chatnet: created the downloads folder ${opened.created}\n`);
  if (joined) {
    // Said through the interface (above the prompt in a terminal), not straight to stderr.
    const notice = (line: string) => peer.notice(line);
    watchPairing(peer, joined, { log: notice, exit: (code) => (out.flush(), Deno.exit(code)) });
  }
  const web = config.web ? openWeb(config, opened) : undefined;
  if (typeof web === "string") fail(web);
  if (secret === undefined && !interactive) log.write(`chatnet: warning: ${PLAINTEXT_WARNING}\n`);
  if (web) {
    if (config.webBind) {
      log.write(
        `chatnet: warning: --web-bind ${config.webBind} lets other machines reach the window; ` +
          "only the token in its URL keeps them out\n",
      );
    }
    (interactive ? out : log).write(`chatnet: web window at ${web.url}\n`);
    const refused = config.open ? openInBrowser(web.url) : undefined;
    if (refused) log.write(`chatnet: ${refused}\n`);
  }
  if (interactive) {
    return await runTerminal({
      peer,
      out,
      color: !Deno.env.get("NO_COLOR"),
      columns: () => Deno.consoleSize().columns,
      rows: () => Deno.consoleSize().rows,
      stdin: Deno.stdin,
      listDir: (dir) =>
        Array.from(Deno.readDirSync(dir), (e) => ({ name: e.name, isDirectory: e.isDirectory })),
      home: Deno.env.get("HOME"),
      onResize: (redraw) => {
        Deno.addSignalListener("SIGWINCH", redraw);
        return () => Deno.removeSignalListener("SIGWINCH", redraw);
      },
    });
  }
  Deno.addSignalListener("SIGINT", () => {
    const next = "the next time chatnet runs with this peer";
    const left = leftBehind({
      messages: peer.pending,
      files: peer.transfers,
      keeping: peer.keeping,
      next,
    });
    peer.close();
    out.flush();
    // A --send progress bar may hold the line: cleared first.
    if (left) log.write((Deno.stderr.isTerminal() ? "\r\x1b[2K" : "") + statusLine(left));
    Deno.exit(130);
  });
  const lines = {
    peer,
    input: readInput(Deno.stdin.readable, config.json ? MAX_COMMAND_CHARS : MAX_TEXT_BYTES),
    out,
    log,
    timeoutMs: config.timeoutMs,
    keep: config.keep,
    terminal: Deno.stdout.isTerminal(),
  };
  if (config.send.length) {
    const barColumns = Deno.stderr.isTerminal() ? () => Deno.consoleSize().columns : undefined;
    return await runSend({ ...lines, paths: config.send, barColumns });
  }
  if (web && !config.json) return await runHeadless(peer);
  return config.json ? await runJson(lines) : await runPipe(lines);
}

/** --accept: ask in a terminal, all otherwise (scripts keep working); ask only where something
 * can answer (a terminal, --json, the web window). */
function acceptMode(c: Config, interactive: boolean): AcceptMode | { error: string } {
  const mode = c.accept ?? (interactive ? "ask" : "all");
  if (mode === "ask" && !interactive && !c.json && !c.web) {
    return {
      error: "Cannot use --accept ask with piped input: nothing would be there to answer an " +
        "offer; use --json, --web or a terminal, or --accept all or none",
    };
  }
  return mode;
}

const code = await main();
out.flush();
Deno.exit(code);
