//! Judging one response: is what arrived what the transcript expects?
//!
//! Here: the choice of judge (`Judge`) and `response`, which hands a response to
//! one of them and says what a failure shows: `exact`, the normalised bytes line
//! for line (and the text `--bless` writes in their place); `contract`, what "the
//! same response" is when the bytes may differ.
//! Elsewhere: reading the response and playing the steps (`grading::play`), the
//! `~` lines a transcript gives (`grading::suite::rooms`), the rendering and
//! normalisation both judges compare (`grading::suite::transcript`).

pub mod assignment;
pub mod contract;
pub mod exact;

use crate::client::Response;
use crate::grading::suite::rooms::Room;
use crate::grading::suite::transcript;

/// How responses are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// The normalised bytes, line for line (our own server; `--exact`).
    Exact,
    /// What the contract requires (`grading::judge`); foreign targets by default.
    Contract,
    /// What the assignment asks (`judge::assignment`): the status, the body by meaning,
    /// no field, no framing detail; a course file's `profile = "assignment"`.
    Assignment,
}

/// The expectation of one `expect` step, as the transcript gives it.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The expected bytes, unescaped.
    pub bytes: &'a [u8],
    /// Its `= body ...` line, if it has one.
    pub body_line: Option<&'a str>,
    /// Its `~` lines.
    pub rooms: &'a [Room],
    /// The request was HEAD: the response has no body.
    pub after_head: bool,
    /// The block's text as rendered (`transcript::render_expect`), shown as "expected".
    pub rendered: &'a [String],
    /// Statuses a course file also accepts for the expected one (`[statuses]`), with
    /// the key that says so.
    pub also: Option<(&'a [u16], &'a str)>,
    /// The data file holds words separated by any whitespace (`[store] format =
    /// "words"`): a body that is the data is compared word for word.
    pub words: bool,
}

/// What judging one response found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// Why the response is not the expected one, in one line; `None`: it is.
    pub problem: Option<String>,
    /// The rendered text of what arrived, shown beside the expected text.
    pub received: Vec<String>,
    /// The text `--bless` writes in the block's place; `None` when a failure is
    /// not one that rewriting the expected response fixes.
    pub rewrite: Option<Vec<String>>,
    /// The expected response closes the connection and the received one does not
    /// say so: the connection must really close (RFC 9112 §9.6 allows either signal).
    pub needs_close: bool,
    /// The status is the expected one or one the transcript or the course allows (the
    /// first of a response's two checks; the second is `problem` being `None`).
    pub status_ok: bool,
}

/// Whether `got`'s status is one `expected` allows: its own, a `~ status`
/// alternative, or one the course accepts for it.
fn status_allowed(expected: &Expected<'_>, got: u16) -> bool {
    transcript::status_of(expected.bytes) == Some(got)
        || expected.also.is_some_and(|(codes, _)| codes.contains(&got))
        || expected
            .rooms
            .iter()
            .any(|r| matches!(r, Room::Status { codes, .. } if codes.contains(&got)))
}

/// Judges `got` against `expected` with `judge`.
pub fn response(judge: Judge, expected: Expected<'_>, got: &Response) -> Judged {
    let status_ok = status_allowed(&expected, got.status);
    let normalised = transcript::normalise(&got.raw);
    let stated = transcript::body_line(got);
    let full = transcript::render_expect(&normalised, Some(&stated));
    match judge {
        Judge::Exact => {
            let compared = if expected.body_line.is_some() {
                full.clone()
            } else {
                transcript::render_expect(&normalised, None)
            };
            let problem = exact::differs(expected.rendered, &compared);
            Judged {
                rewrite: problem.is_some().then_some(full),
                problem,
                received: compared,
                needs_close: false,
                status_ok,
            }
        }
        Judge::Contract => {
            let verdict = contract::judge(
                expected.bytes,
                expected.rooms,
                got,
                expected.after_head,
                expected.also,
            );
            Judged {
                problem: (!verdict.problems.is_empty()).then(|| verdict.problems.join("; ")),
                received: full,
                rewrite: None,
                needs_close: verdict.needs_close,
                status_ok,
            }
        }
        Judge::Assignment => Judged {
            problem: assignment::judge(expected, got),
            received: full,
            rewrite: None,
            needs_close: false,
            status_ok,
        },
    }
}

/// Whether a close with no response (or a reset before any byte) answers an
/// `expect` with these `rooms`: only at contract level, where a `~ status ... close`
/// room allows it.
pub fn close_allowed(judge: Judge, rooms: &[Room]) -> bool {
    judge != Judge::Exact && contract::allows_close(rooms)
}
