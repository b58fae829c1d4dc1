/** Where a peer keeps its journal and history. Pure: the environment comes in as values. */
import { join } from "node:path";

export interface StateEnv {
  XDG_STATE_HOME?: string;
  HOME?: string;
}

/** `$XDG_STATE_HOME/chatnet/<port>-<peer host>-<peer port>`, or under `~/.local/state` when the
 * variable is unset (XDG Base Directory spec). One folder per local port and peer, so two chats
 * on one machine never share a journal. */
export function defaultStateDir(
  env: StateEnv,
  chat: { port: number; peerHost: string; peerPort: number },
): string | { error: string } {
  const root = stateRoot(env);
  if (typeof root !== "string") return root;
  const host = chat.peerHost.replace(/[^A-Za-z0-9.-]/g, "_");
  return join(root, `${chat.port}-${host}-${chat.peerPort}`);
}

/** `$XDG_STATE_HOME/chatnet` (or `~/.local/state/chatnet`): the chats' folders, and pairs.json. */
export function stateRoot(env: StateEnv): string | { error: string } {
  const base = env.XDG_STATE_HOME?.startsWith("/")
    ? env.XDG_STATE_HOME
    : env.HOME
    ? join(env.HOME, ".local", "state")
    : undefined;
  if (!base) return { error: "Cannot find a state directory: set HOME or give --state-dir DIR" };
  return join(base, "chatnet");
}
