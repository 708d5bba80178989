"""Defect: DELETE of a word that is not in the file answers 200."""
from student import Student, main


class DeleteUnknown200(Student):
    def delete(self, body):
        word = body.strip()
        if not self.valid(word):
            return 400, "bad word"
        self.save([w for w in self.words() if w != word])
        return 200, "removed"


if __name__ == "__main__":
    main(DeleteUnknown200())
