#!/usr/bin/env bash
# Benchmarks wordwire against a hyper 1.x + tokio baseline, nginx, Redis
# (appendfsync always) and the floor server ../shared/floor/limit.c on 127.0.0.1,
# in one interleaved run. See bench/README.md.
#
#   bench/run.sh                         # 5 rounds of 5 s per scenario (about 20 minutes)
#   bench/run.sh --rounds 1 --duration 2 # a quick look (about 2 minutes)
#   bench/run.sh --only "64 conns"       # some scenarios only; prints, writes nothing
#   bench/run.sh --before OLD_BINARY     # also runs an older wordwire build, interleaved
#
# Installs wrk, nginx-light, redis-server and redis-tools with apt if they are
# missing, builds wordwire and bench/hyper-baseline in release mode, then runs
# bench/run.py, which builds the floor server into its temporary directory and
# writes bench/RESULTS.md and bench/chart.svg. Not part of `cargo test` or CI.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-benchmark >/dev/null || missing+=(redis-tools)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
export PATH="$PATH:/usr/sbin"
# 1,000 idle connections plus wrk's need more descriptors than some defaults give.
ulimit -n 8192 2>/dev/null || true

cargo build --release --quiet
(cd bench/hyper-baseline && cargo build --release --quiet)
exec python3 bench/run.py "$@"
