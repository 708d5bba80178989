"""A submission as students hand them in: no flag for its address or its store.
It hard-codes 0.0.0.0:12345 and `words.txt` in its working directory (the
contract's server, wordserver.py beside it, with those two fixed); the serve
flags a transcript appends pass through. For grading tests of the box
(tests/suite/boxed.rs): four of it at once, each in its own box, all pass.
"""
import sys

from wordserver import main

sys.argv[1:1] = ["--addr", "0.0.0.0:12345", "--store", "words.txt"]
main()
