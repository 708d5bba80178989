#!/usr/bin/env bash
# Durable POST throughput of wordwire, measured the way issue 5 asks:
#   - requests/s of POST at 1, 16 and 64 concurrent keep-alive clients (wrk), for
#     `serve --sync always` (every 200 is fsync'd; group commit) and `--sync none`;
#   - the machine's one-writer write+fdatasync loop rate on the same filesystem.
# Rounds are interleaved (every scenario once per round, in turn) so that drift in the
# machine's load hits all of them alike; the table shows the median of the rounds and ratios.
#
# Usage: bench/durability.sh [ROUNDS] [SECONDS_PER_RUN]       (defaults: 5 rounds, 3 s)
#   WORDWIRE_BENCH_DIR=/some/dir  where the store files go (default: target/, this repo's fs).
# Needs wrk (installed with apt-get if missing) and python3. Builds the release binary.
set -euo pipefail

rounds=${1:-5}
secs=${2:-3}
cd "$(dirname "$0")/.."
root=$PWD

if ! command -v wrk >/dev/null; then
    apt-get install -y wrk >/dev/null
fi
cargo build --release --quiet
bin=$root/target/release/wordwire

work=$(mktemp -d "${WORDWIRE_BENCH_DIR:-$root/target}/durability-bench.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "durable"
wrk.headers["Content-Type"] = "text/plain"
LUA

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# POST requests/s against a fresh store with `--sync $1` and `$2` connections.
run_wrk() {
    local mode=$1 conns=$2 port threads out
    port=$(free_port)
    rm -f "$work/words.txt"
    # The access log is one stderr line per request: off to /dev/null, as in production
    # it would go to a log collector, not compete with the store's disk.
    "$bin" serve --addr "127.0.0.1:$port" --store "$work/words.txt" --sync "$mode" \
        --max-connections 4096 2>/dev/null &
    server_pid=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        sleep 0.05
    done
    threads=$((conns < 2 ? 1 : 2))
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$port/")
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    if grep -q "Non-2xx" <<<"$out"; then
        echo "non-2xx answers with --sync $mode -c $conns:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

# One writer: write a short line, fdatasync, repeat, for $secs seconds. Lines per second.
fsync_loop() {
    python3 - "$work/fsync-loop.txt" "$secs" <<'PY'
import os, sys, time
path, secs = sys.argv[1], float(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
n, start = 0, time.monotonic()
while time.monotonic() - start < secs:
    os.write(fd, b"durable\n")
    os.fdatasync(fd)
    n += 1
print(f"{n / (time.monotonic() - start):.1f}")
os.close(fd)
PY
}

declare -A samples
scenarios=("fsync" "always 1" "none 1" "always 16" "none 16" "always 64" "none 64")
for round in $(seq "$rounds"); do
    for scenario in "${scenarios[@]}"; do
        if [[ $scenario == fsync ]]; then
            value=$(fsync_loop)
        else
            value=$(run_wrk $scenario)
        fi
        samples[$scenario]+="$value "
        echo "round $round: $scenario -> $value" >&2
    done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

fsync_rate=$(median "${samples[fsync]}")
echo
echo "Filesystem: $(df -T "$work" | awk 'NR==2 {print $2" on "$1}'); $(nproc) cores; $rounds rounds of ${secs}s; medians."
echo
echo "| clients | --sync always (req/s) | --sync none (req/s) | always / none | always / one-writer fsync loop |"
echo "|---:|---:|---:|---:|---:|"
for conns in 1 16 64; do
    a=$(median "${samples[always $conns]}")
    n=$(median "${samples[none $conns]}")
    echo "| $conns | $a | $n | $(ratio "$a" "$n") | $(ratio "$a" "$fsync_rate") |"
done
echo
echo "One-writer write+fdatasync loop: $fsync_rate lines/s."
echo "Targets: always/none >= 0.7 at 64 clients; always >= 5x the fsync loop at 16 clients."
