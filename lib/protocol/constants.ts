/**
 * Every tunable of the wire protocol lives here, once, with the reason for its value.
 * Times are in milliseconds.
 */

/** Largest datagram we emit. 1200 bytes fits any IPv6 path (minimum MTU 1280 minus headers) and
 * every tunnel we are likely to cross, so we never depend on IP fragmentation. */
export const MAX_DATAGRAM = 1200;

/** What sealing adds around a packet: a 24-byte outer header (with a 64-bit nonce counter) and a
 * 16-byte AEAD tag. Packets are built this much smaller than MAX_DATAGRAM in both modes, so a sealed
 * one still fits, and the two modes behave alike. */
export const SEAL_OVERHEAD = 40;
/** Largest packet the ARQ builds. */
export const MAX_PACKET = MAX_DATAGRAM - SEAL_OVERHEAD;

/** Most SACK ranges a header carries. Eight ranges describe the holes of a badly damaged window
 * while keeping the header small (8 bytes each). */
export const MAX_SACK_RANGES = 8;

/** Segments in flight at once. Many messages in flight is the point of selective repeat. A chat
 * message is usually one small segment, so the window is counted generously: 4096 lets a burst of
 * short lines cross in one round trip, as TCP's byte window would. Pacing keeps it from
 * overflowing the receiver's socket buffer. */
export const SEND_WINDOW = 4096;

/** Bytes of segments sent and not yet acknowledged, to a peer whose socket buffer is the default.
 * The peer reads datagrams only as fast as its event loop handles them, and Linux drops what
 * overflows a UDP socket's receive buffer (208 KiB by default, about 90 full datagrams once the
 * kernel's per-packet overhead is counted). With this much outstanding, about 42 full datagrams,
 * twice that with redundancy, a receiver that stalls (seen here when the program reading its
 * stdout fell behind) cannot be overrun: ACKs clock new data out at the pace it really keeps. A
 * burst that the receiver keeps up with runs as fast with this cap as without it (measured: 20,000
 * messages on loopback, 37,000-40,000 a second either way). A peer with a larger buffer says so
 * (its receive buffer class, codec.ts) and is sent up to MAX_FLIGHT_BYTES·2^class. */
export const MAX_FLIGHT_BYTES = 48 * 1024;
/** Linux's default receive buffer (net.core.rmem_default): class 0. Each doubling of the buffer a
 * socket holds is one class more, up to RECEIVE_BUFFER_CLASS_MAX: a socket of 8 MiB (what
 * lib/net/udp_native.ts asks for, where net.core.rmem_max allows it) takes 1.5 MiB in flight,
 * far more than a LAN's bandwidth-delay product at what a Deno process moves (150 KB at
 * 100 MB/s and 1.5 ms). */
export const DEFAULT_RECEIVE_BUFFER = 212_992;
export const RECEIVE_BUFFER_CLASS_MAX = 5;

/** Out-of-order segments the receiver buffers; equal to the send window, so nothing in a legal
 * window is ever refused. */
export const RECEIVE_WINDOW = SEND_WINDOW;

/** Largest message accepted by `send`. The issue asks for at least 64 KiB; 1 MiB keeps the
 * fragment count (1 MiB / ~1100 B) well within a 16-bit field and memory per message bounded. */
export const MAX_MESSAGE = 1024 * 1024;

/** RFC 6298 bounds. The floor follows measured RTT rather than RFC 6298's 1 s: a LAN's RTT is well
 * under a millisecond and a fixed floor in the hundreds would make one loss cost that much. The
 * 2 ms floor covers timer granularity and event-loop jitter; the spurious-retransmission rate it
 * gives is counted (stats().spuriousRetransmits, Eifel detection in arq/sender.ts): no spurious RTO
 * at any floor from 0.2 to 20 ms in virtual time (docs/protocol.md, bench/rto_floor.ts). */
export const RTO_MIN = 2;
/** Before any RTT sample. Lower than RFC 6298's 1 s because the handshake completes first and
 * chat users notice a one-second stall. */
export const RTO_INITIAL = 200;
/** Cap of the RTO and of its exponential backoff: RFC 6298 section 2.5 allows a maximum of at
 * least 60 s. A long backoff does not hold a returning peer up: anything heard from it (a HELLO,
 * a keepalive) ends the backoff at once. */
