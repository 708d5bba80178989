//! Integration tests: the real server over real TCP on 127.0.0.1, port 0, a temporary store each.

/// Starting servers (in-process and as the binary) and talking raw bytes to them.
mod support;

/// `grade` and `replay --target-cmd` in their boxes: hard-coded ports side by side, hostile submissions.
mod boxed;
/// The command line: clap's errors, options after the verb, completions, man pages.
mod cli;
/// Client transcripts (`replay --client-cmd`): our client passes them, a broken one fails with diffs.
mod clients;
/// RFC 9110/9112 conformance, class by class: what the parser rejects, with what, and that nothing behind it runs.
mod conformance;
/// `course init` and `course check`: the template, the defaults, one-line errors.
mod course;
/// Grading by a course file: the student servers of `tests/impls/course/`, right and wrong.
mod course_grading;
/// SIGKILL at random instants under write load, recovery at start, SIGTERM under load.
mod crash;
/// The pages (README.md, docs/): their walks work as written, their outputs are what the binary prints.
mod docs;
/// Keep-alive, pipelining, HTTP/1.0, chunked bodies, 100-continue, HEAD.
mod framing;
/// `grade` against hostile submissions (64 MiB answers, a store linked to /dev/zero, a FIFO
/// command, escapes in names), links planted in --out, Ctrl-C mid-run and --resume.
mod grade_survival;
/// The grader against small Python implementations, correct and defective (`tests/impls/`).
mod grading;
/// Slow and greedy clients: slowloris, idle keep-alive, never-reading, half-closed, reset, over the cap.
mod hostile;
/// The binary: start-up errors, the store lock, signals, real I/O failures.
mod process;
/// `wordwire record`: recorded sessions replay green, keep every byte, and the relay is transparent.
mod record;
/// The box (`sandbox`): same port side by side, nothing outside reachable, no process left, discovery.
mod sandbox;
/// Every status of the contract, sent and answered over TCP.
mod statuses;
/// Read, whole-request and idle timeouts; the connection cap.
mod timeouts;
/// The wire view: `client --trace` as a snapshot, `record --trace`.
mod trace;
