#!/usr/bin/env python3
"""Follow a cleanup request's progress.json the way a program would: read
it, then poll() for POLLPRI, and on each event read it again from offset 0.
Prints "first <state>", then "quiet" when the first QUIET_MS of polling saw
nothing, then "event <PRI|HUP...> <state> <generation>" per wake-up, and
stops at POLLHUP (the request's jobs have all ended) or after 30 s.

usage: poll_progress.py PROGRESS_JSON QUIET_MS
"""
import json
import os
import select
import sys


def read_all(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return json.loads(data)
        data += chunk


def names(revents):
    return "|".join(n for n, bit in (("IN", select.POLLIN), ("PRI", select.POLLPRI),
                                     ("HUP", select.POLLHUP), ("ERR", select.POLLERR))
                    if revents & bit)


def main():
    fd = os.open(sys.argv[1], os.O_RDONLY)
    doc = read_all(fd)
    print("first", doc["state"], flush=True)
    p = select.poll()
    p.register(fd, select.POLLPRI)
    events = p.poll(int(sys.argv[2]))
    if not events:
        print("quiet", flush=True)
        events = p.poll(30000)
    while events:
        revents = events[0][1]
        doc = read_all(fd)
        print("event", names(revents), doc["state"], doc["generation"], flush=True)
        if revents & select.POLLHUP:
            return 0
        events = p.poll(30000)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
