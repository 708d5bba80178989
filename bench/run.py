"""Drives the benchmark that bench/run.sh builds for: see bench/README.md.

Starts wordwire, the hyper baseline, nginx, Redis (`appendfsync always`) and the
floor server (../shared/floor/limit.c, when present) on 127.0.0.1, runs wrk (and
redis-benchmark for Redis) against them interleaved: each round runs every
scenario against every server that takes part in it, rotating which server goes
first. Writes medians of throughput and p99, the ratios of wordwire to each
peer, CPU time and context switches per request and idle-connection RSS to
RESULTS.md, plus chart.svg (requests/s and p99 per scenario).
"""

import argparse
import base64
import hashlib
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORDWIRE = os.path.join(ROOT, "target", "release", "wordwire")
HYPER = os.path.join(HERE, "hyper-baseline", "target", "release", "hyper-baseline")
# The floor: an epoll server answering canned bytes, no HTTP work. Used in place,
# built into the run's temporary directory; never copied into the project.
FLOOR_SRC = os.path.normpath(os.path.join(ROOT, "..", "shared", "floor", "limit.c"))
AUTH = "Basic " + base64.b64encode(b"wordwire:wordwire").decode()
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Column order everywhere. "before" (with --before) and the peers that cannot
# run here (no redis-server, no limit.c) are dropped from it at start.
SERVERS = ["wordwire", "before", "hyper", "nginx", "redis", "floor"]
PEERS = ["hyper", "nginx", "redis", "floor"]
# With --before BINARY: an older wordwire build, run beside the current one in every
# scenario the current one runs in (before/after from the same interleaved run).
BEFORE = None
# Extra `serve` arguments of wordwire and of the --before build (--serve-args, --before-args).
SERVE_ARGS = []
BEFORE_ARGS = []
FLOOR = None  # path of the built floor binary, when there is one

GET_PEERS = ["wordwire", "hyper", "nginx", "floor"]
# Redis SET with `appendfsync always` is the durable-write peer of POST --sync always:
# 16 clients beside our 16 connections, 50 (redis-benchmark's default) beside our 64 (issue 12),
# and 64 beside 64.
SCENARIOS = [
    # name, kind, connections, sync, servers, {server: connections if different}
    ("GET keep-alive, 1 conn", "get", 1, None, GET_PEERS, {}),
    ("GET keep-alive, 16 conns", "get", 16, None, GET_PEERS, {}),
    ("GET keep-alive, 64 conns", "get", 64, None, GET_PEERS, {}),
    ("GET keep-alive, 256 conns", "get", 256, None, GET_PEERS, {}),
    # The floor closes without lingering (wrk counts read errors): not in this one.
    ("GET new connection per request, 16 conns", "close", 16, None, ["wordwire", "hyper", "nginx"], {}),
    # nginx serves a static file: it has no POST that appends.
    ("POST --sync none, 16 conns", "post", 16, "none", ["wordwire", "hyper", "floor"], {}),
    ("POST --sync none, 64 conns", "post", 64, "none", ["wordwire", "hyper", "floor"], {}),
    ("POST --sync always, 16 conns", "post", 16, "always", ["wordwire", "hyper", "redis", "floor"], {}),
    ("POST --sync always, 64 conns", "post", 64, "always", ["wordwire", "hyper", "redis", "floor"],
     {"redis": 50}),
    # The same with Redis at 64 clients too: at equal throughput, 64 clients wait about 64/50
    # as long as 50 (Little's law), so only this row compares the two p99s like for like.
    ("POST --sync always, 64 conns, Redis at 64", "post", 64, "always", ["wordwire", "redis"], {}),
]
# The scenario whose CPU per request is held against the floor's (issue 12: within 1.1x).
CPU_SCENARIO = "GET keep-alive, 64 conns"


def words_file(path, count=1000):
    rng = random.Random(6)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    with open(path, "w") as f:
        for _ in range(count):
            f.write("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) + "\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, seconds=20):
    until = time.time() + seconds
    while time.time() < until:
        if proc.poll() is not None:
            sys.exit(f"server on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not start")