export const RTO_MAX = 60_000;
/** Clock granularity G of RFC 6298 (setTimeout resolves to about a millisecond). */
export const CLOCK_GRANULARITY = 1;

/** Delayed acknowledgements (RFC 9000 section 13.2.1): a receiver of bulk data (full segments)
 * acknowledges every ACK_EVERY-th datagram, and any other within MAX_ACK_DELAY; at once when a
 * datagram is not bulk (a chat line, a file's last frame: the sender has nothing behind it) or
 * shows disorder (a hole, a hole filled, a duplicate). One ACK per file datagram, and a second for
 * the durable point, made the receiver send 1.5 datagrams for each it received. The delay stays
 * below RTO_MIN, so a held ACK cannot time the sender out on a quiet LAN. */
export const ACK_EVERY = 2;
export const MAX_ACK_DELAY = 1;

/** Under load (at least this many segments in flight), new messages wait up to COALESCE_MS so
 * that a burst goes out packed many to a datagram. At chat rates nothing is in flight and a
 * message leaves at once, so latency is untouched. */
export const COALESCE_FLIGHT = 16;
export const COALESCE_MS = 1;

/** Pacing (RFC 9002 section 7.7): bytes go out at PACE_GAIN times cwnd per SRTT, never faster
 * than PACE_MAX_PER_MS (about 290 MB/s, above what a Deno process moves through a socket; at 24
 * MB/s it held files over the session to 20 MB/s). The bucket holds at most PACE_BURST_MS of that
 * rate, and never less than the initial window, so a line typed into an idle session leaves at
 * once. */
export const PACE_GAIN = 1.25;
export const PACE_MAX_PER_MS = 250 * MAX_PACKET;
export const PACE_BURST_MS = 2;

/** Congestion window bounds, in bytes (RFC 9002 section 7.2: ten datagrams initially, two at the
 * least). The window never grows past twice the flight the peer takes (MAX_FLIGHT_BYTES for a
 * default buffer), which the flight cannot exceed anyway: growth beyond it would only be credit
 * for a burst the path never saw. */
export const INITIAL_WINDOW = 10 * MAX_PACKET;
export const MIN_WINDOW = 2 * MAX_PACKET;
export const MAX_WINDOW = 2 * MAX_FLIGHT_BYTES;
/** NewReno's multiplicative decrease (RFC 9002 section 7.3.2). */
export const LOSS_REDUCTION = 0.5;
/** A queue is building when the smoothed RTT exceeds the minimum by this share of the minimum, and
 * by at least QUEUE_DELAY_MIN: half the path's own RTT rides above the jitter of a 25±5 ms link
 * (at most 20 ms over a 40 ms minimum) while a 16 KB queue at 1 Mbit/s (128 ms) is far past it.
 * Only a loss while a queue builds is congestion; others are random (Wi-Fi, netem) and leave the
 * window alone. */
export const QUEUE_DELAY_SHARE = 0.5;
export const QUEUE_DELAY_MIN = 4;
/** While a queue builds, congestion avoidance steers the stream's own bytes in that queue (the
 * window times the share of the RTT spent queueing, as TCP Vegas reckons it) between these two:
 * below `low` the window grows as NewReno's, above `high` it shrinks by a datagram per RTT, in
 * between it holds; losses still halve it. Linux holds a TCP flow to about two packets in a queue
 * on its own host (TCP small queues); loss-based growth alone kept 5 to 11 KB there and took 0.63
 * to 0.75 of a 1 Mbit/s, 16 KB bottleneck against one (bench:congestion, BBR's TCP); with this,
 * 0.38 to 0.47 against BBR and 0.35 to 0.49 against CUBIC. */
export const STANDING_QUEUE = { low: 3 * MAX_PACKET, high: 4 * MAX_PACKET };

/** Measured outbound loss above which redundancy is on. Low on purpose: each loss lifts the
 * estimate by about 1.5% and it decays over some 70 datagrams, so redundancy stays on between
 * the losses of a 5% link, while a clean link measures exactly 0 and pays nothing. */
