"""Defect: GET and HEAD answer without checking credentials (never 401)."""
from wordserver import WordServer, main


class NoAuth(WordServer):
    def authorized(self, values):
        return True


main(NoAuth)