def build_floor(workdir):
    """Builds ../shared/floor/limit.c into `workdir`; None (and says why) if it cannot."""
    if not os.path.exists(FLOOR_SRC):
        print(f"floor: {FLOOR_SRC} is absent; skipping the floor server", flush=True)
        return None
    binary = os.path.join(workdir, "limit")
    out = subprocess.run(["cc", "-O2", "-pthread", "-o", binary, FLOOR_SRC], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"floor: `cc -O2 -pthread` of {FLOOR_SRC} failed; skipping the floor server:\n{out.stderr}",
              flush=True)
        return None
    return binary


class Servers:
    """Every server process this run started, stopped at the end by their own pid."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []

    def start(self, kind, sync="always", label=""):
        # The floor and Redis take no port 0; a free port picked here is fixed for them.
        port = free_port()
        store = os.path.join(self.workdir, f"{kind}-{label}-{port}.txt")
        shutil.copy(os.path.join(self.workdir, "words.txt"), store)
        if kind in ("wordwire", "before"):
            binary = WORDWIRE if kind == "wordwire" else BEFORE
            argv = [binary, "serve", "--addr", f"127.0.0.1:{port}", "--store", store, "--sync", sync]
            argv += SERVE_ARGS if kind == "wordwire" else BEFORE_ARGS
        elif kind == "hyper":
            argv = [HYPER, "--addr", f"127.0.0.1:{port}", "--store", store, "--sync", sync]
        elif kind == "floor":
            argv = [FLOOR, "--addr", f"127.0.0.1:{port}", "--store", store, "--sync", sync]
        elif kind == "redis":
            argv = self.redis_argv(port, label)
        else:
            argv = self.nginx_argv(port, label)
        env = dict(os.environ, WORDWIRE_USER="wordwire", WORDWIRE_PASSWORD="wordwire")
        # The access log (one line per request) goes nowhere, as it would to a fast disk.
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.procs.append(proc)
        wait_listening(port, proc)
        return port, proc

    def redis_argv(self, port, label):
        """Redis with every write fsync'd before the reply, its files in the run's
        temporary directory only: the append-only file and nothing else (no RDB
        snapshots, no automatic AOF rewrite, which wordwire's store has no
        counterpart of)."""
        data = os.path.join(self.workdir, f"redis-{label}-{port}")
        os.makedirs(data, exist_ok=True)
        return ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", data,
                "--daemonize", "no", "--logfile", os.path.join(data, "redis.log"),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                "--auto-aof-rewrite-percentage", "0"]

    def nginx_argv(self, port, label):
        prefix = os.path.join(self.workdir, f"nginx-{label}-{port}")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(port=port, dir=self.workdir, prefix=prefix))
        return ["nginx", "-p", prefix, "-c", conf]

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for proc in self.procs:
            self.stop(proc)


NGINX_CONF = """
daemon off;
master_process on;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log crit;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        root {dir};
        location = / {{
            auth_basic "wordwire";
            auth_basic_user_file {dir}/htpasswd;
            default_type "text/plain; charset=utf-8";
            try_files /words.txt =404;
        }}
    }}
}}
"""


def family(pid):
    """`pid` and its child processes (nginx's workers), found by their parent pid:
    /proc/PID/task/*/children is not in every kernel."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            pids.append(int(entry))
    return pids


def counters(pids):
    """(context switches, CPU seconds) of `pids`: voluntary plus involuntary switches
    summed over their threads, and utime + stime of each whole process."""
    switches, ticks = 0, 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return None
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            switches += int(line.split()[1])
            except OSError:
                pass  # a thread that ended meanwhile
    return switches, ticks / CLK_TCK


def per_request(first, last, requests):
    if first is None or last is None or not requests:
        return None, None
    return (last[0] - first[0]) / requests, (last[1] - first[1]) / requests * 1e6


def wrk(port, kind, connections, duration, pids):
    """One wrk run. Also counts the server's context switches and CPU time per
    request over a window that leaves out the start and end of the run (1 s each,
    a quarter of the run when it is shorter than 3 s): connection threads of a
    thread-per-connection server take their counts with them when they exit."""
    threads = 1 if connections == 1 else 2
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
            "--latency", "-H", f"Authorization: {AUTH}"]
    if kind == "post":
        argv += ["-s", os.path.join(HERE, "wrk", "post.lua")]
    elif kind == "close":
        argv += ["-s", os.path.join(HERE, "wrk", "close.lua")]
    argv.append(f"http://127.0.0.1:{port}/")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    edge = 1.0 if duration >= 3 else duration / 4
    time.sleep(edge)
    first, t1 = counters(pids), time.monotonic()
    time.sleep(duration - 2 * edge)
    last, t2 = counters(pids), time.monotonic()
    out = proc.communicate(timeout=duration + 60)[0]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p99 = None
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m:
        p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    cs, cpu = per_request(first, last, rps * (t2 - t1))
    return {
        "rps": rps,
        "requests": requests,
        "cs_per_request": cs,
        "cpu_us_per_request": cpu,
        "p99_ms": p99,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": [int(x) for x in errors.groups()] if errors else [0, 0, 0, 0],
    }


class RedisBenchmark:
    """redis-benchmark SET runs. It takes a request count, not a duration: the count
    of each run is the last measured rate of that client count times the duration
    (a short probe first), so that its runs last about as long as wrk's."""

    def __init__(self):
        self.rate = {}

    def run(self, port, clients, duration, pids):
        if clients not in self.rate:
            self.rate[clients] = self.once(port, clients, 2000, pids)["rps"]
        count = max(1000, int(self.rate[clients] * duration))
        result = self.once(port, clients, count, pids)
        self.rate[clients] = result["rps"]
        return result

    @staticmethod
    def once(port, clients, count, pids):
        # A 5-byte value, as wordwire's POST appends the 5-byte word "hello".
        argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
                "-n", str(count), "-d", "5", "-t", "set", "--csv"]
        first = counters(pids)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        last = counters(pids)
        rows = [line for line in out.stdout.splitlines() if line.startswith('"SET"')]
        if out.returncode != 0 or not rows:
            sys.exit(f"redis-benchmark failed ({out.returncode}): {out.stdout}{out.stderr}")
        # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",...
        values = [v.strip('"') for v in rows[0].split(",")]
        # Over the whole run, whose request count is exact; the idle moments around it cost next to nothing.
        cs, cpu = per_request(first, last, count)
        return {
            "rps": float(values[1]),
            "requests": count,
            "cs_per_request": cs,
            "cpu_us_per_request": cpu,
            "p99_ms": float(values[6]),
            "non2xx": 0,
            "errors": [0, 0, 0, 0],
        }


def idle_rss(servers, kind, count):
    port, proc = servers.start(kind, label="idle")
    time.sleep(0.3)
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "idle.py"), str(port), str(proc.pid),
         "--count", str(count), "--auth", AUTH],
        capture_output=True, text=True, timeout=120,
    )
    servers.stop(proc)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs (`nproc`), {cpu}, Linux {platform.release()}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    """Relative half-range of the rounds: how noisy a median is."""
    if len(values) < 2:
        return 0.0
    return (max(values) - min(values)) / 2 / statistics.median(values)


def medians(results, name):
    """{server: {"rps", "spread", "p99", "cpu", "cs"}} for one scenario."""
    out = {}
    for s, runs in results.get(name, {}).items():
        if runs:
            rps = [r["rps"] for r in runs]
            out[s] = {
                "rps": median(rps),
                "spread": spread(rps),
                "p99": median([r["p99_ms"] for r in runs]),
                "cpu": median([r["cpu_us_per_request"] for r in runs]),
                "cs": median([r["cs_per_request"] for r in runs]),
            }
    return out


def ms(v):
    return "—" if v is None else (f"{v:.3f}" if v < 0.1 else f"{v:.2f}")


def with_clients(name, s):
    extra = next((e for n, _, _, _, _, e in SCENARIOS if n == name), {})
    return f" ({extra[s]} clients)" if s in extra else ""


def target_misses(name, kind, med):
    """Issue 12's targets for one scenario, as the list of those missed."""
    misses = []
    w = med.get("wordwire")
    if not w:
        return misses
    floor_ratio = 1.1 if kind == "close" else 1.0
    for peer in ("hyper", "nginx", "redis"):
        p = med.get(peer)
        if not p:
            continue
        if w["rps"] < floor_ratio * p["rps"]:
            misses.append(f"req/s < {floor_ratio:.1f}x {peer}")
        if w["p99"] is not None and p["p99"] is not None and w["p99"] > p["p99"]:
            misses.append(f"p99 > {peer}")
    return misses


def report(args, results, idle, started, servers_run, load):
    peers = [p for p in PEERS if p in servers_run]
    cmd = f"bench/run.sh --rounds {args.rounds} --duration {args.duration}" + (
        f" --before {args.before}" if args.before else "")
    lines = [
        "# wordwire benchmark results",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        f"- Load average (1 min) just before the run: {load:.1f} (well above 0 means other work was "
        "running on the cores: noisier figures).",
        f"- Command: `{cmd}`",
        f"- {args.rounds} rounds of {args.duration} s per scenario and server, interleaved "
        "(each round runs every server on a scenario before the next scenario, rotating which goes first); "
        "figures are medians over rounds, `±` is the half-range of the rounds relative to the median. "
        "p99 is wrk's `--latency` 99th percentile (redis-benchmark's for Redis), the median over rounds.",
        "- wrk runs on the same 2 cores as the servers (and other work on the machine), so absolute "
        "figures are noisy: compare the ratios, which come from the same interleaved run.",
        "- Store: 1,000 words (about 7 KB). GET sends valid Basic credentials. "
        "nginx: `nginx-light`, `auth_basic` with a salted SHA-1 (`{SSHA}`) htpasswd entry (apr1 costs nginx "
        "about 9x), `worker_processes auto`, `keepalive_requests 1000000`, access log off. "
        "POST appends the word `hello`.",
        "- Redis: Debian's `redis-server`, `appendonly yes`, `appendfsync always`, no RDB snapshots, no "
        "automatic AOF rewrite, its files in the run's temporary directory (the same file system as the "
        "other stores); `redis-benchmark -t set -d 5` (a 5-byte value, one connection per client, no "
        "pipelining) with 16 clients beside POST at 16 connections and 50 beside POST at 64 (the issue's pairing), and 64 beside 64 in the row marked so: at equal throughput 64 clients wait about 64/50 as long as 50 (Little's law), so that row compares p99 like for like.",
        "- floor: `../shared/floor/limit.c` built with `cc -O2 -pthread`, an epoll server answering canned "
        "bytes with no HTTP work (no parsing, no auth check); keep-alive GET and POST only."
        + ("" if "floor" in servers_run else " **Absent from this run.**"),
        "",
        "## Requests per second and p99",
        "",
        "Each cell: requests/s, then p99 in ms.",
        "",
        "| scenario | " + " | ".join(servers_run) + " |",
        "|---|" + "---:|" * len(servers_run),
    ]
    for name, *_ in SCENARIOS:
        med = medians(results, name)
        if not med:
            continue
        cells = [f"{med[s]['rps']:,.0f} ±{med[s]['spread'] * 100:.0f}% · {ms(med[s]['p99'])}{with_clients(name, s)}"
                 if s in med else "—" for s in servers_run]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    ratio_cols = (["before"] if "before" in servers_run else []) + peers
    lines += ["", "## wordwire against each peer", "",
              "Each cell: wordwire's requests/s over the peer's, then p99 wordwire vs the peer's (ms). "
              "Targets (issue 12): requests/s ≥ 1.0x hyper, nginx and Redis (≥ 1.1x hyper and nginx "
              "with a new connection per request) and p99 ≤ theirs; the floor is a reference, its "
              "target is CPU per request (below).", "",
              "| scenario | " + " | ".join(f"wordwire / {p}" for p in ratio_cols) + " | targets missed |",
              "|---|" + "---:|" * len(ratio_cols) + "---|"]
    for name, kind, *_ in SCENARIOS:
        med = medians(results, name)
        w = med.get("wordwire")
        if not w:
            continue
        cells = []
        for p in ratio_cols:
            if p in med and med[p]["rps"]:
                cells.append(f"{w['rps'] / med[p]['rps']:.2f}x · {ms(w['p99'])} vs {ms(med[p]['p99'])}")
            else:
                cells.append("—")
        misses = target_misses(name, kind, med)
        lines.append(f"| {name} | {' | '.join(cells)} | {', '.join(misses) if misses else 'none'} |")
    lines += ["", "Errors (non-2xx responses, socket errors) summed over all rounds:", ""]
    for name, *_ in SCENARIOS:
        for s, runs in results.get(name, {}).items():
            non2xx = sum(r["non2xx"] for r in runs)
            errs = [sum(r["errors"][i] for r in runs) for i in range(4)]
            if non2xx or any(errs):
                lines.append(f"- {name}, {s}: {non2xx} non-2xx; socket errors connect/read/write/timeout "
                             f"{'/'.join(map(str, errs))}")
    if lines[-1] == "":
        lines[-2] += " none."
        lines.pop()
    measured = list(servers_run)
    lines += ["", "## CPU time and context switches per request", "",
              "Server CPU time (`utime` + `stime` of `/proc/PID/stat`, nginx: master plus workers) and "
              "context switches (voluntary plus involuntary, summed over `/proc/PID/task/*/status`), "
              "from 1 s into each wrk run to 1 s before its end (a quarter of the run for runs under "
              "3 s), divided by the requests served in that window (requests/s times its length); "
              "for Redis over the whole redis-benchmark run and its exact request count. Medians over "
              "rounds. Threads that exit inside the window take their counts with them, so for a "
              "thread-per-connection server with a new connection per request the figures are lower "
              "bounds. The clock tick is 1/%d s: short runs give coarse CPU figures." % CLK_TCK, ""]
    med64 = medians(results, CPU_SCENARIO)
    w, f = med64.get("wordwire"), med64.get("floor")
    if w and f and w["cpu"] and f["cpu"]:
        ratio = w["cpu"] / f["cpu"]
        lines += [f"CPU per request, {CPU_SCENARIO}: wordwire {w['cpu']:.1f} µs, floor {f['cpu']:.1f} µs: "
                  f"**{ratio:.2f}x** the floor's (target ≤ 1.10x: {'met' if ratio <= 1.1 else 'missed'}).", ""]
    lines += ["Each cell: CPU µs per request, then context switches per request.", "",
              "| scenario | " + " | ".join(measured) + " |",
              "|---|" + "---:|" * len(measured)]
    for name, *_ in SCENARIOS:
        med = medians(results, name)
        if not med:
            continue
        cells = []
        for s in measured:
            m = med.get(s)
            if not m or (m["cpu"] is None and m["cs"] is None):
                cells.append("—")
                continue
            cpu = "—" if m["cpu"] is None else f"{m['cpu']:.1f}"
            cs = "—" if m["cs"] is None else f"{m['cs']:.3f}"
            cells.append(f"{cpu} · {cs}")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    idle_servers = [s for s in servers_run if s in ("wordwire", "before", "hyper", "nginx")]
    if any(idle.get(s) for s in idle_servers):
        lines += ["", f"## {args.idle} idle keep-alive connections", "",
                  "Each connection sends one GET, reads the answer and stays open; meanwhile a fresh "
                  "connection sends a GET. Peak RSS is `VmHWM` from `/proc/PID/status` (nginx: master "
                  "plus workers), on a freshly started server.", "",
                  "| server | peak RSS (MiB) | RSS before (MiB) | connections held | fresh client's status |",
                  "|---|---:|---:|---:|---:|"]
        for s in idle_servers:
            runs = [r for r in idle.get(s, []) if "hwm_kib" in r]
            if not runs:
                lines.append(f"| {s} | failed: {idle.get(s)} | | | |")
                continue
            hwm = median([r["hwm_kib"] for r in runs]) / 1024
            before = median([r["rss_before_kib"] for r in runs]) / 1024
            statuses = ",".join(sorted({str(r["fresh_status"]) for r in runs}))
            lines.append(f"| {s} | {hwm:.1f} | {before:.1f} | {min(r['opened'] for r in runs)} | {statuses} |")
    lines += ["", "![requests/s and p99 by scenario](chart.svg)", ""]
    # The Memory section (bench/memory.py) and the Parser section (`cargo bench --bench
    # parser`) do not come from this run: keep them, and what follows the first of them.
    if os.path.exists(args.out):
        with open(args.out) as f:
            previous = f.read()
        kept = [previous.index(h) for h in ("\n## Memory", "\n## Parser") if h in previous]
        if kept:
            lines += [previous[min(kept) + 1:].rstrip("\n"), ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


COLORS = {"wordwire": "#d62728", "before": "#999999", "hyper": "#1f77b4", "nginx": "#2ca02c",
          "redis": "#9467bd", "floor": "#8c564b"}


def nice_max(v):
    """The smallest round number (1, 1.5, 2, ... 8 times a power of ten) at or above `v`."""
    if not v or v <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(v))
    return next(m * p for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * p >= v)


def panel(svg, x0, y0, w, h, title, groups, series, value, fmt, log=False, lines=False):
    """One chart panel at (x0, y0): `groups` along x, a mark per server in `series`,
    `value(group, server)` its value or None; as lines (lines=True) or grouped bars."""
    left, bottom, top = 56, 44, 26
    pw, ph = w - left - 10, h - bottom - top
    values = [v for g in groups for s in series if (v := value(g, s)) is not None and v > 0]
    svg.append(f'<text x="{x0 + w / 2}" y="{y0 + 16}" text-anchor="middle" font-size="13">{title}</text>')
    if not values:
        return
    if log:
        lo = 10 ** math.floor(math.log10(min(values)))
        hi = 10 ** math.ceil(math.log10(max(values)))
        if hi <= lo:
            hi = lo * 10
        ticks = [lo * 10 ** i for i in range(round(math.log10(hi / lo)) + 1)]
        def y_of(v):
            return y0 + top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
    else:
        hi = nice_max(max(values) * 1.05)
        ticks = [hi * i / 5 for i in range(6)]
        def y_of(v):
            return y0 + top + ph - v / hi * ph
    for t in ticks:
        y = y_of(t) if (t > 0 or not log) else None
        if y is None:
            continue
        svg.append(f'<line x1="{x0 + left}" y1="{y:.1f}" x2="{x0 + left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{x0 + left - 5}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt(t)}</text>')
    slot = pw / len(groups)
    for i, g in enumerate(groups):
        # "GET close, 16" on two lines: the scenario, then its connections.
        for k, part in enumerate(str(g).split(", ")):
            svg.append(f'<text x="{x0 + left + slot * (i + 0.5):.1f}" y="{y0 + top + ph + 16 + 13 * k}" '
                       f'text-anchor="middle" font-size="11">{part}</text>')
    if lines:
        for s in series:
            pts = [(x0 + left + slot * (i + 0.5), y_of(v)) for i, g in enumerate(groups)
                   if (v := value(g, s)) is not None and v > 0]
            if not pts:
                continue
            d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(pts))
            svg.append(f'<path d="{d}" fill="none" stroke="{COLORS[s]}" stroke-width="2"/>')
            for x, y in pts:
                svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[s]}"/>')
    else:
        base = y0 + top + ph
        for i, g in enumerate(groups):
            present = [(s, v) for s in series if (v := value(g, s)) is not None and v > 0]
            bw = slot * 0.8 / max(1, len(present))
            for j, (s, v) in enumerate(present):
                x = x0 + left + slot * i + slot * 0.1 + j * bw
                y = y_of(v)
                svg.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{base - y:.1f}" '
                           f'fill="{COLORS[s]}"/>')


