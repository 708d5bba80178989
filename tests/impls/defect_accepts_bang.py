"""Defect: any run of non-space characters is a word, so `hello!` is stored."""
import re

from wordserver import WordServer, main


class AcceptsBang(WordServer):
    def valid_word(self, word):
        return re.fullmatch(rb"\S{1,64}", word) is not None


main(AcceptsBang)
