"""Drives the benchmark that bench/run.sh builds for: see bench/README.md.

Starts wordwire, the hyper baseline and nginx on 127.0.0.1, runs wrk against
them interleaved (each round runs every scenario against every server, rotating
the order), and writes medians, ratios, p99 and idle-connection RSS to
RESULTS.md plus a chart (chart.svg) of GET requests/s by connections.
"""

import argparse
import base64
import hashlib
import json
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
AUTH = "Basic " + base64.b64encode(b"wordwire:wordwire").decode()
SERVERS = ["wordwire", "hyper", "nginx"]
# With --before BINARY: an older wordwire build, run beside the current one in every
# scenario the current one runs in (before/after from the same interleaved run).
BEFORE = None

# (name, kind, connections, sync, servers)
SCENARIOS = [
    ("GET keep-alive, 1 conn", "get", 1, None, SERVERS),
    ("GET keep-alive, 16 conns", "get", 16, None, SERVERS),
    ("GET keep-alive, 64 conns", "get", 64, None, SERVERS),
    ("GET keep-alive, 256 conns", "get", 256, None, SERVERS),
    ("GET new connection per request, 16 conns", "close", 16, None, SERVERS),
    # nginx serves a static file: it has no POST that appends.
    ("POST --sync none, 16 conns", "post", 16, "none", ["wordwire", "hyper"]),
    ("POST --sync none, 64 conns", "post", 64, "none", ["wordwire", "hyper"]),
    ("POST --sync always, 16 conns", "post", 16, "always", ["wordwire", "hyper"]),
    ("POST --sync always, 64 conns", "post", 64, "always", ["wordwire", "hyper"]),
]


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


class Servers:
    """Every server process this run started, stopped at the end by their own pid."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []

    def start(self, kind, sync="always", label=""):
        port = free_port()
        store = os.path.join(self.workdir, f"{kind}-{label}-{port}.txt")
        shutil.copy(os.path.join(self.workdir, "words.txt"), store)
        if kind in ("wordwire", "before"):
            binary = WORDWIRE if kind == "wordwire" else BEFORE
            argv = [binary, "serve", "--addr", f"127.0.0.1:{port}", "--store", store, "--sync", sync]
        elif kind == "hyper":
            argv = [HYPER, "--addr", f"127.0.0.1:{port}", "--store", store, "--sync", sync]
        else:
            argv = self.nginx_argv(port, label)
        env = dict(os.environ, WORDWIRE_USER="wordwire", WORDWIRE_PASSWORD="wordwire")
        # The access log (one line per request) goes nowhere, as it would to a fast disk.
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.procs.append(proc)
        wait_listening(port, proc)
        return port, proc

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


def context_switches(pid):
    """Voluntary plus involuntary context switches, summed over the threads of `pid`."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass  # a thread that ended meanwhile
    return total


def wrk(port, kind, connections, duration, latency=False, pid=None):
    """One wrk run. With `pid`, also counts that process's context switches per
    request, over a window that leaves out the first and last second of the run
    (connection threads of a thread-per-connection server take their counts
    with them when they exit at the end of the run)."""
    threads = 1 if connections == 1 else 2
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
            "-H", f"Authorization: {AUTH}"]
    if latency:
        argv.append("--latency")
    if kind == "post":
        argv += ["-s", os.path.join(HERE, "wrk", "post.lua")]
    elif kind == "close":
        argv += ["-s", os.path.join(HERE, "wrk", "close.lua")]
    argv.append(f"http://127.0.0.1:{port}/")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    window = None
    if pid is not None and duration >= 3:
        time.sleep(1)
        first, t1 = context_switches(pid), time.monotonic()
        time.sleep(duration - 2)
        last, t2 = context_switches(pid), time.monotonic()
        if first is not None and last is not None:
            window = (last - first, t2 - t1)
    out = proc.communicate(timeout=duration + 60)[0]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p99 = None
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m:
        p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return {
        "rps": rps,
        "requests": requests,
        "cs_per_request": window[0] / (rps * window[1]) if window and rps else None,
        "p99_ms": p99,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": [int(x) for x in errors.groups()] if errors else [0, 0, 0, 0],
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
    return statistics.median(values) if values else float("nan")


def spread(values):
    """Relative half-range of the rounds: how noisy a median is."""
    if len(values) < 2:
        return 0.0
    return (max(values) - min(values)) / 2 / statistics.median(values)


def write_chart(path, results):
    """An SVG line chart of median GET keep-alive requests/s by connections, per server."""
    points = {s: [] for s in SERVERS}
    for name, kind, conns, _, servers in SCENARIOS:
        if kind != "get":
            continue
        for s in servers:
            points[s].append((conns, median([r["rps"] for r in results[name].get(s, [])])))
    width, height, left, bottom, top, right = 640, 400, 70, 50, 40, 140
    ymax = max(v for pts in points.values() for _, v in pts) * 1.1
    xs = sorted({c for pts in points.values() for c, _ in pts})
    def x_of(c):
        return left + (xs.index(c)) * (width - left - right) / (len(xs) - 1)
    def y_of(v):
        return height - bottom - v / ymax * (height - bottom - top)
    colors = {"wordwire": "#d62728", "hyper": "#1f77b4", "nginx": "#2ca02c", "before": "#999999"}
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">'
           f'GET keep-alive: requests/s by connections (median)</text>']
    for i in range(6):
        v = ymax * i / 5
        y = y_of(v)
        svg.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v / 1000:.0f}k</text>')
    for c in xs:
        svg.append(f'<text x="{x_of(c):.1f}" y="{height - bottom + 18}" text-anchor="middle">{c}</text>')
    svg.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">connections</text>')
    for i, (s, pts) in enumerate(points.items()):
        if not pts:
            continue
        path_d = " ".join(f"{'M' if j == 0 else 'L'}{x_of(c):.1f},{y_of(v):.1f}" for j, (c, v) in enumerate(pts))
        svg.append(f'<path d="{path_d}" fill="none" stroke="{colors[s]}" stroke-width="2"/>')
        for c, v in pts:
            svg.append(f'<circle cx="{x_of(c):.1f}" cy="{y_of(v):.1f}" r="3" fill="{colors[s]}"/>')
        ly = top + 10 + i * 20
        svg.append(f'<line x1="{width - right + 15}" y1="{ly}" x2="{width - right + 35}" y2="{ly}" '
                   f'stroke="{colors[s]}" stroke-width="2"/>')
        svg.append(f'<text x="{width - right + 40}" y="{ly + 4}">{s}</text>')
    svg.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


