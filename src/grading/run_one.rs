//! One transcript played against one target: where and how (`Options`), loading it
//! (`Loaded`, `load_any`, its waits), whether it plays at all (a course's skips, what a
//! target cannot be given), the start of a command's server (now, or ahead on a
//! thread: `start_ahead`), the play, the server's death, `--bless`, and its result.
//! Elsewhere: running many (`grading::replay::replay_all`, `grading::class`), the
//! workers' starts ahead (`grading::ahead`), playing the steps (`grading::play`), the
//! targets (`grading::target`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clients;
pub use super::judge::Judge;
use super::play::{self, Setting};
use super::report;
use super::suite::transcript::Header;
use super::suite::transcript::{self, Fault, Transcript};
use super::target::start::{OwnedLaunch, Starting};
use super::target::{self, Target, local};
use super::verdict::{Outcome, StepFailure, TranscriptResult};
use crate::course::{Course, Occurrences, Profile};

/// Where and how to play.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub target: Target,
    pub bless: bool,
    /// `None`: byte-exact in-process, contract level against a foreign target.
    pub judge: Option<Judge>,
    /// The client command client transcripts run (`--client-cmd`); `None` skips them.
    pub client_cmd: Option<String>,
    /// Lets another thread kill a `--target-cmd` target (`wordwire grade`'s time limit).
    pub watch: Option<Arc<target::foreign::Watch>>,
    /// `--response-wait`: the wait of a transcript without a `timeout` line, instead of
    /// the default (`transcript::DEFAULT_TIMEOUT`).
    pub response_wait: Option<Duration>,
    /// The course file (`--course`): the assignment as the TA set it; `None`: the
    /// contract, with the lab pair.
    pub course: Option<Arc<Course>>,
}

impl Options {
    /// The wait of a transcript of `lines` whose parsed wait is `own`: its `timeout`
    /// line if it has one, else `response_wait` if set.
    fn wait(&self, lines: &[String], own: Duration) -> Duration {
        let has_line = lines
            .iter()
            .any(|l| l.split_whitespace().next() == Some("timeout"));
        match self.response_wait {
            Some(wait) if !has_line => wait,
            _ => own,
        }
    }

    /// The comparison in force: a course's assignment profile judges by the assignment.
    pub fn judge(&self) -> Judge {
        if let Some(judge) = self.judge {
            return judge;
        }
        if self
            .course
            .as_ref()
            .is_some_and(|c| c.profile == Profile::Assignment)
        {
            return Judge::Assignment;
        }
        match self.target {
            Target::InProcess => Judge::Exact,
            _ => Judge::Contract,
        }
    }
}

/// The skip reason of a transcript outside the assignment profile (its sources are in
/// `docs/LEVELS.md` and in each report).
pub const CONTRACT_ONLY: &str = "contract only, not scored: the assignment does not ask this";

/// Why a transcript is not played under `course`, if it is not: outside the assignment
/// profile ("contract only, not scored"), or it depends on a course key whose reading
/// the course changed (`[rules] put = "every"` under `put = "first"`).
pub fn course_skip(header: &Header, course: &Course) -> Option<String> {
    if course.profile == Profile::Assignment && !header.in_assignment() {
        return Some(CONTRACT_ONLY.to_string());
    }
    for source in &header.sources {
        let Some((key, Some(wanted))) = source.course_key() else {
            continue;
        };
        let reading = |o: Occurrences| match o {
            Occurrences::Every => "every",
            Occurrences::First => "first",
        };
        let actual = match key.as_str() {
            "[rules] put" => reading(course.put),
            "[rules] delete" => reading(course.delete),
            _ => continue,
        };
        if actual != wanted {
            return Some(format!(
                "not scored under this course: it depends on {key} = \"{wanted}\", and the course's reading is {key} = \"{actual}\""
            ));
        }
    }
    None
}

/// A transcript file of either kind: one that plays a server, or one that tests a client.
pub enum Loaded {
    Server(Transcript),
    Client(clients::ClientTranscript),
}

