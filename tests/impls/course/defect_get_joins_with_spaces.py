"""Defect: GET returns the words joined with spaces, not the file as it is."""
from student import Student, main


class JoinsWithSpaces(Student):
    def get(self, headers):
        if not self.authorised(headers):
            return 401, "login required"
        return 200, b" ".join(self.words())


if __name__ == "__main__":
    main(JoinsWithSpaces())
