"""Correct, but different from wordwire wherever the contract leaves room: its
own flag names (different.toml maps ours to them), field names in lower case
and another order, other reason phrases and wording, `Content-Type:
text/plain`, another realm, Allow in another order, CRLF-ended bodies."""
from email.utils import formatdate

from wordserver import REASONS, WordServer, main

NAMES = {
    "--addr": "--listen",
    "--store": "--words",
    "--auth-all": "--auth-everything",
    "--read-timeout": "--timeout",
    "--request-timeout": "--deadline",
    "--idle-timeout": "--keepalive",
    "--timeout-status": "--late-status",
    "--max-connections": "--clients",
    "--max-line": "--line-limit",
    "--max-header-bytes": "--head-limit",
    "--max-body": "--max-body-bytes",
}


class Different(WordServer):
    def send(self, sock, status, body=b"", close=False, extra=(), head_only=False):
        out = b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status].upper().encode())
        if status != 204 and status >= 200:
            out += b"content-length: %d\r\n" % len(body)
            out += b"content-type: text/plain\r\n"
        if close:
            out += b"connection: close\r\n"
        for name, value in extra:
            if name == "Allow":
                value = ",".join(reversed(value.split(", ")))
            if name == "WWW-Authenticate":
                value = 'basic realm="the words"'
            if name == "Retry-After":
                value = "3"
            out += name.lower().encode() + b": " + value.encode() + b"\r\n"
        out += b"server: different/2.0\r\ndate: " + formatdate(usegmt=True).encode() + b"\r\n\r\n"
        if not head_only and status != 204:
            out += body
        sock.sendall(out)

    def message(self, text):
        return b"Result: " + text.capitalize().encode() + b"!\r\n"


main(Different, names=NAMES)
