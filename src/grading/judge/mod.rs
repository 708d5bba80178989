//! Judging one response: is what arrived what the transcript expects?
//!
//! Here: the choice of judge (`Judge`: byte-exact or contract level).
//! `contract`: what "the same response" is when the bytes may differ.
//! Elsewhere: reading the response and playing the steps (`grading::play`), the
//! `~` lines a transcript gives (`grading::suite::rooms`).

pub mod contract;

/// How responses are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// The normalised bytes, line for line (our own server; `--exact`).
    Exact,
    /// What the contract requires (`grading::judge`); foreign targets by default.
    Contract,
}
