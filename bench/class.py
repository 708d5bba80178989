#!/usr/bin/env python3
"""A class of correct Python submissions graded, against the suite's own waits.

Issue 22 asks that a class of correct Python submissions grade within 1.5x of the
suite's own mandatory waits divided by --jobs. This builds a class of N copies of
tests/impls/wordserver.py (each with a `wordwire-cmd` of
`python3 -S server.py --addr {addr} --store {store}`), measures the waits, and
grades the class with each variant, interleaved: every round runs every variant
once, rotating which goes first. It prints a Markdown table of median wall times
and their ratio to the waits divided by --jobs, and the busy CPU of the whole
machine during each run (from /proc/stat).

The suite's own waits: the transcripts a submission plays (not those it skips),
replayed one at a time against our own server in-process (`wordwire replay
--format json --jobs 1`, the sum of their `duration_ms`): their `wait` and
`expect-silence` lines and the server timeouts they provoke, with nothing to start.

  bench/class.py                                # target/release/wordwire, --ahead 0 and the default
  bench/class.py --variant before=OLD_BINARY --variant 'ahead 2=target/release/wordwire --ahead 2'
  bench/class.py --subs 8 --jobs 2 --rounds 3

A variant is NAME=BINARY [GRADE FLAGS...]. Every binary must take the same
`grade` flags as the others besides its own. Nothing here runs in `cargo test`.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORDWIRE = os.path.join(ROOT, "target", "release", "wordwire")
SERVER = os.path.join(ROOT, "tests", "impls", "wordserver.py")
COMMAND = "python3 -S server.py --addr {addr} --store {store}"
HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks():
    """(busy, idle) ticks of the whole machine so far."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    return user + nice + system + irq + softirq, idle + iowait


def make_class(root, n):
    for i in range(1, n + 1):
        d = os.path.join(root, f"s{i}")
        os.makedirs(d)
        with open(SERVER) as src, open(os.path.join(d, "server.py"), "w") as dst:
            dst.write(src.read())
        with open(os.path.join(d, "wordwire-cmd"), "w") as f:
            f.write(COMMAND + "\n")


def waits(binary, submission):
    """The suite's own waits for one submission, in seconds: the in-process
    durations of the transcripts a foreign server plays."""
    run = lambda args: json.loads(
        subprocess.run(args, cwd=submission, capture_output=True, check=False).stdout
    )
    inproc = run([binary, "replay", "--format", "json", "--jobs", "1"])
    foreign = run(
        [binary, "replay", "--format", "json", "--jobs", "1", "--target-cmd", COMMAND]
    )
    played = {
        os.path.basename(t["path"])
        for t in foreign["transcripts"]
        if t["outcome"] != "skipped"
    }
    ms = sum(
        t["duration_ms"]
        for t in inproc["transcripts"]
        if os.path.basename(t["path"]) in played
    )
    return ms / 1000, len(played)


def grade(variant, class_dir, out, jobs):
    binary, flags = variant
    busy0, idle0 = cpu_ticks()
    began = time.monotonic()
    done = subprocess.run(
        [binary, "grade", class_dir, "--jobs", str(jobs), "--out", out, *flags],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - began
    busy1, idle1 = cpu_ticks()
    with open(os.path.join(out, "summary.csv")) as f:
        rows = f.read().splitlines()[1:]
    header = open(os.path.join(out, "summary.csv")).readline().split(",")
    score = header.index("score")
    scores = {r.split(",")[score] for r in rows}
    if done.returncode != 0 or scores != {"100"}:
        sys.exit(f"{binary} {' '.join(flags)}: exit {done.returncode}, scores {scores}\n{done.stderr}")
    return wall, (busy1 - busy0) / HZ, (idle1 - idle0) / HZ


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subs", type=int, default=8)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--variant", action="append", default=[])
    args = p.parse_args()
    variants = {}
    for v in args.variant or [f"ahead 0={WORDWIRE} --ahead 0", f"default={WORDWIRE}"]:
        name, _, command = v.partition("=")
        words = shlex.split(command)
        variants[name] = (words[0], words[1:])
    with tempfile.TemporaryDirectory(prefix="wordwire-class-") as tmp:
        class_dir = os.path.join(tmp, "class")
        make_class(class_dir, args.subs)
        first = next(iter(variants.values()))[0]
        wait, played = waits(first, os.path.join(class_dir, "s1"))
        base = args.subs * wait / args.jobs
        print(
            f"{args.subs} submissions, {played} transcripts played each, --jobs {args.jobs}: "
            f"waits {wait:.2f} s a submission, {base:.2f} s for the class divided by --jobs",
            file=sys.stderr,
        )
        results = {name: [] for name in variants}
        names = list(variants)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                out = os.path.join(tmp, "out-" + name.replace(" ", "_"))
                wall, busy, idle = grade(variants[name], class_dir, out, args.jobs)
                results[name].append((wall, busy, idle))
                print(f"round {r + 1} {name}: {wall:.1f} s, busy {busy:.1f} cpu-s, idle {idle:.1f}", file=sys.stderr)
        print(f"| variant | wall (median of {args.rounds}) | runs | ratio to {base:.1f} s | busy CPU | idle CPU |")
        print("|---|---|---|---|---|---|")
        for name in names:
            walls = [w for w, _, _ in results[name]]
            wall = statistics.median(walls)
            busy = statistics.median(b for _, b, _ in results[name])
            idle = statistics.median(i for _, _, i in results[name])
            runs = ", ".join(f"{w:.1f}" for w in walls)
            print(f"| {name} | {wall:.1f} s | {runs} | {wall / base:.2f} | {busy:.1f} cpu-s | {idle:.1f} cpu-s |")


if __name__ == "__main__":
    main()
