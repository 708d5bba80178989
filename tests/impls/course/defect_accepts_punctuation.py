"""Defect: POST stores any non-empty word, punctuation included."""
from student import Student, main


class AcceptsPunctuation(Student):
    def valid(self, word):
        return len(word) > 0 and b" " not in word


if __name__ == "__main__":
    main(AcceptsPunctuation())
