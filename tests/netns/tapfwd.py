#!/usr/bin/env python3
"""A netem-like link between two TAP devices, for kernels without netem.

Frames read from one TAP device are written to the other after a delay with jitter (which
reorders them), or dropped, duplicated or corrupted, as netem would. Both TCP and UDP cross the
real kernel stacks on either side.

    tapfwd.py TAP_A TAP_B SEED        then, on stdin, lines of: DELAY_MS JITTER_MS LOSS DUP CORRUPT
                                      (percentages); "ready" is printed once both devices exist.
"""
import fcntl, heapq, os, random, select, struct, sys, time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
ETH_IP_HEADERS = 34  # corrupt the transport header or payload, not the Ethernet/IP framing


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def main():
    a, b = open_tap(sys.argv[1]), open_tap(sys.argv[2])
    rng = random.Random(int(sys.argv[3]))
    delay = jitter = loss = dup = corrupt = 0.0
    queue, order = [], 0
    print("ready", flush=True)
    stdin = sys.stdin.fileno()
    while True:
        now = time.monotonic()
        timeout = max(0.0, queue[0][0] - now) if queue else 1.0
        ready, _, _ = select.select([a, b, stdin], [], [], timeout)
        if stdin in ready:
            line = sys.stdin.readline()
            if not line:
                return
            delay, jitter, loss, dup, corrupt = (float(x) for x in line.split())
        for src, dst in ((a, b), (b, a)):
            if src not in ready:
                continue
            while True:
                try:
                    frame = os.read(src, 65536)
                except BlockingIOError:
                    break
                if rng.random() * 100 < loss:
                    continue
                for _ in range(2 if rng.random() * 100 < dup else 1):
                    data = bytearray(frame)
                    if rng.random() * 100 < corrupt and len(data) > ETH_IP_HEADERS:
                        i = rng.randrange(ETH_IP_HEADERS, len(data))
                        data[i] ^= 1 << rng.randrange(8)
                    wait = max(0.0, delay + rng.uniform(-jitter, jitter)) / 1000
                    order += 1
                    heapq.heappush(queue, (time.monotonic() + wait, order, dst, bytes(data)))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, dst, data = heapq.heappop(queue)
            try:
                os.write(dst, data)
            except OSError:
                pass  # the device is down or its queue is full: like a lost frame


if __name__ == "__main__":
    main()
