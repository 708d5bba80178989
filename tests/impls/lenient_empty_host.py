"""Right but different: accepts an empty Host (and one of only whitespace), which the
ABNF allows (RFC 9112 §3.2 even has clients send one) and RFC 9112 §3.3 lets a server
serve or reject ("can reject"). wordwire rejects it; a server that does not is not wrong."""
import re

import wordserver

# The same host[:port] rule, with the host part allowed to be empty.
wordserver.HOST = re.compile(
    rb"(\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)(:[0-9]*)?"
)

wordserver.main()
