#!/usr/bin/env python3
"""A small implementation of the wordwire contract (shared/CONTRACT.md) in
Python's standard library, written apart from wordwire's code, for grading
tests (tests/grading.rs): the grader must pass it, and each defect_*.py beside
it subclasses WordServer to break exactly one rule.

One thread per connection; the store file is read and written on every
request (appends are fsync'd, PUT and DELETE replace the file atomically).
"""

import argparse
import base64
import hmac
import os
import re
import socket
import sys
import threading
import time
from email.utils import formatdate

WORD = re.compile(rb"[A-Za-z0-9]{1,64}")
TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 3986 §3.2.2: an IP-literal or a reg-name (unreserved, pct-encoded, sub-delims).
HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+)(:[0-9]*)?")
ALLOW = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
METHODS = ALLOW.split(", ")
REASONS = {
    100: "Continue", 200: "OK", 204: "No Content", 400: "Bad Request",
    401: "Unauthorized", 404: "Not Found", 408: "Request Timeout",
    413: "Content Too Large", 414: "URI Too Long",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


class Reject(Exception):
    """Answer `status` with `message`, then close."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Gone(Exception):
    """The peer closed, or stayed silent between requests: close without a word."""


class Conn:
    """Reads a connection's bytes under the contract's deadlines."""

    def __init__(self, sock, server):
        self.sock = sock
        self.server = server
        self.buf = b""
        self.started = None  # when the current request's first byte came

    def more(self):
        cfg = self.server.cfg
        if self.started is None:
            wait = cfg.idle_timeout
        else:
            left = self.started + cfg.request_timeout - time.monotonic()
            wait = min(cfg.read_timeout, max(left, 0.001))
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            if self.started is None:
                raise Gone()
            raise Reject(cfg.timeout_status, "request timed out")
        except OSError:
            raise Gone()
        if not data:
            if self.started is None and not self.buf:
                raise Gone()
            raise Reject(400, "request cut short")
        self.buf += data

    def line(self, limit, status):
        """One line without its end (LF, or CRLF); a longer one is `status`."""
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                raise Reject(status, "line too long")
            self.more()
        line, self.buf = self.buf.split(b"\n", 1)
        if len(line) > limit:
            raise Reject(status, "line too long")
        return line[:-1] if line.endswith(b"\r") else line

    def exactly(self, n):
        while len(self.buf) < n:
            self.more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def chunk_line(self):
        """A chunked-framing line: only CRLF ends it (RFC 9112 §7.1)."""
        while b"\n" not in self.buf:
            if len(self.buf) > 4096:
                raise Reject(400, "chunk line too long")
            self.more()
        line, self.buf = self.buf.split(b"\n", 1)
        if not line.endswith(b"\r"):
            raise Reject(400, "chunked framing needs CRLF")
        return line[:-1]


class WordServer:
    """The contract, one method per decision so that a defect overrides one."""

    line_end = b"\r\n"

    def __init__(self, cfg):
        self.cfg = cfg
        self.store = cfg.store
        self.lock = threading.Lock()
        self.open = 0
        self.user = os.environ.get("WORDWIRE_USER", "wordwire").encode()
        self.password = os.environ.get("WORDWIRE_PASSWORD", "wordwire").encode()
        if not os.path.exists(self.store):
            open(self.store, "ab").close()

    # --- the wire -------------------------------------------------------

    def send(self, sock, status, body=b"", close=False, extra=(), head_only=False):
        e = self.line_end
        out = b"HTTP/1.1 %d %s" % (status, REASONS[status].encode()) + e
        out += b"Date: " + formatdate(usegmt=True).encode() + e
        out += b"Server: pyword/1" + e
        for name, value in extra:
            out += name.encode() + b": " + value.encode() + e
        if status != 204:
            out += b"Content-Type: text/plain; charset=utf-8" + e
            out += b"Content-Length: %d" % len(body) + e
        if close:
            out += b"Connection: close" + e
        out += e
        if not head_only and status != 204:
            out += body
        sock.sendall(out)

    def message(self, text):
        return text.encode() + b"\n"

    # --- one connection ---------------------------------------------------

    def serve(self, sock):
        conn = Conn(sock, self)
        try:
            while True:
                if not self.exchange(conn):
                    break
        except Reject as r:
            try:
                self.send(sock, r.status, self.message(r.message), close=True)
            except OSError:
                pass
        except Gone:
            pass
        finally:
            try:
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(0.2)
                while sock.recv(65536):
                    pass
            except OSError:
                pass
            sock.close()
            with self.lock:
                self.open -= 1

    def exchange(self, conn):
        """Reads and answers one request; False when the connection should close."""
        cfg = self.cfg
        conn.started = None
        # RFC 9112 §2.2: empty lines before the request-line are ignored.
        while True:
            while not conn.buf:
                conn.more()
            if conn.buf.startswith(b"\r\n"):
                conn.buf = conn.buf[2:]
            elif conn.buf.startswith(b"\n"):
                conn.buf = conn.buf[1:]
            elif conn.buf == b"\r":
                conn.more()
            else:
                break
        conn.started = time.monotonic()
        request_line = conn.line(cfg.max_line, 414)
        method, target, version = self.parse_request_line(request_line)
        fields = self.parse_fields(conn)
        get = lambda name: [v for n, v in fields if n == name]
        if version == b"HTTP/1.1" and len(get(b"host")) != 1:
            raise Reject(400, "exactly one Host field is required")
        for host in get(b"host"):
            if not HOST.fullmatch(host) or host.startswith(b":"):
                raise Reject(400, "invalid Host")
        path = self.route_target(target)
        tokens = [t.strip().lower() for v in get(b"connection") for t in v.split(b",")]
        keep = b"close" not in tokens and (version == b"HTTP/1.1" or b"keep-alive" in tokens)
        # Framing (RFC 9112 §6): no smuggling.
        te, cl = get(b"transfer-encoding"), get(b"content-length")
        if te and cl:
            raise Reject(400, "both Transfer-Encoding and Content-Length")
        if te and [t.strip().lower() for t in b",".join(te).split(b",")] != [b"chunked"]:
            raise Reject(400, "only chunked transfer coding is supported")
        length = 0
        if cl:
            values = {v.strip() for c in cl for v in c.split(b",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise Reject(400, "invalid Content-Length")
            length = int(next(iter(values)))
            if length > cfg.max_body:
                raise Reject(413, "request body too large")
        early = self.precheck(method, path, get(b"authorization"))
        if early is not None:
            status, text, extra = early
            if te or length:
                # Answer without reading the body, then close.
                self.send(conn.sock, status, self.message(text), close=True, extra=extra)
                return False
            self.send(conn.sock, status, self.message(text), close=not keep, extra=extra,
                      head_only=method == b"HEAD")
            return keep
        if [v.lower() for v in get(b"expect")] == [b"100-continue"] and (te or length):
            conn.sock.sendall(b"HTTP/1.1 100 Continue" + self.line_end + self.line_end)
        body = self.read_chunked(conn) if te else conn.exactly(length)
        status, text, extra = self.handle(method, body)
        payload = text if isinstance(text, bytes) else self.message(text)
        self.send(conn.sock, status, payload, close=not keep, extra=extra,
                  head_only=method == b"HEAD")
        return keep

    def parse_request_line(self, line):
        if b"\r" in line:
            raise Reject(400, "bare CR")
        parts = line.split(b" ")
        if len(parts) != 3 or not TOKEN.fullmatch(parts[0]) or not parts[1]:
            raise Reject(400, "malformed request line")
        method, target, version = parts
        if not re.fullmatch(rb"HTTP/[0-9]\.[0-9]", version):
            raise Reject(400, "malformed HTTP version")
        if version not in (b"HTTP/1.0", b"HTTP/1.1"):
            raise Reject(505, "only HTTP/1.0 and HTTP/1.1 are supported")
        return method, target, version

    def parse_fields(self, conn):
        fields, total = [], 0
        while True:
            line = conn.line(self.cfg.max_header_bytes, 431)
            total += len(line) + 2
            if total > self.cfg.max_header_bytes:
                raise Reject(431, "header section too large")
            if not line:
                return fields
            if line[:1] in (b" ", b"\t"):
                raise Reject(400, "obsolete line folding")
            name, sep, value = line.partition(b":")
            if not sep or not TOKEN.fullmatch(name):
                raise Reject(400, "malformed field line")
            value = value.strip(b" \t")
            if any(b < 0x20 and b != 0x09 or b == 0x7F for b in value):
                raise Reject(400, "control character in a field value")
            fields.append((name.lower(), value))

    def route_target(self, target):
        if target == b"*":
            return b"*"
        if target.lower().startswith(b"http://"):
            authority, _, rest = target[7:].partition(b"/")
            if not authority or not HOST.fullmatch(authority):
                raise Reject(400, "invalid authority")
            target = b"/" + rest
        return target.split(b"?", 1)[0]

    def read_chunked(self, conn):
        body = b""
        while True:
            size_line = conn.chunk_line().split(b";", 1)[0].strip()
            if not size_line or not re.fullmatch(rb"[0-9A-Fa-f]+", size_line):
                raise Reject(400, "bad chunk size")
            size = int(size_line, 16)
            if size == 0:
                while conn.chunk_line():
                    pass
                return body
            if len(body) + size > self.cfg.max_body:
                raise Reject(413, "request body too large")
            body += conn.exactly(size)
            if conn.exactly(2) != b"\r\n":
                raise Reject(400, "chunk data must end in CRLF")

    # --- the contract's method table --------------------------------------

    def precheck(self, method, path, authorization):
        """(status, message, extra fields) decided by the head alone, or None."""
        if method.decode() not in METHODS:
            return 501, "method not implemented", [("Allow", ALLOW)]
        if path == b"*":
            if method != b"OPTIONS":
                return 400, "the * target is only for OPTIONS", []
        elif path != b"/":
            return 404, "not found", []
        if (self.cfg.auth_all or method in (b"GET", b"HEAD")) and not self.authorized(authorization):
            return 401, "valid credentials required", [
                ("WWW-Authenticate", 'Basic realm="wordwire", charset="UTF-8"')]
        return None

    def authorized(self, values):
        if len(values) != 1 or not values[0][:6].lower() == b"basic ":
            return False
        try:
            user, _, password = base64.b64decode(values[0][6:].strip(), validate=True).partition(b":")
        except ValueError:
            return False
        return hmac.compare_digest(user, self.user) & hmac.compare_digest(password, self.password)

    def valid_word(self, word):
        return WORD.fullmatch(word) is not None

    def handle(self, method, body):
        if method == b"OPTIONS":
            return 204, "", [("Allow", ALLOW)]
        try:
            with self.lock:
                if method in (b"GET", b"HEAD"):
                    with open(self.store, "rb") as f:
                        return 200, f.read(), []
                if method == b"POST":
                    word = body.strip(b" \t\r\n")
                    if not self.valid_word(word):
                        return 400, "word must be 1-64 ASCII letters or digits", []
                    self.append(word)
                    return 200, "added " + word.decode(), []
                words = self.read_words()
                args = body.split()
                if method == b"PUT":
                    if len(args) != 2 or not all(self.valid_word(w) for w in args):
                        return 400, "PUT needs two words: OLD NEW", []
                    old, new = args
                    if old not in words:
                        return 400, "no such word: " + old.decode(), []
                    words, n = self.replace(words, old, new)
                    self.rewrite(words)
                    return 200, "replaced %d" % n, []
                if len(args) != 1 or not self.valid_word(args[0]):
                    return 400, "DELETE needs one word", []
                return self.delete(words, args[0])
        except OSError as e:
            print("store error:", e, file=sys.stderr, flush=True)
            return 500, "the store could not be read or written", []

    def read_words(self):
        with open(self.store, "rb") as f:
            return f.read().splitlines()

    def replace(self, words, old, new):
        n = words.count(old)
        return [new if w == old else w for w in words], n

    def delete(self, words, word):
        n = words.count(word)
        if n == 0:
            return 400, "no such word: " + word.decode(), []
        self.rewrite([w for w in words if w != word])
        return 200, "deleted %d" % n, []

    def append(self, word):
        size = os.path.getsize(self.store)
        with open(self.store, "ab") as f:
            try:
                f.write(word + b"\n")
                f.flush()
                os.fsync(f.fileno())
            except OSError:
                f.truncate(size)  # a 500 leaves the file as it was
                raise

    def rewrite(self, words):
        tmp = self.store + ".tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(b"".join(w + b"\n" for w in words))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.store)
        except OSError:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    # --- accepting ----------------------------------------------------------

    def run(self):
        host, _, port = self.cfg.addr.rpartition(":")
        listener = socket.create_server((host, int(port)), backlog=128)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        print("listening on %s:%d" % listener.getsockname()[:2], file=sys.stderr, flush=True)
        while True:
            sock, _ = listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                full = self.open >= self.cfg.max_connections
                if not full:
                    self.open += 1
            if full:
                threading.Thread(target=self.refuse, args=(sock,), daemon=True).start()
                continue
            threading.Thread(target=self.serve, args=(sock,), daemon=True).start()

    def refuse(self, sock):
        try:
            self.send(sock, 503, self.message("too many connections"), close=True,
                      extra=[("Retry-After", "1")])
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sock.close()


def flags(argv=None, names=None):
    """Our flag names by default; `names` maps a flag to the spelling this server uses."""
    names = names or {}
    p = argparse.ArgumentParser(allow_abbrev=False)
    n = lambda flag: names.get(flag, flag)
    p.add_argument(n("--addr"), dest="addr", default="127.0.0.1:12345")
    p.add_argument(n("--store"), dest="store", default="words.txt")
    p.add_argument(n("--auth-all"), dest="auth_all", action="store_true")
    p.add_argument(n("--read-timeout"), dest="read_timeout", type=float, default=10)
    p.add_argument(n("--request-timeout"), dest="request_timeout", type=float, default=30)
    p.add_argument(n("--idle-timeout"), dest="idle_timeout", type=float, default=60)
    p.add_argument(n("--timeout-status"), dest="timeout_status", type=int, default=504, choices=[504, 408])
    p.add_argument(n("--max-connections"), dest="max_connections", type=int, default=1024)
    p.add_argument(n("--max-line"), dest="max_line", type=int, default=8192)
    p.add_argument(n("--max-header-bytes"), dest="max_header_bytes", type=int, default=16384)
    p.add_argument(n("--max-body"), dest="max_body", type=int, default=8192)
    return p.parse_args(argv)


def main(server_class=WordServer, names=None):
    try:
        server_class(flags(names=names)).run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
