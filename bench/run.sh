#!/usr/bin/env bash
# Benchmarks wordwire against a hyper 1.x + tokio baseline and nginx on 127.0.0.1.
#
#   bench/run.sh                         # 5 rounds of 5 s per scenario (about 25 minutes)
#   bench/run.sh --rounds 1 --duration 2 # a quick look (about 3 minutes)
#   bench/run.sh --only "64 conns"       # some scenarios only; prints, writes nothing
#
# Installs wrk and nginx-light with apt if they are missing, builds wordwire and
# bench/hyper-baseline in release mode, then runs bench/run.py, which writes
# bench/RESULTS.md and bench/chart.svg. Not part of `cargo test` or CI.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
export PATH="$PATH:/usr/sbin"
# 1,000 idle connections plus wrk's need more descriptors than some defaults give.
ulimit -n 8192 2>/dev/null || true

cargo build --release --quiet
(cd bench/hyper-baseline && cargo build --release --quiet)
exec python3 bench/run.py "$@"
