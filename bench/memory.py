"""Resident memory of `wordwire serve` builds, at rest and with idle keep-alive connections.

Usage: python3 bench/memory.py [--rounds 7] [--idle 1000] BINARY [BINARY...]

Each round starts every binary in turn (rotating which goes first) the way
bench/run.py does (a 1,000-word store, `--sync always`, the lab pair, output
to /dev/null), waits until it listens, and runs bench/idle.py against it: RSS
before any request, then peak RSS (`VmHWM`) with the idle connections open,
each split into file-backed (`RssFile`: the binary and the shared libraries)
and anonymous (`RssAnon`: heap, stacks, dirtied relocations) pages. Before
each start the binary's pages are dropped from the page cache
(`POSIX_FADV_DONTNEED`), so every build starts as after a reboot: how much of
a binary's file-backed pages a process maps depends on which of them the page
cache holds (the kernel maps cached neighbours of each page touched, 64 KiB
around it), and a binary the linker has just written is cached differently
from one read from disk. Prints a Markdown table of medians, in KiB; writes
nothing. RSS is not timing-sensitive: this may run on a busy machine.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# The store, the port, the wait and the credentials are bench/run.py's, so the
# figures are comparable with its idle table.
from run import AUTH, HERE, free_port, wait_listening, words_file


def drop_cached(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def one(binary, workdir, idle):
    port = free_port()
    store = os.path.join(workdir, f"store-{port}.txt")
    shutil.copy(os.path.join(workdir, "words.txt"), store)
    drop_cached(binary)
    env = dict(os.environ, WORDWIRE_USER="wordwire", WORDWIRE_PASSWORD="wordwire")
    argv = [binary, "serve", "--addr", f"127.0.0.1:{port}", "--store", store, "--sync", "always"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_listening(port, proc)
        time.sleep(0.3)
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, "idle.py"), str(port), str(proc.pid),
             "--count", str(idle), "--auth", AUTH],
            capture_output=True, text=True, timeout=120, check=True,
        )
        return json.loads(out.stdout)
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--idle", type=int, default=1000, help="idle connections to hold")
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    binaries = [os.path.abspath(b) for b in args.binaries]
    workdir = tempfile.mkdtemp(prefix="wordwire-memory-")
    runs = {b: [] for b in binaries}
    try:
        words_file(os.path.join(workdir, "words.txt"))
        for r in range(args.rounds):
            for b in binaries[r % len(binaries):] + binaries[:r % len(binaries)]:
                runs[b].append(one(b, workdir, args.idle))
                print(f"round {r + 1}/{args.rounds} {os.path.basename(b)} {runs[b][-1]}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def med(b, key):
        return round(statistics.median(run[key] for run in runs[b]))

    print(f"| binary | at rest: RSS | RssFile | RssAnon | {args.idle} idle: peak (VmHWM) | RssFile | RssAnon "
          "| peak − rest | connections held | fresh client's status |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b in binaries:
        rest, peak = med(b, "rss_before_kib"), med(b, "hwm_kib")
        statuses = ",".join(sorted({str(run["fresh_status"]) for run in runs[b]}))
        print(f"| {os.path.basename(b)} | {rest:,} | {med(b, 'rss_file_before_kib'):,} | "
              f"{med(b, 'rss_anon_before_kib'):,} | {peak:,} | {med(b, 'rss_file_kib'):,} | "
              f"{med(b, 'rss_anon_kib'):,} | {peak - rest:,} | {min(run['opened'] for run in runs[b])} | {statuses} |")


main()
