/**
 * The local web window: one page (lib/ui/web/page.ts, embedded in the binary) and one WebSocket
 * carrying the same events and commands as the `--json` contract. Files picked in the browser are
 * uploaded into the state directory and then offered like any other path; received files can be
 * opened from the downloads folder.
 *
 * Every request must carry the random token, a Host header naming this server (so a DNS
 * rebinding page cannot reach it) and, for the socket and uploads, an Origin of this server (so
 * other sites cannot drive it).
 */
import { dirname, join, resolve, sep } from "node:path";
import type { ChatEvent } from "../../events.ts";
import { runCommand } from "../json.ts";
import type { ChatPeer } from "../peer_handle.ts";
import { safeRelativePath } from "../../files/names.ts";
import { PAGE } from "./page.ts";
import { randomHex, sameBytes } from "../../bytes.ts";

const encoder = new TextEncoder();

export interface WebOptions {
  peer: ChatPeer;
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  downloads: string;
  /** Where uploaded files wait to be sent. */
  uploads: string;
  /** A fixed token (tests); random otherwise. */
  token?: string;
}

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** Events a newly opened page needs to draw the current state. */
const REPLAY_HISTORY = 50;

export function serveWeb(o: WebOptions): WebServer {
  const token = o.token ?? randomHex(16);
  const sockets = new Set<WebSocket>();
  let ready: ChatEvent | undefined, peerState: ChatEvent | undefined;
  /** Shown as a banner until the peer is heard: a page opened later shows it too. */
  let unreachable: ChatEvent | undefined;
  /** The warning that the state directory cannot be written, for pages opened while it lasts. */
  let stateWarning: ChatEvent | undefined;
  const uploads = resolve(o.uploads) + sep;
  o.peer.on((e) => {
    if (e.type === "ready") ready = e;
    if (e.type === "peer") peerState = e, unreachable = undefined;
    if (e.type === "error" && e.code === "unreachable") unreachable = e;
    if (e.type === "error" && e.code === "state_write_failed") stateWarning = e;
    // An uploaded file the peer has verified is not needed any more.
    if (e.type === "file_sent" && e.path.startsWith(uploads)) void removeUpload(uploads, e.path);
    const text = JSON.stringify(e);
    for (const s of sockets) if (s.readyState === WebSocket.OPEN) s.send(text);
  });
  let allowedHosts: Set<string> = new Set();
  const server = Deno.serve({
    hostname: o.hostname,
    port: o.port,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    const host = req.headers.get("host") ?? "";
    if (!allowedHosts.has(host)) return deny(421, "Unknown host");
    if (!sameBytes(encoder.encode(url.searchParams.get("t") ?? ""), encoder.encode(token))) {
      return deny(403, "Missing or bad token");
    }
    const origin = req.headers.get("origin");
    const sameOrigin = origin === `http://${host}`;
    if (url.pathname === "/" && req.method === "GET") {
      return new Response(PAGE, { headers: SECURE_HEADERS("text/html; charset=utf-8") });
    }
    if (url.pathname === "/ws") {
      if (!sameOrigin) return deny(403, "Bad origin");
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return deny(400, "Expected a WebSocket");
      }
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onopen = () => {
        sockets.add(socket);
        const warning = o.peer.keeping ? undefined : stateWarning;
        const replay = [
          ready,
          peerState,
          unreachable,
          ...o.peer.history(REPLAY_HISTORY),
          warning,
          // Offers waiting for an answer, with their buttons.
          ...o.peer.offers(),
          // Ours that the peer's user is still asked about.
          ...o.peer.waiting(),
        ];
        for (const e of replay) {
          if (e) socket.send(JSON.stringify(e));
        }
      };
      socket.onclose = () => sockets.delete(socket);
      const reply = (e: ChatEvent) => socket.send(JSON.stringify(e));
      // "quit" closes only the page's connection; the peer keeps running.
      socket.onmessage = (m) =>
        void runCommand(o.peer, String(m.data), reply).then((go) => go || socket.close());
      return response;
    }
    if (url.pathname === "/upload" && req.method === "POST") {
      if (!sameOrigin) return deny(403, "Bad origin");
      return await upload(url, req);
    }
    if (url.pathname === "/file" && req.method === "GET") return await download(url);
    return deny(404, "Not found");
  });
  const addr = server.addr as Deno.NetAddr;
  const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  allowedHosts = new Set([`${shown}:${addr.port}`, `localhost:${addr.port}`]);

  /** Stores one uploaded file under uploads/<batch>/<relative path>; answers with the path to
   * offer (the batch's top-level entry). */
  const upload = async (url: URL, req: Request): Promise<Response> => {
    const batch = url.searchParams.get("batch") ?? "";
    const parts = safeRelativePath(url.searchParams.get("name") ?? "");
    if (!/^[0-9a-f]{16}$/.test(batch) || typeof parts === "string" || !req.body) {
      return deny(400, "Cannot upload: bad batch or name");
    }
    const dir = join(o.uploads, batch, ...parts.slice(0, -1));
    await Deno.mkdir(dir, { recursive: true });
    const path = join(dir, parts[parts.length - 1]);
    const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
    await req.body.pipeTo(file.writable);
    return Response.json({ path: join(o.uploads, batch, parts[0]) });
  };

  /** A received file, only from inside the downloads folder. */
  const download = async (url: URL): Promise<Response> => {
    const root = resolve(o.downloads);
    const path = resolve(url.searchParams.get("path") ?? "");
    if (!path.startsWith(root + sep)) return deny(403, "Not in the downloads folder");
    try {
      const real = await Deno.realPath(path);
      if (!real.startsWith((await Deno.realPath(root)) + sep)) return deny(403, "Not in downloads");
      const file = await Deno.open(real);
      const name = encodeURIComponent(real.slice(real.lastIndexOf(sep) + 1));
      return new Response(file.readable, {
        headers: {
          ...SECURE_HEADERS("application/octet-stream"),
          "content-disposition": `attachment; filename*=UTF-8''${name}`,
        },
      });
    } catch {
      return deny(404, "No such file");
    }
  };

  return {
    url: `http://${shown}:${addr.port}/?t=${token}`,
    close: async () => {
      for (const s of sockets) s.close();
      await server.shutdown();
    },
  };
}

/** Removes a sent upload, then whichever of its folders are left empty. */
async function removeUpload(root: string, path: string): Promise<void> {
  try {
    await Deno.remove(path);
    for (let dir = dirname(path); dir.startsWith(root); dir = dirname(dir)) await Deno.remove(dir);
  } catch { /* a folder still holds files being sent */ }
}

function SECURE_HEADERS(type: string): Record<string, string> {
  return {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy":
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
      "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
  };
}

function deny(status: number, why: string): Response {
  return new Response(why + "\n", { status, headers: SECURE_HEADERS("text/plain") });
}

/** Opens the window in the desktop's browser; a one-line reason if it cannot. */
export function openInBrowser(url: string): string | undefined {
  try {
    new Deno.Command("xdg-open", { args: [url], stdout: "null", stderr: "null" }).spawn();
  } catch (e) {
    return `Cannot open the browser: ${(e as Error).message}; open ${url} yourself`;
  }
}
