//! The `wordwire replay` flags and its output formats.
//!
//! Here: flag names, defaults and conflicts. Elsewhere: playing, judging and
//! reporting (`grading::replay`, `grading::judge`, `grading::report`).

use std::path::PathBuf;

/// What `--format` writes on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A line per transcript, diffs, and `N passed, M failed` (coloured on a terminal).
    Text,
    /// One JSON object on stdout; progress lines go to stderr.
    Json,
    /// JUnit XML on stdout; progress lines go to stderr.
    Junit,
    /// TAP 14 on stdout; progress lines go to stderr.
    Tap,
    /// One self-contained HTML page on stdout (score, failures side by side); progress on stderr.
    Html,
    /// Gradescope's results.json on stdout (per-test score, max_score, tags); progress on stderr.
    Gradescope,
}

/// `wordwire replay`: replay golden transcripts.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Replay against this running server (HOST:PORT, http://HOST:PORT/ or a bare PORT
    /// on 127.0.0.1) instead of an in-process one; transcripts that set server flags, a
    /// starting store or a fault are skipped (not played, not in the score; --target-cmd
    /// plays them).
    #[arg(long, value_name = "ADDR", value_parser = super::address::Address)]
    pub target: Option<String>,
    /// Start the server under test for each transcript: run CMD with `sh -c`,
    /// after replacing {port}, {host}, {addr} (127.0.0.1:{port}) and {store} (a
    /// fresh store file holding the transcript's starting words). The
    /// transcript's server flags are appended (see --target-flags).
    #[arg(long, value_name = "CMD", conflicts_with = "target")]
    pub target_cmd: Option<String>,
    /// Run each --target-cmd start without a box: as your user, in the current
    /// directory itself, with your files, environment and network. By default each
    /// runs in a box of its own (a private copy of the current directory; see
    /// docs/GRADING.md, The box).
    #[arg(long, requires = "target_cmd")]
    pub no_box: bool,
    /// How long each --target-cmd start has to listen (a compile step takes seconds).
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = super::grade::seconds, requires = "target_cmd")]
    pub start_timeout: f64,
    /// Servers each job starts ahead of the transcript it plays (at most 16), so that
    /// a start overlaps the plays before it; the long plays are then spread among the
    /// short, so the progress lines are not in file order (0: each starts as its
    /// transcript plays, the jobs taking them in file order).
    #[arg(long, value_name = "N", default_value_t = crate::grading::target::AHEAD as u16, value_parser = clap::value_parser!(u16).range(0..=16), requires = "target_cmd")]
    pub ahead: u16,
    /// Of the servers started ahead, how many start at once, over all jobs (default:
    /// the machine's cores); the rest wait their turn, one a play waits for first,
    /// then the one begun first, so that a start is not slowed by those needed
    /// later. For a start a play waits for, one that has not listened after 2 s no
    /// longer counts.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), requires = "target_cmd")]
    pub starts: Option<u16>,
    /// A TOML file mapping our serve flags to the target's:
    /// `"--read-timeout" = "--timeout {}"`. Unmapped flags skip their transcript.
    #[arg(long, value_name = "FILE", requires = "target_cmd")]
    pub target_flags: Option<PathBuf>,
    /// Test a client instead of a server: play the client transcripts (those with
    /// `listen`), running CMD (placeholders {port} {host} {addr} of the scripted
    /// server) followed by each transcript's verb and words, e.g. `CMD post hello`,
    /// with WORDWIRE_USER/WORDWIRE_PASSWORD set to the lab pair. Without it,
    /// client transcripts test our own `wordwire client`.
    #[arg(long, value_name = "CMD", conflicts_with_all = ["target", "target_cmd", "bless", "coverage"])]
    pub client_cmd: Option<String>,
    /// Compare bytes exactly against a foreign target too (default there: contract level).
    #[arg(long, conflicts_with = "contract")]
    pub exact: bool,
    /// Judge at contract level even in-process (default there: byte-exact).
    #[arg(long)]
    pub contract: bool,
    /// Rewrite the expected responses of failing transcripts with what the
    /// in-process server sent. Review the diff before committing it.
    #[arg(long, conflicts_with_all = ["target", "target_cmd", "contract"])]
    pub bless: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print how many transcripts expect each status (and which contract statuses
    /// have none) instead of replaying; exits 1 if a contract status is missing, 3 if
    /// a transcript cannot be read (a suite error, listed after the table). Plays
    /// nothing, so it takes none of the flags about playing or reporting a run.
    #[arg(long, conflicts_with_all = ["bless", "target", "target_cmd", "format", "contract", "exact", "jobs"])]
    pub coverage: bool,
    /// How long each step waits for the server (or client) in a transcript without a
    /// `timeout` line, in milliseconds (default 5000): lower it to fail fast on a server
    /// that does not answer.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000), conflicts_with_all = ["coverage", "export"])]
    pub response_wait: Option<u64>,
    /// Transcripts played at once (default 4; 1 against a shared --target, whose
    /// store every transcript shares).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Write the built-in suite (transcripts/ and the fixtures/ they use) under DIR
    /// and exit; the written files replay from disk (`wordwire replay DIR/transcripts`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["bless", "coverage", "target", "target_cmd", "client_cmd"])]
    pub export: Option<PathBuf>,
    /// Print the transcripts a run would play (the built-in suite, or those PATHS finds;
    /// with --filter, the matching ones; with --target, --target-cmd or --client-cmd, those
    /// of its kind), one path a line, and exit without playing.
    #[arg(long, conflicts_with_all = ["bless", "coverage", "format", "export", "jobs", "exact", "contract"])]
    pub list: bool,
    /// Play only the transcripts whose path (as printed: `transcripts/methods/...`) contains
    /// PATTERN, as `cargo test PATTERN` filters; repeat it for several (any one matches).
    #[arg(long, value_name = "PATTERN", conflicts_with = "export")]
    pub filter: Vec<String>,
    /// A course file (`wordwire course init`): the assignment as the TA set it. Its
    /// [auth] header replaces the lab pair's, [statuses] are accepted, [store] names the
    /// data file, [server] start is the command when there is no --target-cmd, and
    /// [grading] profile = "assignment" (its default) judges only what the assignment asks.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["bless", "coverage", "export", "client_cmd"])]
    pub course: Option<PathBuf>,
    /// Transcript files or directories (searched for *.transcript); without any,
    /// the suite built into the binary (with --bless: ./transcripts).
    pub paths: Vec<PathBuf>,
}
