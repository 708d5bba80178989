#!/usr/bin/env bash
# Instructions per parse of each benches/parser inputs, counted by callgrind,
# for one or more checkouts of wordwire side by side, and for httparse.
#
#   bench/parser-instructions.sh [-n N] [CHECKOUT...]    (default: this checkout; N: 10000)
#   e.g. git worktree add /tmp/before 959d355 && bench/parser-instructions.sh /tmp/before .
#
# For each checkout it builds bench/parser-instructions.rs in release mode as a
# small package that depends on that checkout by path (so any commit with
# `http::parse_head` works unchanged), runs it under callgrind with N parses
# and with none, and prints (total(N) - total(0)) / N per input: the whole
# input, so the pipeline row is 16 heads. A checkout that has `HeadParser` (what
# the connection parses with) gets a second column, the same heads through it.
# httparse is counted once, with the first checkout's build. Counts are
# deterministic (no quiet machine needed).
# The callgrind files stay in target/parser-instructions/ for callgrind_annotate.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
n=10000
if [[ ${1:-} == -n ]]; then
    n=$2
    shift 2
fi
[[ $# -gt 0 ]] || set -- "$repo"
if ! command -v valgrind >/dev/null; then
    echo "valgrind is missing: apt-get install -y --no-install-recommends valgrind" >&2
    exit 1
fi
inputs=(netcat_get curl_get browser_get_15_headers post_with_body pipeline_16)
work=$repo/target/parser-instructions

# The instructions of one run: callgrind's total.
count() {
    local out=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" 2>/dev/null
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

# Instructions per parse of every input by `BINARY PARSER`, one per line.
measure() {
    local binary=$1 parser=$2 dir=$3 input empty full
    for input in "${inputs[@]}"; do
        empty=$(count "$dir/callgrind.$parser.$input.0" "$binary" "$parser" "$input" 0)
        full=$(count "$dir/callgrind.$parser.$input.$n" "$binary" "$parser" "$input" "$n")
        echo $(((full - empty + n / 2) / n))
    done
}

labels=()
columns=()
httparse=
for checkout in "$@"; do
    checkout=$(cd "$checkout" && pwd)
    label=$(git -C "$checkout" rev-parse --short HEAD)
    [[ -z $(git -C "$checkout" status --porcelain -- src) ]] || label="$label+changes"
    dir=$work/$(echo "$checkout" | tr / _)
    mkdir -p "$dir"
    cat >"$dir/Cargo.toml" <<TOML
[package]
name = "parser-instructions"
version = "0.0.0"
edition = "2024"
publish = false

[[bin]]
name = "parser-instructions"
path = "$repo/bench/parser-instructions.rs"

[dependencies]
wordwire = { path = "$checkout" }
httparse = "1.10.1"

[features]
head-parser = []

[workspace]
TOML
    # Every checkout is built with this repository's profiles (LTO, codegen units),
    # as `cargo bench` here builds, so that the figures differ by code alone.
    awk '/^\[/ { keep = /^\[profile\./ } keep' "$repo/Cargo.toml" >>"$dir/Cargo.toml"
    cp "$checkout/Cargo.lock" "$dir/Cargo.lock"
    # The repository's target directory, so the dependencies built for
    # `cargo bench` are reused; the binary is copied out before the next build.
    (cd "$dir" && CARGO_TARGET_DIR=$repo/target cargo build --release --offline --quiet)
    cp "$repo/target/release/parser-instructions" "$dir/parser-instructions"
    echo "built $label ($checkout)" >&2
    labels+=("$label")
    columns+=("$(measure "$dir/parser-instructions" wordwire "$dir")")
    if [[ -z $httparse ]]; then
        httparse=$(measure "$dir/parser-instructions" httparse "$dir")
    fi
    if grep -q "pub struct HeadParser" "$checkout/src/http/request.rs"; then
        (cd "$dir" && CARGO_TARGET_DIR=$repo/target cargo build --release --offline --quiet --features head-parser)
        cp "$repo/target/release/parser-instructions" "$dir/parser-instructions-head-parser"
        labels+=("$label HeadParser")
        columns+=("$(measure "$dir/parser-instructions-head-parser" headparser "$dir")")
    fi
done

echo "Instructions per input, callgrind, $n parses minus none:"
echo
header="| input |"
rule="|---|"
for label in "${labels[@]}"; do
    header="$header $label |"
    rule="$rule---:|"
done
echo "$header httparse |"
echo "$rule---:|"
for i in "${!inputs[@]}"; do
    row="| ${inputs[$i]} |"
    for column in "${columns[@]}"; do
        row="$row $(sed -n "$((i + 1))p" <<<"$column") |"
    done
    echo "$row $(sed -n "$((i + 1))p" <<<"$httparse") |"
done
