//! The suite: what a transcript file says, and the transcripts built into the binary.
//!
//! Here: `transcript`, the grammar of a server transcript (steps on named
//! connections, escapes through `crate::escape`, the normalisation rule, `--bless`
//! rewriting); `rooms`, the `~` lines where the contract leaves room; `builtin`,
//! the suite compiled in (`include_dir!`) and `--export`; `levels`, the table of
//! transcript, source and level (`docs/LEVELS.md`) and the check that levels follow sources.
//! Elsewhere: playing a transcript (`grading::play`), judging it (`grading::judge`),
//! client transcripts (`grading::clients`), finding files on disk (`grading::replay`).

pub mod builtin;
pub mod levels;
pub mod rooms;
pub mod transcript;
