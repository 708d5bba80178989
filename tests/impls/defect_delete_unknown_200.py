"""Defect: DELETE of a word that is not in the store answers 200 (deleted 0)."""
from wordserver import WordServer, main


class DeleteUnknown200(WordServer):
    def delete(self, words, word):
        self.rewrite([w for w in words if w != word])
        return 200, "deleted %d" % words.count(word), []


main(DeleteUnknown200)
