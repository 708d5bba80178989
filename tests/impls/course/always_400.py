"""Always 400: every request, valid or not, is refused. It must earn nothing for
the "is 400" transcripts, since it never does the valid thing."""
from student import Student, main


class Always400(Student):
    def route(self, method, path, headers, body):
        return 400, "bad request"


if __name__ == "__main__":
    main(Always400())
