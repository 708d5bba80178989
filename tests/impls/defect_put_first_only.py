"""Defect: PUT replaces only the first occurrence of OLD."""
from wordserver import WordServer, main


class PutFirstOnly(WordServer):
    def replace(self, words, old, new):
        words = list(words)
        words[words.index(old)] = new
        return words, 1


main(PutFirstOnly)
