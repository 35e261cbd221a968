#!/usr/bin/env python3
"""Latency of a write acknowledged by one replica, as a client sees it.

    python3 bench/wait-latency.py PORT ROUNDS

Against the master on 127.0.0.1:PORT, ROUNDS times: SET, read its reply,
then WAIT 1 0 (block until one replica acknowledged it), read its reply;
each round is timed from sending the SET to receiving WAIT's reply.
Prints "p50 p99 max" in milliseconds. Fails (exit 1) on any reply other
than +OK and :1, or if one reply takes longer than REPLY_TIMEOUT_S.
Used by bench/replication.sh.
"""

import socket
import sys
import time

REPLY_TIMEOUT_S = 10
KEYS = 1000


def command(*words):
    out = b"*%d\r\n" % len(words)
    for word in words:
        out += b"$%d\r\n%s\r\n" % (len(word), word)
    return out


def main():
    port, rounds = int(sys.argv[1]), int(sys.argv[2])
    sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    replies = sock.makefile("rb")
    wait = command(b"WAIT", b"1", b"0")
    samples = []
    for i in range(rounds):
        set_request = command(b"SET", b"wait:%d" % (i % KEYS), b"%d" % i)
        started = time.perf_counter()
        sock.sendall(set_request)
        set_reply = replies.readline()
        sock.sendall(wait)
        wait_reply = replies.readline()
        samples.append(time.perf_counter() - started)
        if set_reply != b"+OK\r\n" or wait_reply != b":1\r\n":
            sys.exit(f"round {i}: SET {set_reply!r}, WAIT 1 0 {wait_reply!r}")
    samples.sort()

    def percentile(fraction):
        return samples[min(len(samples) - 1, int(fraction * len(samples)))] * 1000

    print(f"{percentile(0.50):.3f} {percentile(0.99):.3f} {samples[-1] * 1000:.3f}")


if __name__ == "__main__":
    main()
