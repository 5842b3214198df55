#!/usr/bin/env python3
"""A user-space stand-in for `tc netem`, for kernels without sch_netem (scripts/reliability.sh).

    impair.py TUN_A TUN_B --delay-ms 50 --jitter-ms 10 --loss 0.02 --reorder 0.25 [--seed N]

Attaches to two persistent TUN devices (created beforehand with `ip tuntap add mode tun`, then
moved into two network namespaces; the attachment survives the move) and forwards every IP packet
that arrives on one to the other:
  - with probability --loss it is dropped;
  - with probability --reorder it is sent at once (so it overtakes the delayed ones), as netem's
    "reorder" does;
  - otherwise it is sent after --delay-ms ± --jitter-ms (uniform), which reorders packets too.
Runs until killed; prints its counters to stderr on SIGTERM.
"""

import argparse
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def attach(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    p = argparse.ArgumentParser()
    p.add_argument("tun_a")
    p.add_argument("tun_b")
    p.add_argument("--delay-ms", type=float, default=50.0)
    p.add_argument("--jitter-ms", type=float, default=10.0)
    p.add_argument("--loss", type=float, default=0.02)
    p.add_argument("--reorder", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    a, b = attach(args.tun_a), attach(args.tun_b)
    peer = {a: b, b: a}
    queue = []  # (due, sequence, fd, packet)
    seq = 0
    counts = {"forwarded": 0, "dropped": 0, "sent at once": 0, "delayed": 0}

    def report(*_):
        print("impair: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
        sys.exit(0)

    signal.signal(signal.SIGTERM, report)
    signal.signal(signal.SIGINT, report)
    print("impair: ready", file=sys.stderr, flush=True)
    while True:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, packet = heapq.heappop(queue)
            try:
                os.write(fd, packet)
                counts["forwarded"] += 1
            except OSError:
                counts["dropped"] += 1
        timeout = max(0.0, queue[0][0] - now) if queue else 0.5
        readable, _, _ = select.select([a, b], [], [], timeout)
        for fd in readable:
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                out = peer[fd]
                if rng.random() < args.loss:
                    counts["dropped"] += 1
                    continue
                if rng.random() < args.reorder:
                    counts["sent at once"] += 1
                    due = time.monotonic()
                else:
                    counts["delayed"] += 1
                    jitter = rng.uniform(-args.jitter_ms, args.jitter_ms)
                    due = time.monotonic() + max(0.0, args.delay_ms + jitter) / 1000.0
                seq += 1
                heapq.heappush(queue, (due, seq, out, packet))


if __name__ == "__main__":
    main()