/// Reads the file at `path` once and parses it as the kind of transcript its text is.
pub fn load_any(path: &Path) -> Result<Loaded, transcript::FormatError> {
    let text = transcript::read_text(path)?;
    if clients::is_client_text(&text) {
        clients::ClientTranscript::parse(path, &text).map(Loaded::Client)
    } else {
        Transcript::parse(path, &text).map(Loaded::Server)
    }
}

/// Plays one transcript file and, with `bless`, rewrites it if it failed only by
/// differing responses.
pub fn replay_one(path: &Path, options: &Options) -> TranscriptResult {
    replay_loaded(path, load_for_play(path, options), options, None)
}

/// `path` loaded for a play: its wait set as `options` say (`--response-wait`).
pub(super) fn load_for_play(
    path: &Path,
    options: &Options,
) -> Result<Loaded, transcript::FormatError> {
    load_any(path).map(|loaded| match loaded {
        Loaded::Server(mut t) => {
            t.timeout = options.wait(&t.lines, t.timeout);
            Loaded::Server(t)
        }
        Loaded::Client(mut t) => {
            t.timeout = options.wait(&t.lines, t.timeout);
            Loaded::Client(t)
        }
    })
}

/// Plays `loaded` (the file at `path`), against the server `ahead` started for it if
/// one did (`grading::ahead`).
pub(super) fn replay_loaded(
    path: &Path,
    loaded: Result<Loaded, transcript::FormatError>,
    options: &Options,
    ahead: Option<Starting>,
) -> TranscriptResult {
    let started = Instant::now();
    let result = TranscriptResult::new(path, Outcome::Passed);
    let t = match loaded {
        Ok(Loaded::Server(t)) => t,
        Ok(Loaded::Client(t)) => {
            let mut result = result.described_by(&t.header);
            (result.outcome, result.failures) = play_client_transcript(&t, options);
            result.duration = started.elapsed();
            return result;
        }
        Err(e) => return TranscriptResult::unloadable(path, &e),
    };
    let mut result = result.described_by(&t.header);
    let (outcome, failures) = play_transcript(&t, options, &mut result.checks, ahead);
    result.reproduction = (!failures.is_empty())
        .then(|| report::reproduction(&t, &options.target, options.course.as_deref()))
        .flatten();
    result.outcome = outcome;
    result.failures = failures;
    result.duration = started.elapsed();
    result
}

/// Starts the server `t` plays against on a thread of its own, under `watch`, if `t`
/// is played against a command (`--target-cmd`, a submission): `None` for any other
/// target, and for a transcript that is skipped.
pub(super) fn start_ahead(
    t: &Transcript,
    options: &Options,
    watch: Arc<target::foreign::Watch>,
) -> Option<Starting> {
    let Target::Command(command) = &options.target else {
        return None;
    };
    if not_played(t, options).is_some() {
        return None;
    }
    let args = command_args(t, options, command).ok()?;
    let launch = OwnedLaunch {
        transcript: t.path.clone(),
        args,
        store: t.store.clone(),
        write_limit: write_limit(t),
    };
    Starting::spawn(command.clone(), launch, watch)
}

/// Why `t` is not played against `options`' target, decided before anything starts.
fn not_played(t: &Transcript, options: &Options) -> Option<String> {
    if let Some(why) = options
        .course
        .as_deref()
        .and_then(|c| course_skip(&t.header, c))
    {
        return Some(why);
    }
    if t.fault == Some(Fault::Reads) && !matches!(options.target, Target::InProcess) {
        let why = "fault reads: no mechanism makes a read fail in any server (root reads any file, and a server may serve from memory); in-process only";
        return Some(why.to_string());
    }
    if matches!(options.target, Target::Addr(_)) && t.needs_local_server() {
        let why = "sets server flags, a starting store or a fault, which a server already running cannot be given: play it with --target-cmd 'YOUR-SERVER --addr {addr} --store {store}', which starts the server per transcript";
        return Some(why.to_string());
    }
    None
}

