#!/usr/bin/env bash
# Builds the seed corpus of every fuzz target in fuzz/corpus/<target>/ from
# the request fixtures (fixtures/**/*.http, or the directories given as
# arguments) plus the hand-written requests below. Safe to run again.
#
#   fuzz/seed.sh [FIXTURE_DIR...]
#
# parse_head seeds carry two control bytes first (limits mode 0, split 0xff);
# chunked seeds carry one (the limits/piece seed); connection seeds carry
# one (the mode byte: 0x10 single bytes then a half-close, 0x2e pieces of 8,
# short writes, then silence) before the raw bytes a client sends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
corpus=$here/corpus
mkdir -p "$corpus"/{parse_head,chunked,connection}
if [ $# -eq 0 ]; then set -- "$root/fixtures"; fi

n=0
add_request() { # bytes on stdin
    local tmp name
    tmp=$(mktemp)
    cat >"$tmp"
    name=$(sha1sum "$tmp" | cut -c1-16)
    { printf '\x10'; cat "$tmp"; } >"$corpus/connection/$name"
    { printf '\x2e'; cat "$tmp"; } >"$corpus/connection/$name-8"
    { printf '\x00\xff'; cat "$tmp"; } >"$corpus/parse_head/$name"
    rm -f "$tmp"
    n=$((n + 1))
}
add_chunked() { # a chunked body on stdin
    local tmp name
    tmp=$(mktemp)
    { printf '\x40'; cat; } >"$tmp"
    name=$(sha1sum "$tmp" | cut -c1-16)
    mv "$tmp" "$corpus/chunked/$name"
}

for dir in "$@"; do
    [ -d "$dir" ] || continue
    while IFS= read -r -d '' file; do
        add_request <"$file"
    done < <(find "$dir" -name '*.http' -print0)
done

auth='Authorization: Basic d29yZHdpcmU6d29yZHdpcmU='
while IFS= read -r line; do
    printf "$line" | add_request
done <<EOF_SEEDS
POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello
POST / HTTP/1.1\nHost: x\nContent-Length: 6\n\nhello\n
GET / HTTP/1.1\r\nHost: 127.0.0.1:12345\r\n$auth\r\n\r\n
HEAD / HTTP/1.1\r\nHost: x\r\n$auth\r\n\r\n
GET / HTTP/1.0\r\nConnection: keep-alive\r\n$auth\r\n\r\nGET / HTTP/1.0\r\n\r\n
PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nseed word
DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nseed
OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n
PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx
POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello
POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nhel\r\n2\r\nlo\r\n0\r\nX-T: 1\r\n\r\n
POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello
POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n
POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello
POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello
GET http://x:1/?q HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n
GET / HTTP/1.1\r\nHost : x\r\n\r\n
GET / HTTP/1.1\rHost: x\r\n\r\n
POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\naPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nb
EOF_SEEDS

while IFS= read -r line; do
    printf "$line" | add_chunked
done <<'EOF_CHUNKS'
5\r\nhello\r\n0\r\n\r\n
3;ext="q\\"x"\r\nabc\r\n0;last\r\nTrailer: v\r\n\r\n
0000A\r\n0123456789\r\n0\r\n\r\n
5\nhello\n0\n\n
ffffffffffffffff\r\n
EOF_CHUNKS

echo "seeded $n requests into $corpus/{parse_head,connection} and $(ls "$corpus/chunked" | wc -l) chunked bodies"