def report(args, results, p99, idle, started):
    lines = [
        "# wordwire benchmark results",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        f"- Command: `bench/run.sh --rounds {args.rounds} --duration {args.duration}`",
        f"- {args.rounds} rounds of {args.duration} s per scenario and server, interleaved "
        "(each round runs every server on a scenario before the next scenario, rotating which goes first); "
        "figures are medians over rounds, `±` is the half-range of the rounds relative to the median.",
        "- wrk runs on the same 2 cores as the servers (and other work on the machine), so absolute "
        "figures are noisy: compare the ratios, which come from the same interleaved run.",
        "- Store: 1,000 words (about 7 KB). GET sends valid Basic credentials. "
        "nginx: `nginx-light`, `auth_basic` with a salted SHA-1 (`{SSHA}`) htpasswd entry (apr1 costs nginx about 9x), `worker_processes auto`, `keepalive_requests 1000000`, access log off.",
        "",
        "## Requests per second",
        "",
        "| scenario | " + " | ".join(SERVERS) + " | wordwire / hyper | wordwire / nginx |"
        + (" wordwire / before |" if BEFORE else ""),
        "|---|" + "---:|" * (len(SERVERS) + 2 + (1 if BEFORE else 0)),
    ]
    for name, _, _, _, servers in SCENARIOS:
        cells = []
        med = {}
        for s in SERVERS:
            runs = [r["rps"] for r in results[name].get(s, [])]
            if runs:
                med[s] = median(runs)
                cells.append(f"{med[s]:,.0f} ±{spread(runs) * 100:.0f}%")
            else:
                cells.append("—")
        ratio_h = f"{med['wordwire'] / med['hyper']:.2f}x" if "hyper" in med else "—"
        ratio_n = f"{med['wordwire'] / med['nginx']:.2f}x" if "nginx" in med else "—"
        ratio_b = ""
        if BEFORE:
            ratio_b = f" {med['wordwire'] / med['before']:.2f}x |" if "before" in med else " — |"
        lines.append(f"| {name} | {' | '.join(cells)} | {ratio_h} | {ratio_n} |{ratio_b}")
    lines += ["", "Errors (non-2xx responses, socket errors) summed over all rounds:", ""]
    for name, _, _, _, servers in SCENARIOS:
        for s in servers:
            runs = results[name].get(s, [])
            non2xx = sum(r["non2xx"] for r in runs)
            errs = [sum(r["errors"][i] for r in runs) for i in range(4)]
            if non2xx or any(errs):
                lines.append(f"- {name}, {s}: {non2xx} non-2xx; socket errors connect/read/write/timeout "
                             f"{'/'.join(map(str, errs))}")
    if lines[-1] == "":
        lines[-2] += " none."
        lines.pop()
    lines += ["", "## Context switches per request", "",
              "Voluntary plus involuntary switches summed over `/proc/PID/task/*/status` from 1 s into "
              "each wrk run to 1 s before its end, divided by the requests served in that window "
              "(requests/s times its length); median over rounds. Threads that exit inside the window "
              "take their counts with them, so for a thread-per-connection server with a new "
              "connection per request the figure is a lower bound; nginx's workers are separate "
              "processes and are not counted.", "",
              "| scenario | " + " | ".join(s for s in SERVERS if s != "nginx") + " |",
              "|---|" + "---:|" * len([s for s in SERVERS if s != "nginx"])]
    for name, _, _, _, servers in SCENARIOS:
        cells = []
        for s in SERVERS:
            if s == "nginx":
                continue
            runs = [r["cs_per_request"] for r in results[name].get(s, []) if r.get("cs_per_request") is not None]
            cells.append(f"{median(runs):.3f}" if runs else "—")
        if any(c != "—" for c in cells):
            lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += ["", "## p99 latency, GET keep-alive at 256 connections (wrk `--latency`)", "",
              "| " + " | ".join(SERVERS) + " | wordwire / hyper |", "|" + "---:|" * (len(SERVERS) + 1)]
    med = {s: median(v) for s, v in p99.items() if v}
    cells = [f"{med[s]:.2f} ms" if s in med else "—" for s in SERVERS]
    ratio = f"{med['wordwire'] / med['hyper']:.2f}x" if "wordwire" in med and "hyper" in med else "—"
    lines.append(f"| {' | '.join(cells)} | {ratio} |")
    lines += ["", f"## {args.idle} idle keep-alive connections", "",
              "Each connection sends one GET, reads the answer and stays open; meanwhile a fresh "
              "connection sends a GET. Peak RSS is `VmHWM` from `/proc/PID/status` (nginx: master plus workers), "
              "on a freshly started server.", "",
              "| server | peak RSS (MiB) | RSS before (MiB) | connections held | fresh client's status |",
              "|---|---:|---:|---:|---:|"]
    for s in SERVERS:
        runs = [r for r in idle.get(s, []) if "hwm_kib" in r]
        if not runs:
            lines.append(f"| {s} | failed: {idle.get(s)} | | | |")
            continue
        hwm = median([r["hwm_kib"] for r in runs]) / 1024
        before = median([r["rss_before_kib"] for r in runs]) / 1024
        statuses = ",".join(sorted({str(r["fresh_status"]) for r in runs}))
        lines.append(f"| {s} | {hwm:.1f} | {before:.1f} | {min(r['opened'] for r in runs)} | {statuses} |")
    lines += ["", "![GET requests/s by connections](chart.svg)", ""]
    # The Parser section comes from `cargo bench --bench parser`, not from this run: keep it.
    if os.path.exists(args.out):
        with open(args.out) as f:
            previous = f.read()
        if "\n## Parser" in previous:
            lines += [previous[previous.index("\n## Parser") + 1:].rstrip("\n"), ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections to hold")
    parser.add_argument("--only", default="", help="semicolon-separated scenario name substrings")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--chart", default=os.path.join(HERE, "chart.svg"))
    parser.add_argument("--before", default="", help="an older wordwire binary to compare with")
    args = parser.parse_args()
    global BEFORE, SCENARIOS
    if args.before:
        BEFORE = os.path.abspath(args.before)
        SCENARIOS = [(n, k, c, sy, [x for s in names for x in ([s, "before"] if s == "wordwire" else [s])])
                     for n, k, c, sy, names in SCENARIOS]
        SERVERS.insert(1, "before")
    started = datetime.now(timezone.utc)
    workdir = tempfile.mkdtemp(prefix="wordwire-bench-")
    # nginx's workers run as an unprivileged user and must read the store and htpasswd.
    os.chmod(workdir, 0o755)
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
    servers = Servers(workdir)
    results = {name: {} for name, *_ in SCENARIOS}
    p99 = {s: [] for s in SERVERS}
    idle = {s: [] for s in SERVERS}
    try:
        get_ports = {s: servers.start(s, label="get") for s in SERVERS}
        post_ports = {(s, sync): servers.start(s, sync=sync, label=f"post-{sync}")
                      for s in SERVERS if s != "nginx" for sync in ["none", "always"]}
        for round_no in range(args.rounds):
            for name, kind, conns, sync, names in scenarios:
                order = names[round_no % len(names):] + names[:round_no % len(names)]
                for s in order:
                    port, proc = post_ports[(s, sync)] if kind == "post" else get_ports[s]
                    run = wrk(port, kind, conns, args.duration, latency=(kind == "get" and conns == 256),
                              pid=proc.pid if s != "nginx" else None)
                    results[name].setdefault(s, []).append(run)
                    if kind == "get" and conns == 256:
                        p99[s].append(run["p99_ms"])
                    print(f"round {round_no + 1}/{args.rounds} {name:45} {s:9} {run['rps']:>10,.0f} req/s"
                          + (f"  p99 {run['p99_ms']:.2f} ms" if run["p99_ms"] else "")
                          + (f"  cs/req {run['cs_per_request']:.3f}" if run.get("cs_per_request") is not None else "")
                          + (f"  NON-2xx {run['non2xx']}" if run["non2xx"] else "")
                          + (f"  socket errors {run['errors']}" if any(run["errors"]) else ""), flush=True)
            if args.idle and not args.only:
                for s in SERVERS:
                    idle[s].append(idle_rss(servers, s, args.idle))
                    print(f"round {round_no + 1}/{args.rounds} idle {args.idle:<40} {s:9} {idle[s][-1]}", flush=True)
    finally:
        servers.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.only:
        return
    report(args, results, p99, idle, started)
    write_chart(args.chart, results)


main()
