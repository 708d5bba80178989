#!/usr/bin/env python3
"""A deliberately broken client of the assignment, for the client transcripts to catch.

Usage: broken_client.py HOST PORT VERB [WORDS...]. It gets four things wrong:
bare LF line ends, no Host field, a Content-Length one short of the body,
and it prints a chunked body with its chunk framing instead of decoding it.
"""
import base64
import os
import socket
import sys

host, port, verb, words = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
method = {"post": "POST", "get": "GET", "put": "PUT", "delete": "DELETE"}[verb]
body = " ".join(words).encode()
pair = f"{os.environ['WORDWIRE_USER']}:{os.environ['WORDWIRE_PASSWORD']}"
head = f"{method} / HTTP/1.1\nAuthorization: Basic {base64.b64encode(pair.encode()).decode()}\n"
if body:
    head += f"Content-Length: {len(body) - 1}\n"
head += "\n"
with socket.create_connection((host, port), timeout=5) as s:
    s.sendall(head.encode() + body)
    data = b""
    while chunk := s.recv(4096):
        data += chunk
head_bytes, _, rest = data.partition(b"\r\n\r\n")
status_line = head_bytes.split(b"\r\n", 1)[0].decode(errors="replace")
print(status_line)
sys.stdout.buffer.write(rest)
parts = status_line.split(" ")
sys.exit(0 if len(parts) > 1 and parts[1].startswith("2") else 1)