export const REDUNDANCY_LOSS = 0.005;
/** Datagrams at most this large are duplicated under loss; bulk is left to retransmission. */
export const REDUNDANCY_MAX_BYTES = 600;
/** Under loss, a datagram with new data also carries copies of up to this many of the newest
 * unacknowledged segments (while it stays within REDUNDANCY_MAX_BYTES), so a message lost in one
 * datagram arrives with the next one, an inter-message gap later instead of an RTO later. */
export const BUNDLE_MAX = 4;
/** Inbound loss is measured over windows of this many packet numbers; each window's figure moves
 * the estimate by LOSS_EWMA. Small windows let the estimate settle within seconds at chat rates. */
export const LOSS_WINDOW = 8;
export const LOSS_EWMA = 1 / 8;
/** Assumed inbound loss before the first window is measured. Starting with redundancy on costs a
 * few duplicate datagrams; starting with it off made the first messages on a lossy link the
 * slowest of a session. The first measurement replaces it outright. */
export const LOSS_PRIOR = 0.05;
/** A window is measured this long after a later one began, so datagrams overtaken by up to 50 ms
 * (jitter, netem reorder) still count as received... */
export const LOSS_GRACE = 50;
/** ...or once this many windows are open, which bounds the state under a flood. */
export const LOSS_WINDOWS_OPEN = 64;

/** Keepalive: sent after this much silence from our side. */
export const KEEPALIVE_INTERVAL = 500;
/** While the peer is offline: keepalives (and HELLO retries) this far apart at the least, so a
 * dark path carries at most one datagram a second from us. */
export const OFFLINE_INTERVAL = 1000;
/** A gap this long between a confirmed session's wake-ups (which keepalives bound by
 * OFFLINE_INTERVAL) means the process was suspended or stalled: what it sent before cannot time
 * the path. */
export const SUSPENDED_AFTER = 3 * OFFLINE_INTERVAL;
/** The peer is offline after this much silence from it (ten keepalives, so even 50% loss each way
 * rarely flaps the state). */
export const PEER_TIMEOUT = 5000;
/** Handshake retries start here and back off to OFFLINE_INTERVAL. */
export const HELLO_INTERVAL = 100;

/** A refused peer (no passphrase, another version) is said at most this often; each is still
 * counted. Failed passphrase handshakes are each reported: AUTH_BACKOFF keeps them few. */
export const AUTH_REPORT_INTERVAL = 10_000;

/** With a passphrase: a handshake that has shown a share or a tag and sees no valid answer this
 * long after is a failed attempt. Ten seconds is many round trips on any path we run over, and
 * short enough that a stalled attacker holds the one handshake slot only briefly. */
export const HANDSHAKE_TIMEOUT = 10_000;
/** A pending handshake that has waited this long for its answer gives way to an INIT that belongs
 * to none of ours (the peer restarted and its old incarnation will never answer). Twice the slowest
 * INIT retry (OFFLINE_INTERVAL) and many round trips on any path, so a live handshake is never cut
 * short; and it bounds the scalars a flood of forged INITs costs to one per this interval. */
export const HANDSHAKE_REPLACE_AFTER = 2_000;
/** Failed handshakes in a row that cost nothing (a mistyped passphrase, a restart mid-handshake);
 * after them each attempt waits `first`, doubling up to `max`. A guesser then gets about thirty
 * tries the first day and 24 a day after that, instead of thousands an hour (issue 19). */
export const AUTH_BACKOFF = { free: 3, first: 60_000, max: 3_600_000 };
/** A peer process whose handshake failed on a wrong tag holds another passphrase, which it cannot
 * change while it runs: it is neither tried nor answered for this long (lib/protocol/mismatched.ts),
 * so one mistyped passphrase costs one failure on each side, not all the free tries, and the
 * corrected restart (a new epoch) is answered at once. Ten minutes: a forged failure (which needs
 * an on-path attacker, who can drop the peer's datagrams anyway) silences a peer no longer than the
 * backoff would. */
export const MISMATCH_HOLD = 600_000;
/** Failures within this window are summed up in the report ("5 failed handshakes in 10 min"). */
export const AUTH_REPORT_WINDOW = 600_000;

/** Retired peer epochs remembered, so a delayed datagram from an old incarnation is never taken
 * for a restart. */
export const RETIRED_EPOCHS = 16;
