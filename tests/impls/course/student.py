#!/usr/bin/env python3
"""A student's server for the course's assignment (shared/ASSIGNMENT.md), as
students hand it in: the port (12345) and the data file (words.txt, in the
working directory) are hard-coded, credentials are admin:secret, and it is
written to the assignment, not to wordwire's contract: no Date or Server
field, its own wording, 501 for a server fault, 504 after 1 s of silence in
the middle of a request.

Correct under tests/impls/course/course.toml. Two styles, both correct:
`student.py` closes after every response (`Connection: close`), as most
student servers do; `student.py lower` keeps the connection open, writes its
field names in lower case and words its bodies its own way. Each defect_*.py
beside it breaks exactly one rule of the assignment.
"""

import base64
import re
import socket
import sys
import threading

PORT = 12345
DATA = "words.txt"
USER, PASSWORD = b"admin", b"secret"
TIMEOUT = 1.0
WORD = re.compile(rb"[A-Za-z0-9]+")
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 501: "Not Implemented", 504: "Gateway Timeout"}


class TimedOut(Exception):
    pass


class Student:
    keep_alive = False
    lower = False
    lock = threading.Lock()

    # --- the file ---------------------------------------------------------

    def words(self):
        with open(DATA, "rb") as f:
            return f.read().split()

    def save(self, words):
        with open(DATA, "wb") as f:
            f.write(b"".join(w + b"\n" for w in words))

    def valid(self, word):
        return WORD.fullmatch(word) is not None

    def authorised(self, headers):
        value = headers.get(b"authorization", b"")
        expected = b"Basic " + base64.b64encode(USER + b":" + PASSWORD)
        return value.strip() == expected

    # --- the methods --------------------------------------------------------

    def post(self, body):
        word = body.strip()
        if not self.valid(word):
            return 400, "word must be letters and digits"
        with open(DATA, "ab") as f:
            f.write(word + b"\n")
        return 200, "saved " + word.decode()

    def get(self, headers):
        if not self.authorised(headers):
            return 401, "login required"
        with open(DATA, "rb") as f:
            return 200, f.read()

    def put(self, body):
        parts = body.split()
        if len(parts) != 2 or not all(self.valid(p) for p in parts):
            return 400, "send two words: old new"
        old, new = parts
        words = self.words()
        if old not in words:
            return 400, "no such word"
        self.save([new if w == old else w for w in words])
        return 200, "changed"

    def delete(self, body):
        word = body.strip()
        words = self.words()
        if not self.valid(word) or word not in words:
            return 400, "no such word"
        self.save([w for w in words if w != word])
        return 200, "removed"

    def route(self, method, path, headers, body):
        if path.split(b"?")[0] != b"/":
            return 404, "not found"
        try:
            with self.lock:
                if method == b"POST":
                    return self.post(body)
                if method == b"GET":
                    return self.get(headers)
                if method == b"PUT":
                    return self.put(body)
                if method == b"DELETE":
                    return self.delete(body)
        except OSError:
            return 501, "server error"
        return 405, "method not allowed"

    # --- the wire -------------------------------------------------------------

    def read_until(self, sock, buf, marker):
        while marker not in buf:
            sock.settimeout(TIMEOUT if buf else None)
            try:
                data = sock.recv(4096)
            except socket.timeout:
                raise TimedOut()
            if not data:
                return None
            buf += data
        return buf

    def answer(self, sock, status, body, close):
        if isinstance(body, str):
            body = body.encode() + b"\n"
        fields = [(b"Content-Type", b"text/plain"), (b"Content-Length", b"%d" % len(body))]
        if status == 401:
            fields.append((b"WWW-Authenticate", b'Basic realm="words"'))
        if close:
            fields.append((b"Connection", b"close"))
        head = b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status].encode())
        for name, value in fields:
            head += (name.lower() if self.lower else name) + b": " + value + b"\r\n"
        sock.sendall(head + b"\r\n" + body)

    def serve(self, sock):
        buf = b""
        try:
            while True:
                try:
                    buf = self.read_until(sock, buf, b"\r\n\r\n")
                    if buf is None:
                        return
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    lines = head.split(b"\r\n")
                    method, path, _ = lines[0].split(b" ", 2)
                    headers = {}
                    for line in lines[1:]:
                        name, _, value = line.partition(b":")
                        headers[name.strip().lower()] = value.strip()
                    length = int(headers.get(b"content-length", b"0"))
                    while len(buf) < length:
                        more = self.read_until(sock, buf, b"\x00" * (len(buf) + 1))
                        if more is None:
                            return
                        buf = more
                    body, buf = buf[:length], buf[length:]
                except TimedOut:
                    self.answer(sock, 504, "timed out", True)
                    return
                except ValueError:
                    self.answer(sock, 400, "bad request", True)
                    return
                status, text = self.route(method, path, headers, body)
                close = not self.keep_alive
                self.answer(sock, status, text, close)
                if close:
                    return
        except OSError:
            pass
        finally:
            sock.close()


def main(server=None):
    server = server or Student()
    if len(sys.argv) > 1 and sys.argv[1] == "lower":
        server.keep_alive = True
        server.lower = True
    open(DATA, "ab").close()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", PORT))
    listener.listen(16)
    print("listening on port", PORT, flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=server.serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()
