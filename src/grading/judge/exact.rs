//! Byte-exact judging: the normalised response, line for line, is the expected text.
//!
//! Here: the comparison and its one-line verdict. Our own server is judged this
//! way (and any target with `--exact`); a mismatch is what `--bless` rewrites.
//! Elsewhere: normalising and rendering the bytes (`grading::suite::transcript`),
//! choosing this judge (`grading::judge`).

/// `None` if the rendered `received` text is the `expected` text; otherwise why not.
pub fn differs(expected: &[String], received: &[String]) -> Option<String> {
    (received != expected).then(|| "response differs".to_string())
}
