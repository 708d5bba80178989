"""Syscalls per request on the connection-per-request path: wordwire against hyper.

Usage (after bench/run.sh has built both release binaries):

    python3 bench/churn.py                      # perf stat counts, 16 connections, 2 s
    python3 bench/churn.py --strace             # strace -c -f instead (slows the servers)
    python3 bench/churn.py --before OLD_BINARY  # also an older wordwire build

Each server serves GET with `--sync none` on 127.0.0.1 while
`wrk -t2 -c16 -d2s -H 'Connection: close'` drives it; the syscalls the server made
(all its threads) are divided by the requests wrk completed. With perf (the
default) the counts come from the `syscalls:sys_enter_*` tracepoints, which cost
little, plus context switches and task-clock; with --strace from `strace -c -f`,
which costs a lot: its req/s are not the servers' own. Prints a Markdown table;
bench/CHURN.md has the findings.
"""

import argparse
import base64
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORDWIRE = os.path.join(ROOT, "target", "release", "wordwire")
HYPER = os.path.join(HERE, "hyper-baseline", "target", "release", "hyper-baseline")
AUTH = "Basic " + base64.b64encode(b"wordwire:wordwire").decode()
SYSCALLS = ["epoll_wait", "epoll_pwait", "accept4", "setsockopt", "epoll_ctl", "recvfrom", "read",
            "writev", "write", "sendto", "shutdown", "close", "futex"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, seconds=20):
    until = time.time() + seconds
    while time.time() < until:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not start")


def child_of(pid):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        return int(entry)
            except OSError:
                pass
    return None


def wrk(port, seconds, conns):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "-H", f"Authorization: {AUTH}",
         "-H", "Connection: close", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Socket errors: (.*)", out)
    return requests, rps, errors.group(1) if errors else "none"


def measure(argv, seconds, conns, use_strace, workdir):
    port = free_port()
    argv = [a.replace("PORT", str(port)) for a in argv]
    env = dict(os.environ, WORDWIRE_USER="wordwire", WORDWIRE_PASSWORD="wordwire")
    counts = {}
    if use_strace:
        trace = os.path.join(workdir, f"strace-{port}.txt")
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", trace] + argv, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(port)
        requests, rps, errors = wrk(port, seconds, conns)
        # strace reports when its tracee exits: stop the server, not strace.
        server = child_of(tracer.pid)
        if server:
            os.kill(server, signal.SIGTERM)
        tracer.wait(30)
        with open(trace) as f:
            for line in f:
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
                if m and m.group(2) != "total":
                    counts[m.group(2)] = int(m.group(1))
        counts["total"] = sum(counts.values())
        extra = {}
    else:
        server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(port)
        stat = os.path.join(workdir, f"perf-{port}.txt")
        events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{s}" for s in SYSCALLS] + [
            "context-switches", "task-clock"]
        perf = subprocess.Popen(["perf", "stat", "-x,", "-o", stat, "-e", ",".join(events),
                                 "-p", str(server.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        requests, rps, errors = wrk(port, seconds, conns)
        perf.send_signal(signal.SIGINT)
        perf.wait(30)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        extra = {}
        with open(stat) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) < 3 or not parts[0].replace(".", "").isdigit():
                    continue
                value, event = float(parts[0]), parts[2]
                if event == "raw_syscalls:sys_enter":
                    counts["total"] = int(value)
                elif event.startswith("syscalls:sys_enter_"):
                    counts[event[len("syscalls:sys_enter_"):]] = int(value)
                elif event in ("context-switches", "task-clock"):
                    extra[event] = value  # task-clock in ms
    return {"requests": requests, "rps": rps, "errors": errors, "counts": counts, "extra": extra}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--strace", action="store_true", help="strace -c -f instead of perf stat")
    parser.add_argument("--before", default="", help="an older wordwire binary to measure too")
    args = parser.parse_args()
    servers = {"wordwire": [WORDWIRE, "serve", "--addr", "127.0.0.1:PORT", "--store", "STORE", "--sync", "none"]}
    if args.before:
        servers["before"] = [os.path.abspath(args.before)] + servers["wordwire"][1:]
    servers["hyper"] = [HYPER, "--addr", "127.0.0.1:PORT", "--store", "STORE", "--sync", "none"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="wordwire-churn-") as workdir:
        for name, argv in servers.items():
            store = os.path.join(workdir, f"{name}.txt")
            with open(store, "w") as f:
                f.write("".join(f"word{i}\n" for i in range(1000)))
            argv = [store if a == "STORE" else a for a in argv]
            results[name] = measure(argv, args.seconds, args.conns, args.strace, workdir)
    names = list(results)
    tool = "strace -c -f" if args.strace else "perf stat"
    print(f"Syscalls per request ({tool}), GET with Connection: close, {args.conns} connections, "
          f"{args.seconds} s\n")
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| requests (req/s) | " + " | ".join(
        f"{r['requests']:,} ({r['rps']:,.0f})" for r in results.values()) + " |")
    print("| socket errors | " + " | ".join(r["errors"] for r in results.values()) + " |")
    calls = sorted({c for r in results.values() for c in r["counts"]} - {"total"},
                   key=lambda c: -max(r["counts"].get(c, 0) / r["requests"] for r in results.values()))
    for call in ["total"] + calls:
        cells = [r["counts"].get(call, 0) / r["requests"] for r in results.values()]
        if max(cells) < 0.005:
            continue
        label = "**all syscalls**" if call == "total" else f"`{call}`"
        print(f"| {label} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    if not args.strace:
        print("| context switches | " + " | ".join(
            f"{r['extra'].get('context-switches', 0) / r['requests']:.2f}" for r in results.values()) + " |")
        print("| task-clock µs | " + " | ".join(
            f"{r['extra'].get('task-clock', 0) * 1000 / r['requests']:.1f}" for r in results.values()) + " |")


main()
