//! The grading subsystem: golden transcripts played against a server (ours or a
//! student's) or a client, judged, and reported. `ARCHITECTURE.md` draws the path
//! of one graded transcript through these modules.
//!
//! - `suite`: the transcript grammar, the `~` rooms, normalisation, `--bless`
//!   rewriting, the built-in suite.
//! - `play`: playing one transcript's steps on named connections, with its timing.
//! - `judge`: judging one response, byte-exact or at contract level.
//! - `target`: where a transcript plays: our server in-process, or a foreign
//!   program started (in a box, `crate::sandbox`, or with `--no-box` as our own
//!   child), watched and stopped (the only module of grading that starts processes).
//! - `verdict`: the results every later stage reads (`StepFailure`, `Outcome`,
//!   `TranscriptResult`).
//! - `report`: presenting results, one module per format; reads, never re-runs.
//! - `replay`: the `wordwire replay` command: finding transcripts, suite errors,
//!   choosing the target and the judge, parallel runs, `--bless`, `--coverage`.
//! - `class`: the `wordwire grade DIR` command: every submission of a class.
//! - `clients`: client transcripts and `--client-cmd`.
//! - `record`: the `wordwire record` command: a relay that writes a transcript.
//! - `untrusted`: reading a file a submission controls (regular files only, capped).

pub mod ahead;
pub mod class;
pub mod clients;
pub mod interrupt;
pub mod judge;
pub mod play;
pub mod record;
pub mod replay;
pub mod report;
pub mod run_one;
pub mod suite;
pub mod target;
pub mod untrusted;
pub mod verdict;
