/** The man page, chatnet(1), written from the same table as --help so the two never drift. */
import { OPTIONS, SUMMARY, USAGE } from "./options.ts";

/** Escapes text for roff: backslashes, leading dots and quotes, and hyphens in option names. */
function roff(text: string): string {
  return text.replaceAll("\\", "\\e").replaceAll("-", "\\-").replace(/^[.']/gm, "\\&$&");
}

/** The exit codes, once: the man page prints this table, and the README repeats it. */
export const EXIT_CODES: [number, string][] = [
  [0, "everything sent was delivered (and every file verified by the peer)"],
  [
    1,
    "something was not delivered before --timeout, a line or file was refused, or a file failed",
  ],
  [
    2,
    "usage error: a bad flag, port, address or folder, a state directory that is read-only or " +
    "full, a port already in use, or --accept ask where nothing can answer",
  ],
  [130, "interrupted (Ctrl-C or SIGINT)"],
];

export function manPage(version: string, date: string): string {
  const lines = [
    `.TH CHATNET 1 "${date}" "chatnet ${version}" "User Commands"`,
    ".SH NAME",
    "chatnet \\- reliable peer-to-peer chat and file transfer over lossy networks",
    ".SH SYNOPSIS",
    ...USAGE.flatMap((u) => [".B", roff(u), ".br"]),
    ".SH DESCRIPTION",
    roff(SUMMARY),
    ".PP",
    roff(
      "Files go over TCP on the same port number as the chat (see --file-port), with progress, " +
        "SHA-256 verification and resume. In a terminal, type /help for commands; /send PATH sends " +
        "files or folders. Piped, each input line is a message.",
    ),
    ".PP",
    roff(
      "Offered files or folders are asked about in a terminal (--accept ask, the default there): " +
        "a line of y or n answers the latest offer, /accept N or /decline N any, /offers lists " +
        "them. With --json or piped input every offer is taken (--accept all); --accept none " +
        "declines them all. --accept ask with piped input or --send is a usage error.",
    ),
    ".SH OPTIONS",
    ...OPTIONS.flatMap((o) => [
      ".TP",
      `.B ${o.short ? `\\-${o.short}, ` : ""}\\-\\-${roff(o.name)}${
        o.arg ? ` \\fI${o.arg}\\fR` : ""
      }`,
      roff(o.help),
    ]),
    ".SH ENVIRONMENT",
    ...[
      ["CHATNET_SECRET", "the shared passphrase (or use --secret-file or --ask-secret)"],
      ["XDG_STATE_HOME", "where the journal and history live (default ~/.local/state)"],
      ["NO_COLOR", "set to turn colour off"],
      [
        "CHATNET_OPENSSL",
        "0 keeps node:crypto's ChaCha20-Poly1305 rather than the host's OpenSSL (libcrypto); " +
        "the bytes on the wire are the same",
      ],
      [
        "CHATNET_NATIVE_UDP",
        "0 keeps Deno's UDP socket rather than chatnet's own through libc (sendmmsg and " +
        "recvmmsg, a batch of datagrams per system call); the bytes on the wire are the same",
      ],
    ].flatMap(([name, what]) => [".TP", `.B ${name}`, roff(what)]),
    ".SH EXIT STATUS",
    ...EXIT_CODES.flatMap(([code, what]) => [".TP", `.B ${code}`, roff(what)]),
    ".SH EXAMPLES",
    ".nf",
    roff("chatnet 12345 192.168.233.128 12346"),
    roff("chatnet --port 12345 --peer [2001:db8::7]:12346 --name alice"),
    roff("chatnet 12345 peer.example 12346 --send report.pdf photos/"),
    roff("chatnet demo"),
    ".fi",
    ".SH FIREWALL",
    roff("Allow the port for UDP (chat) and TCP (files): ufw allow 12345/udp; ufw allow 12345/tcp"),
  ];
  return lines.join("\n") + "\n";
}