def write_chart(path, results, servers_run):
    """SVG, four panels: GET keep-alive requests/s and p99 by connections (lines), and
    the other scenarios' requests/s and p99 (grouped bars); medians over rounds."""
    meds = {name: medians(results, name) for name, *_ in SCENARIOS}
    get = [(c, n) for n, k, c, *_ in SCENARIOS if k == "get" and meds[n]]
    other = [(n, n.replace("GET new connection per request", "GET close")
              .replace(" conns", "").replace("POST --sync ", "POST, ")) for n, k, *_ in SCENARIOS
             if k != "get" and meds[n]]
    series = [s for s in servers_run if any(s in m for m in meds.values())]
    width, height = 960, 700
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15">'
           'wordwire and its peers: requests/s and p99 (medians over rounds)</text>']
    names = dict((c, n) for c, n in get)
    def get_value(field):
        return lambda c, s: meds[names[c]].get(s, {}).get(field)
    def other_value(field):
        full = {short: n for n, short in other}
        return lambda g, s: meds[full[g]].get(s, {}).get(field)
    def thousands(v):
        return f"{v / 1000:.0f}k" if v >= 1000 else f"{v:.0f}"
    def millis(v):
        return f"{v:g}"
    half = (width - 100) / 2
    if get:
        groups = [c for c, _ in get]
        panel(svg, 0, 30, half, 320, "GET keep-alive: requests/s by connections", groups, series,
              get_value("rps"), thousands, lines=True)
        panel(svg, half, 30, half, 320, "GET keep-alive: p99 ms by connections (log)", groups, series,
              get_value("p99"), millis, log=True, lines=True)
    if other:
        groups = [short for _, short in other]
        panel(svg, 0, 360, half, 320, "new connection per request, POST: requests/s", groups, series,
              other_value("rps"), thousands)
        panel(svg, half, 360, half, 320, "new connection per request, POST: p99 ms (log)", groups, series,
              other_value("p99"), millis, log=True)
    for i, s in enumerate(series):
        ly = 60 + i * 20
        svg.append(f'<rect x="{width - 90}" y="{ly - 6}" width="14" height="10" fill="{COLORS[s]}"/>')
        svg.append(f'<text x="{width - 70}" y="{ly + 4}">{s}</text>')
    svg.append(f'<text x="{width - 90}" y="{60 + len(series) * 20 + 10}" font-size="10">Redis: SET,</text>')
    svg.append(f'<text x="{width - 90}" y="{60 + len(series) * 20 + 22}" font-size="10">50 clients</text>')
    svg.append(f'<text x="{width - 90}" y="{60 + len(series) * 20 + 34}" font-size="10">beside 64</text>')
    svg.append(f'<text x="{width - 90}" y="{60 + len(series) * 20 + 46}" font-size="10">(last group: 64)</text>')
    svg.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections to hold (0: skip)")
    parser.add_argument("--only", default="", help="semicolon-separated scenario name substrings; "
                        "prints, writes nothing")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--chart", default=os.path.join(HERE, "chart.svg"))
    parser.add_argument("--before", default="", help="an older wordwire binary to compare with")
    parser.add_argument("--serve-args", default="", help="extra `wordwire serve` arguments, "
                        "split on spaces (e.g. \"--threads 1\")")
    parser.add_argument("--before-args", default="", help="the same for the --before build")
    args = parser.parse_args()
    global BEFORE, FLOOR, SCENARIOS, SERVE_ARGS, BEFORE_ARGS
    SERVE_ARGS, BEFORE_ARGS = args.serve_args.split(), args.before_args.split()
    if args.duration < 1 or args.rounds < 1:
        sys.exit("--rounds and --duration must be at least 1")
    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()[0]
    workdir = tempfile.mkdtemp(prefix="wordwire-bench-")
    # nginx's workers run as an unprivileged user and must read the store and htpasswd.
    os.chmod(workdir, 0o755)
    servers_run = [s for s in SERVERS if s != "before"]
    if args.before:
        BEFORE = os.path.abspath(args.before)
        if not os.access(BEFORE, os.X_OK):
            sys.exit(f"--before {args.before}: not an executable file")
        servers_run.insert(1, "before")
        SCENARIOS = [(n, k, c, sy, [x for s in names for x in ([s, "before"] if s == "wordwire" else [s])], e)
                     for n, k, c, sy, names, e in SCENARIOS]
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        print("redis: redis-server or redis-benchmark is not installed; skipping Redis", flush=True)
        servers_run.remove("redis")
    FLOOR = build_floor(workdir)
    if FLOOR is None:
        servers_run.remove("floor")
    SCENARIOS = [(n, k, c, sy, [s for s in names if s in servers_run], e) for n, k, c, sy, names, e in SCENARIOS]
    words_file(os.path.join(workdir, "words.txt"))
    # Salted SHA-1 ({SSHA}, which nginx's auth_basic understands): a real check per request,
    # but not apr1's 1,000 rounds of MD5, which alone held nginx to about 9k GET/s here.
    salt = os.urandom(8)
    digest = hashlib.sha1(b"wordwire" + salt).digest()
    salted = "{SSHA}" + base64.b64encode(digest + salt).decode()
    with open(os.path.join(workdir, "htpasswd"), "w") as f:
        f.write(f"wordwire:{salted}\n")
    for name in ("words.txt", "htpasswd"):
        os.chmod(os.path.join(workdir, name), 0o644)
    scenarios = [s for s in SCENARIOS if not args.only or any(o in s[0] for o in args.only.split(";"))]
    if not scenarios:
        sys.exit(f"--only {args.only!r} matches no scenario")
    servers = Servers(workdir)
    redis_bench = RedisBenchmark()
    results = {name: {} for name, *_ in SCENARIOS}
    idle = {s: [] for s in servers_run}
    try:
        # Started only where a scenario of this run needs them.
        need_get = {s for _, k, _, _, names, _ in scenarios if k != "post" for s in names}
        need_post = {(s, sy) for _, k, _, sy, names, _ in scenarios if k == "post" for s in names}
        get_ports = {s: servers.start(s, label="get") for s in servers_run if s in need_get}
        post_ports = {(s, sync): servers.start(s, sync=sync, label=f"post-{sync}")
                      for s in servers_run for sync in ["none", "always"] if (s, sync) in need_post}
        pids = {key: family(proc.pid) for key, (_, proc) in list(get_ports.items()) + list(post_ports.items())}
        for round_no in range(args.rounds):
            for name, kind, conns, sync, names, extra in scenarios:
                order = names[round_no % len(names):] + names[:round_no % len(names)]
                for s in order:
                    key = (s, sync) if kind == "post" else s
                    port, _ = post_ports[key] if kind == "post" else get_ports[key]
                    if s == "redis":
                        run = redis_bench.run(port, extra.get(s, conns), args.duration, pids[key])
                    else:
                        run = wrk(port, kind, extra.get(s, conns), args.duration, pids[key])
                    results[name].setdefault(s, []).append(run)
                    print(f"round {round_no + 1}/{args.rounds} {name:42} {s:8} {run['rps']:>10,.0f} req/s"
                          + (f"  p99 {run['p99_ms']:.2f} ms" if run["p99_ms"] is not None else "")
                          + (f"  cpu/req {run['cpu_us_per_request']:.1f} us"
                             if run.get("cpu_us_per_request") is not None else "")
                          + (f"  cs/req {run['cs_per_request']:.3f}" if run.get("cs_per_request") is not None else "")
                          + (f"  NON-2xx {run['non2xx']}" if run["non2xx"] else "")
                          + (f"  socket errors {run['errors']}" if any(run["errors"]) else ""), flush=True)
            if args.idle and not args.only:
                for s in servers_run:
                    if s in ("redis", "floor"):
                        continue  # not HTTP with auth and keep-alive state
                    idle[s].append(idle_rss(servers, s, args.idle))
                    print(f"round {round_no + 1}/{args.rounds} idle {args.idle:<37} {s:8} {idle[s][-1]}", flush=True)
    finally:
        servers.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.only:
        return
    report(args, results, idle, started, servers_run, load_start)
    write_chart(args.chart, results, servers_run)


if __name__ == "__main__":
    main()
