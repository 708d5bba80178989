"""Defect: the whole server exits on a malformed (400) request-line or field line."""
import os
import sys

from wordserver import Reject, WordServer, main


class DiesOnMalformed(WordServer):
    def parse_request_line(self, line):
        try:
            return super().parse_request_line(line)
        except Reject as e:
            if e.status != 400:
                raise
            print("fatal: %s" % e, file=sys.stderr, flush=True)
            os._exit(70)

    def parse_fields(self, conn):
        try:
            return super().parse_fields(conn)
        except Reject as e:
            if e.status != 400:
                raise
            print("fatal: %s" % e, file=sys.stderr, flush=True)
            os._exit(70)


main(DiesOnMalformed)
