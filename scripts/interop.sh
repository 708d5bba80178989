#!/usr/bin/env bash
# Interop: drives the release binary with clients nobody here wrote (curl,
# Python's http.client and urllib.request, netcat, wrk, headless Chromium) and
# checks the documented outcome of each. Starts the server itself on a free
# port of 127.0.0.1 with a temporary store, and stops it at the end.
#
#   scripts/interop.sh            # builds and uses target/release/wordwire
#   WORDWIRE_BIN=path scripts/interop.sh
#
# Needs the Debian packages listed in scripts/interop-deps.txt. A missing client
# is skipped with a `skip` line that names it, the command not found and its
# package; with CI=true (as `.ci/run` runs it) a missing client is fatal instead.
# Prints one line per check, then `N passed, M failed, K skipped`; exits 1 if
# any check failed, 2 if CI lacks a client or the server does not start.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${WORDWIRE_BIN:-}" ]; then
    bin=$WORDWIRE_BIN
else
    # Always (re)build, so a stale binary is never the one tested; a no-op when up to date.
    bin=$root/target/release/wordwire
    (cd "$root" && cargo build --release --quiet) || {
        echo "interop: cargo build --release failed" >&2
        exit 2
    }
fi
# usable CLIENT COMMAND PACKAGE: true if COMMAND is on PATH. Otherwise a skip
# line, or with CI=true an error and exit 2: CI must test every client.
skipped=()
usable() {
    command -v "$2" >/dev/null && return 0
    if [ "${CI:-}" == "true" ]; then
        echo "interop: cannot test $1: no $2 on PATH (Debian package $3); CI requires every client" >&2
        exit 2
    fi
    skipped+=("$1: no $2 on PATH (install the Debian package $3)")
    echo "skip ${skipped[-1]}"
    return 1
}
if [ "${CI:-}" == "true" ]; then
    # Fail before building anything else.
    usable curl curl curl
    usable python python3 python3
    usable netcat nc netcat-openbsd
    usable wrk wrk wrk
    usable chromium chromium chromium
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The lab pair wordwire:wordwire, which the server accepts on loopback only.
user=wordwire
password=wordwire
basic="Basic $(printf '%s:%s' "$user" "$password" | base64)"

env -u WORDWIRE_USER -u WORDWIRE_PASSWORD "$bin" serve --addr 127.0.0.1:0 \
    --store "$work/words.txt" --read-timeout 5 --request-timeout 10 \
    2>"$work/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/server.log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "interop: the server did not start:" >&2
    cat "$work/server.log" >&2
    exit 2
fi
url="http://127.0.0.1:$port/"
echo "interop: wordwire on $url"

passed=0
failed=0
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" == "$3" ]; then
        echo "ok   $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1"
        echo "     expected: $(printf '%q' "$2")"
        echo "     got:      $(printf '%q' "$3")"
        failed=$((failed + 1))
    fi
}
# contains NAME NEEDLE HAYSTACK
contains() {
    if [[ "$3" == *"$2"* ]]; then
        echo "ok   $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1"
        echo "     expected to contain: $(printf '%q' "$2")"
        echo "     got: $(printf '%q' "${3:0:600}")"
        failed=$((failed + 1))
    fi
}

# curl: status and body of one request, as "STATUS BODY".
c() {
    local out
    out=$(curl -sS --max-time 20 -o "$work/body" -w '%{http_code}' "$@" 2>"$work/curl.err") ||
        out="curl failed: $(cat "$work/curl.err")"
    printf '%s %s' "$out" "$(cat "$work/body" 2>/dev/null)"
}

# The words the store should hold, as the clients that ran left it.
words=()
# pylist WORD...: the words as Python prints a list of strings.
pylist() {
    local out="" w
    for w in "$@"; do out+="${out:+, }'$w'"; done
    printf '[%s]' "$out"
}

