"""Defect: response heads end their lines in a bare LF instead of CRLF."""
from wordserver import WordServer, main


class BareLf(WordServer):
    line_end = b"\n"


main(BareLf)
