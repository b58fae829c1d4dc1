/** chatnet: parses the command line and wires the parts together. Nothing else lives here. */
import { parseCli } from "./lib/cli/args.ts";
import { helpText } from "./lib/cli/options.ts";
import { buildCommit, VERSION } from "./lib/version.ts";
import { openPeer, openWeb, readSecret } from "./lib/start.ts";
import { PLAINTEXT_WARNING } from "./lib/ui/format.ts";
import { runDemo } from "./lib/demo.ts";
import { bufferedOut, fileOut, readLines } from "./lib/ui/output.ts";
import { runJson } from "./lib/ui/json.ts";
import { runPipe } from "./lib/ui/pipe.ts";
import { runSend } from "./lib/ui/send.ts";
import { runTerminal } from "./lib/ui/terminal/run.ts";
import { runHeadless } from "./lib/ui/headless.ts";
import { openInBrowser } from "./lib/ui/web/server.ts";
import { OPT_OUT_ENV, useOpenSsl } from "./lib/native/openssl_aead.ts";
import { denoEffects } from "./lib/effects.ts";

const out = bufferedOut(Deno.stdout);
const log = fileOut(Deno.stderr);

function fail(message: string): never {
  out.flush();
  log.write(`chatnet: ${message}\n`);
  Deno.exit(2);
}

async function main(): Promise<number> {
  const config = parseCli(Deno.args, {
    user: Deno.env.get("USER"),
    secret: Deno.env.get("CHATNET_SECRET"),
  });
  if (typeof config === "string") fail(config);
  if (config.mode === "help") return out.write(helpText() + "\n"), 0;
  if (config.mode === "version") {
    return out.write(`chatnet ${VERSION} (commit ${buildCommit()})\n`), 0;
  }
  if (config.mode === "demo") return await runDemo(config.sim!, out);

  const secret = await readSecret(config.secret);
  if (typeof secret === "object") fail(secret.error);
  // Only a passphrase seals anything.
  if (secret !== undefined) useOpenSsl(Deno.env.get(OPT_OUT_ENV));
  const opened = await openPeer(config, { secret, output: out, effects: denoEffects });
  if (typeof opened === "string") fail(opened);
  const { peer } = opened;
  const web = config.web ? openWeb(config, opened) : undefined;
  if (typeof web === "string") fail(web);
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal() && !config.json &&
    config.send.length === 0;
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
    peer.close();
    out.flush();
    Deno.exit(130);
  });
  const lines = {
    peer,
    input: readLines(Deno.stdin.readable),
    out,
    log,
    timeoutMs: config.timeoutMs,
  };
  if (config.send.length) return await runSend({ ...lines, paths: config.send });
  if (web && !config.json) return await runHeadless(peer);
  return config.json ? await runJson(lines) : await runPipe(lines);
}

const code = await main();
out.flush();
Deno.exit(code);
