/** The command-line options, once: parsing, `--help` and the man page all read this table. */
export interface OptionSpec {
  name: string;
  short?: string;
  /** The value's placeholder; absent for a switch. */
  arg?: string;
  /** May be given more than once. */
  multiple?: boolean;
  help: string;
}

export const OPTIONS: OptionSpec[] = [
  { name: "invite", help: "pick free ports, print a code for the other host's --join, and wait" },
  {
    name: "join",
    arg: "CODE|NAME",
    help: "find the peer on the LAN by its --invite code, or a peer paired before by its name",
  },
  {
    name: "wait",
    arg: "SECONDS",
    help: "with --invite or --join, how long to look for the other side (default 600 and 30)",
  },
  { name: "new-secret", help: "print a fresh random passphrase (64 bits) and exit" },
  { name: "port", short: "p", arg: "N", help: "UDP port to chat on (1-65535)" },
  {
    name: "peer",
    arg: "HOST:PORT",
    help: "the other peer: 192.0.2.7:9000, [2001:db8::7]:9000, host:9000",
  },
  {
    name: "bind",
    arg: "ADDR",
    help: "local address to bind (default: all interfaces, 0.0.0.0 or ::)",
  },
  { name: "name", arg: "NICK", help: "your name as the peer sees it (default: $USER)" },
  { name: "json", help: "JSON lines on stdin and stdout (the contract: docs/json.md)" },
  {
    name: "sim",
    arg: "SPEC",
    help:
      'impair outgoing datagrams, e.g. "loss=20%,delay=40ms,jitter=20ms,dup=5%,corrupt=5%,reorder=10%,seed=7"',
  },
  {
    name: "file-port",
    arg: "N",
    help: "TCP port for incoming files (default: the same number as --port)",
  },
  { name: "downloads", arg: "DIR", help: "where received files go (default: the current folder)" },
  {
    name: "max-file-size",
    arg: "SIZE",
    help: "decline incoming files larger than this, e.g. 500M or 20G (default 64G)",
  },
  {
    name: "accept",
    arg: "ask|all|none",
    help:
      "which offered files to take: ask each time (default in a terminal), all (default with --json or a pipe), or none",
  },
  {
    name: "files",
    arg: "auto|tcp|udp",
    help:
      "how files travel: TCP, the chat's UDP session, or auto (default): TCP unless it cannot connect within 3 s",
  },
  {
    name: "send",
    arg: "PATH",
    multiple: true,
    help: "send these files or folders, wait until the peer has verified them, then exit",
  },
  {
    name: "timeout",
    arg: "SECONDS",
    help: "at end of input, how long to wait for delivery before giving up (default 30)",
  },
  {
    name: "no-keep",
    help: "at the timeout, drop undelivered messages instead of keeping them for the next run",
  },
  {
    name: "secret-file",
    arg: "FILE",
    help: "read the shared passphrase from FILE (or set CHATNET_SECRET); both sides need the same",
  },
  { name: "ask-secret", help: "ask for the shared passphrase without echoing it" },
  {
    name: "state-dir",
    arg: "DIR",
    help:
      "journal and history (default: $XDG_STATE_HOME/chatnet/<port>-<peer>, or ~/.local/state/…)",
  },
  { name: "no-history", help: "keep no conversation history (the journal is kept regardless)" },
  { name: "web", help: "also serve a chat window on http://127.0.0.1 and print its URL" },
  { name: "web-port", arg: "N", help: "port for --web (default: any free port)" },
  {
    name: "web-bind",
    arg: "ADDR",
    help: "address for --web (default 127.0.0.1; anything else is reachable by others)",
  },
  { name: "open", help: "with --web, open the window in the default browser (xdg-open)" },
  { name: "help", short: "h", help: "show this help" },
  { name: "version", short: "V", help: "show the version" },
];

export const USAGE = [
  "chatnet --invite            (then on the other host: chatnet --join CODE)",
  "chatnet --join NAME         (a peer paired before)",
  "chatnet <local_port> <peer_host> <peer_port>",
  "chatnet --port N --peer HOST:PORT [options]",
  "chatnet <local_port> <peer_host> <peer_port> --send PATH...",
  "chatnet demo [--sim SPEC]",
];

export const SUMMARY =
  "Peer-to-peer chat over UDP with its own reliability layer: every message arrives exactly once, " +
  "in order and intact, even when the network loses, duplicates, corrupts or reorders datagrams.";

export function helpText(): string {
  const left = (o: OptionSpec) =>
    `${o.short ? `-${o.short}, ` : "    "}--${o.name}${o.arg ? ` ${o.arg}` : ""}`;
  const width = Math.max(...OPTIONS.map((o) => left(o).length)) + 2;
  return [
    SUMMARY,
    "",
    "Usage:",
    ...USAGE.map((u) => `  ${u}`),
    "",
    "Options:",
    ...OPTIONS.map((o) => `  ${left(o).padEnd(width)}${o.help}`),
    "",
    "In a terminal, type /help for commands (/send PATH sends files). Piped, each input line is",
    "a message. Exit codes: 0 done, 1 messages or files not delivered, 2 bad usage.",
  ].join("\n");
}
