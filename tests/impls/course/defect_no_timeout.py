"""Defect: a request that stalls is waited for forever (no 504)."""
import student
from student import Student, main

student.TIMEOUT = None


if __name__ == "__main__":
    main(Student())