# --- curl -------------------------------------------------------------------
if usable curl curl curl; then
    check "curl -d posts a word" "200 added hello" "$(c -d hello "$url")"
    printf 'world\n' >"$work/word.txt"
    check "curl --data-binary @file posts the file's word" "200 added world" \
        "$(c --data-binary @"$work/word.txt" "$url")"
    printf 'bad word' >"$work/bad.txt"
    check "curl --data-binary with two words is 400" \
        "400 word must be 1-64 ASCII letters or digits" "$(c --data-binary @"$work/bad.txt" "$url")"
    check "curl -H 'Transfer-Encoding: chunked' uploads chunked" "200 added chunky" \
        "$(printf chunky | c -H 'Transfer-Encoding: chunked' --data-binary @- "$url")"
    check "curl -T - (stdin, chunked PUT) replaces a word" "200 replaced 1" \
        "$(printf 'chunky chunked' | c -T - "$url")"
    printf 'world earth' >"$work/put.txt"
    check "curl -T FILE puts to /FILE, which is not the resource" \
        "404 not found: the only resource is /" "$(c -T "$work/put.txt" "$url")"
    check "curl -T FILE --request-target / replaces a word" "200 replaced 1" \
        "$(c -T "$work/put.txt" --request-target / "$url")"
    check "curl -X DELETE removes a word" "200 deleted 1" "$(c -X DELETE -d earth "$url")"

    # Bodies over 1 KiB. curl 7.x sends Expect: 100-continue on its own for large
    # uploads (8.x only over 1 MiB), so it is asked for explicitly where it matters.
    { printf padded; head -c 2000 /dev/zero | tr '\0' ' '; } >"$work/padded.txt"
    curl -sS --max-time 20 -v -H 'Expect: 100-continue' --data-binary @"$work/padded.txt" \
        "$url" >"$work/body" 2>"$work/verbose"
    contains "a 2 kB body with Expect: 100-continue gets 100 Continue" \
        "< HTTP/1.1 100 Continue" "$(cat "$work/verbose")"
    contains "... and then 200 (the padding is trimmed)" "added padded" "$(cat "$work/body")"
    head -c 2000 /dev/zero | tr '\0' a >"$work/long.txt"
    check "a 2 kB single 'word' is 400 (words are at most 64 letters)" \
        "400 word must be 1-64 ASCII letters or digits" \
        "$(c -H 'Expect: 100-continue' --data-binary @"$work/long.txt" "$url")"
    head -c 1100000 /dev/zero | tr '\0' ' ' >"$work/huge.txt"
    uploaded=$(curl -sS --max-time 20 -v -o "$work/body" -w '%{size_upload}' \
        --data-binary @"$work/huge.txt" "$url" 2>"$work/verbose")
    contains "a 1 MiB body: curl sends Expect: 100-continue" "> Expect: 100-continue" \
        "$(cat "$work/verbose")"
    # Every status line curl saw, in order: the 413 alone, no 100 Continue before it.
    check "... and gets 413 at once, without 100 Continue" "< HTTP/1.1 413 Content Too Large" \
        "$(grep '^< HTTP/' "$work/verbose" | tr -d '\r')"
    check "... before sending any of the body (curl's size_upload)" "0" "$uploaded"

    # The store now: hello, chunked (chunky replaced), padded (world replaced by earth, deleted).
    check "curl -u user:pass gets the words" "200 $(printf 'hello\nchunked\npadded')" \
        "$(c -u "$user:$password" "$url")"
    check "curl without credentials is 401" "401 valid credentials required" "$(c "$url")"
    check "curl -u with a wrong password is 401" "401 valid credentials required" \
        "$(c -u "$user:nope" "$url")"
    contains "a 401 carries the Basic challenge" \
        'WWW-Authenticate: Basic realm="wordwire", charset="UTF-8"' \
        "$(curl -sS --max-time 20 -D - -o /dev/null "$url" | tr -d '\r')"
    head_out=$(curl -sS --max-time 20 --head -u "$user:$password" "$url" | tr -d '\r')
    contains "curl --head is 200" "HTTP/1.1 200 OK" "$head_out"
    contains "... with GET's Content-Length" "Content-Length: 21" "$head_out"
    connects=$(curl -sS --max-time 20 -u "$user:$password" -o /dev/null -o /dev/null -o /dev/null \
        -w '%{num_connects}\n' "$url" "${url}?second" "${url}?third" | paste -sd' ')
    check "curl reuses one keep-alive connection for three URLs" "1 0 0" "$connects"
    words+=(hello chunked padded)
fi

