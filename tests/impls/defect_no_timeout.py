"""Defect: never times out: a stalled request waits forever (no 504)."""
from wordserver import WordServer, main


class NoTimeout(WordServer):
    def __init__(self, cfg):
        super().__init__(cfg)
        cfg.read_timeout = cfg.request_timeout = cfg.idle_timeout = 3600.0


main(NoTimeout)