/// The arguments appended to `command` for `t` (its serve flags, translated by the
/// flag map), or why `t` is skipped.
fn command_args(
    t: &Transcript,
    options: &Options,
    command: &target::CommandTarget,
) -> Result<Vec<String>, String> {
    let ours = t.server_flags.clone().unwrap_or_default();
    match &command.flags {
        // The assignment profile passes no flags: the course says what they would.
        _ if options.judge() == Judge::Assignment => Ok(vec![]),
        Some(map) => map.translate(&ours),
        None => Ok(ours),
    }
}

/// `fault writes`: no write of the server's may grow a file past the starting store
/// (set on the listening process only).
fn write_limit(t: &Transcript) -> Option<u64> {
    (t.fault == Some(Fault::Writes)).then(|| t.store.as_ref().map_or(0, |s| s.len() as u64))
}

fn play_client_transcript(
    t: &clients::ClientTranscript,
    options: &Options,
) -> (Outcome, Vec<StepFailure>) {
    let Some(template) = &options.client_cmd else {
        let why = "a client transcript: it tests a client (--client-cmd)";
        return (Outcome::Skipped(why.to_string()), vec![]);
    };
    match clients::play(t, template) {
        Ok(failures) if failures.is_empty() => (Outcome::Passed, failures),
        Ok(failures) => (Outcome::Failed, failures),
        Err(e) => (Outcome::Broken(e), vec![]),
    }
}

/// Plays `t` as `options` say, against the server `ahead` started for it if one did;
/// `checks` gets the checks of the play, if it happened.
fn play_transcript(
    t: &Transcript,
    options: &Options,
    checks: &mut super::verdict::Checks,
    ahead: Option<Starting>,
) -> (Outcome, Vec<StepFailure>) {
    let judge = options.judge();
    let course = options.course.as_deref();
    if let Some(why) = not_played(t, options) {
        return (Outcome::Skipped(why), vec![]);
    }
    let played = match &options.target {
        Target::Addr(addr) => {
            let setting = Setting {
                judge,
                store: None,
                course,
            };
            play::play(t, addr, setting)
        }
        Target::InProcess => {
            let server = match local::LocalServer::start(t) {
                Ok(server) => server,
                Err(e) => return (Outcome::Broken(format!("in-process server: {e}")), vec![]),
            };
            let setting = Setting {
                judge,
                store: Some(server.store_path()),
                course,
            };
            let played = play::play(t, &server.addr(), setting);
            if let Err(e) = server.stop() {
                return (
                    Outcome::Broken(format!("in-process server shutdown: {e}")),
                    played.failures,
                );
            }
            played
        }
        Target::Command(command) => {
            let started = match ahead {
                Some(starting) => starting.wait(),
                None => {
                    let args = match command_args(t, options, command) {
                        Ok(args) => args,
                        Err(why) => return (Outcome::Skipped(why), vec![]),
                    };
                    let launch = target::foreign::Launch {
                        transcript: &t.path,
                        args: &args,
                        store: t.store.as_deref(),
                        write_limit: write_limit(t),
                        watch: options.watch.as_ref(),
                    };
                    target::start::Started::start(command, launch)
                }
            };
            let started = match started {
                Ok(started) => started,
                Err(e) => return (Outcome::Broken(e), vec![]),
            };
            let setting = Setting {
                judge,
                store: Some(started.store()),
                course,
            };
            let mut played = play::play(t, started.connector(), setting);
            let grace = if played.failures.is_empty() {
                Duration::ZERO
            } else {
                Duration::from_millis(300)
            };
            if let Some(death) = started.finish(grace) {
                played.failures.push(StepFailure {
                    line: played.failures.last().map_or(0, |f| f.line),
                    step: "(the target)".to_string(),
                    message: death,
                    expected: vec![],
                    actual: vec![],
                });
            }
            played
        }
    };
    *checks = played.checks;
    if played.failures.is_empty() {
        return (Outcome::Passed, vec![]);
    }
    if options.bless && played.blessable {
        let text = transcript::rewrite(&t.lines, played.rewrites);
        if let Err(e) = std::fs::write(&t.path, text) {
            return (
                Outcome::Broken(format!("cannot rewrite: {e}")),
                played.failures,
            );
        }
        return (Outcome::Blessed, played.failures);
    }
    (Outcome::Failed, played.failures)
}
