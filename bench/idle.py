"""Holds N idle keep-alive connections to a server and reports its peak RSS.

Usage: idle.py PORT PID [PID...] --count N --auth HEADER
Each connection sends one GET and reads the answer, so the server has set up
the connection's state; then all stay open and silent. While they are open a
fresh connection sends a GET and must get 200. Prints one JSON line:
{"opened": N, "fresh_status": 200, "hwm_kib": ..., "rss_kib": ...}, the memory
summed over PID and its children (nginx workers), with the file-backed and
anonymous parts (`RssFile`, `RssAnon`) before and while the connections are open.
"""

import json
import os
import socket
import sys
import time


def status_of(data):
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return data


def family(pid):
    """`pid` and its child processes, found by their parent pid: the
    /proc/PID/task/*/children files are not in every kernel."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def memory(pids, field):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def main():
    args = sys.argv[1:]
    count = int(args[args.index("--count") + 1])
    auth = args[args.index("--auth") + 1]
    port = int(args[0])
    roots = [int(a) for a in args[1 : args.index("--count")]]
    request = (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n\r\n"
    ).encode()
    pids = [p for root in roots for p in family(root)]
    before = memory(pids, "VmRSS")
    before_file, before_anon = memory(pids, "RssFile"), memory(pids, "RssAnon")
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request)
        read_response(s)
        socks.append(s)
    time.sleep(1.0)
    fresh = socket.create_connection(("127.0.0.1", port), timeout=5)
    fresh.sendall(request)
    fresh_status = status_of(read_response(fresh))
    fresh.close()
    pids = [p for root in roots for p in family(root)]
    result = {
        "opened": len(socks),
        "fresh_status": fresh_status,
        "rss_before_kib": before,
        "rss_file_before_kib": before_file,
        "rss_anon_before_kib": before_anon,
        "hwm_kib": memory(pids, "VmHWM"),
        "rss_kib": memory(pids, "VmRSS"),
        "rss_file_kib": memory(pids, "RssFile"),
        "rss_anon_kib": memory(pids, "RssAnon"),
    }
    for s in socks:
        s.close()
    print(json.dumps(result))


main()
