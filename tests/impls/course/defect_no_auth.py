"""Defect: GET returns the file without asking for credentials (no 401)."""
from student import DATA, Student, main


class NoAuth(Student):
    def get(self, headers):
        with open(DATA, "rb") as f:
            return 200, f.read()


if __name__ == "__main__":
    main(NoAuth())