# --- Python -----------------------------------------------------------------
if usable python python3 python3; then
    python_out=$(python3 - "$port" "$user" "$password" <<'PY' 2>&1
import base64, http.client, sys, urllib.error, urllib.request
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("POST", "/", body=b"python")
r = conn.getresponse()
print("http.client POST", r.status, r.read().decode().strip())
token = base64.b64encode(f"{user}:{password}".encode()).decode()
conn.request("GET", "/", headers={"Authorization": "Basic " + token})
r = conn.getresponse()
print("http.client GET", r.status, r.read().decode().split())
conn.request("PUT", "/", body=b"python snake")
r = conn.getresponse()
print("http.client PUT", r.status, r.read().decode().strip())
conn.close()
# urllib asks without credentials, reads the challenge, and retries with them.
url = f"http://127.0.0.1:{port}/"
manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
manager.add_password(None, url, user, password)
opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager))
with opener.open(url, timeout=10) as response:
    print("urllib GET", response.status, response.read().decode().split())
try:
    urllib.request.urlopen(url, timeout=10)
except urllib.error.HTTPError as e:
    print("urllib without auth", e.code, e.headers.get("WWW-Authenticate"))
PY
    )
    contains "python http.client POST" "http.client POST 200 added python" "$python_out"
    contains "python http.client GET with Basic auth on the same connection" \
        "http.client GET 200 $(pylist "${words[@]}" python)" "$python_out"
    contains "python http.client PUT" "http.client PUT 200 replaced 1" "$python_out"
    contains "python urllib.request with HTTPBasicAuthHandler" \
        "urllib GET 200 $(pylist "${words[@]}" snake)" "$python_out"
    contains "python urllib.request without credentials sees the challenge" \
        'urllib without auth 401 Basic realm="wordwire", charset="UTF-8"' "$python_out"
    words+=(snake)
fi

# --- netcat, typing bare-LF requests ------------------------------------------
if usable netcat nc netcat-openbsd; then
    nc_post=$(printf 'POST / HTTP/1.1\nHost: localhost\nContent-Length: 7\nConnection: close\n\nnetcat\n' |
        timeout 10 nc -N 127.0.0.1 "$port" | tr -d '\r')
    contains "nc: a bare-LF POST is accepted" "HTTP/1.1 200 OK" "$nc_post"
    contains "... and answered" "added netcat" "$nc_post"
    nc_get=$(printf 'GET / HTTP/1.0\nAuthorization: %s\n\n' "$basic" |
        timeout 10 nc -N 127.0.0.1 "$port" | tr -d '\r')
    contains "nc: a bare-LF HTTP/1.0 GET gets the words" "netcat" "$nc_get"
    contains "... and Connection: close" "Connection: close" "$nc_get"
    nc_bad=$(printf 'GET / HTTP/1.1\nHost : localhost\n\n' | timeout 10 nc -N 127.0.0.1 "$port" | tr -d '\r')
    contains "nc: whitespace before the colon is 400" "HTTP/1.1 400 Bad Request" "$nc_bad"
    words+=(netcat)
fi

# --- wrk ----------------------------------------------------------------------
if usable wrk wrk wrk; then
    wrk_out=$(timeout 60 wrk -t2 -c16 -d3s -H "Authorization: $basic" "$url" 2>&1)
    requests=$(printf '%s\n' "$wrk_out" | sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p')
    if [ -n "$requests" ] && [ "$requests" -gt 0 ]; then
        echo "ok   wrk ran $requests requests in 3 s"
        passed=$((passed + 1))
    else
        check "wrk ran requests" "a count" "$wrk_out"
fi
check "wrk: no non-2xx responses" "" "$(printf '%s\n' "$wrk_out" | grep 'Non-2xx')"
check "wrk: no socket errors" "" "$(printf '%s\n' "$wrk_out" | grep 'Socket errors')"
fi

# --- headless Chromium ----------------------------------------------------------
if usable chromium chromium chromium; then
    profile=$(mktemp -d -p "$work")
    dom=$(timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$profile" \
        --dump-dom "http://$user:$password@127.0.0.1:$port/" 2>"$work/chromium.log")
    contains "chromium renders the answer" "<html" "$dom"
    contains "chromium shows the words (credentials in the URL)" \
        "$(printf '%s\n' "${words[@]}")" "$dom"
fi

echo
for reason in "${skipped[@]}"; do
    echo "skipped $reason"
done
echo "$passed passed, $failed failed, ${#skipped[@]} skipped"
if [ "$failed" -gt 0 ]; then
    echo "interop: server log tail:"
    tail -n 30 "$work/server.log"
    exit 1
fi
