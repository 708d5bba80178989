"""Defect: PUT changes only the first occurrence of the old word (the course says every)."""
from student import Student, main


class PutFirstOnly(Student):
    def put(self, body):
        parts = body.split()
        if len(parts) != 2 or not all(self.valid(p) for p in parts):
            return 400, "send two words: old new"
        old, new = parts
        words = self.words()
        if old not in words:
            return 400, "no such word"
        words[words.index(old)] = new
        self.save(words)
        return 200, "changed"


if __name__ == "__main__":
    main(PutFirstOnly())
