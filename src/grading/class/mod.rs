//! `wordwire grade DIR`: plays the suite against every submission in a directory.
//!
//! Here: finding submissions (`DIR/NAME/wordwire-cmd`, optional `flags.toml`),
//! one work queue of (submission, transcript) played on `--jobs` threads, the
//! per-transcript time limit (the submission's process group is killed past it),
//! one HTML report per submission, `summary.csv`, the table on stdout and the
//! progress (a bar on a terminal, a line per graded submission otherwise). A
//! submission's name is its directory's name from the raw bytes (`escape::name_bytes`),
//! made unique; each `NAME.html` and `summary.csv` is written as soon as that
//! submission is graded (`output`); Ctrl-C or SIGTERM kills the running targets and
//! ends the run with what is finished (`interrupt`); `--resume` grades only the
//! submissions without a report.
//! Elsewhere: the flags (`cli::grade`), the suite's files and playing one transcript
//! (`grading::replay`), starting and killing the target (`grading::target::start`), the
//! HTML page (`grading::report::html`).

pub mod output;

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::ahead::{Lookahead, Ready};
use super::clients;
use super::interrupt::{self, Interrupt};
use super::replay::{Options, RunEnd, SuitePaths, discover};
use super::report::{self, Score};
use super::suite::transcript::{Header, Level};
use super::target::{CommandTarget, Isolation, Target, flags};
use super::untrusted;
use super::verdict::{Outcome, TranscriptResult};
use crate::cli::grade::{GradeArgs, GradeFormat};
use crate::course::Course;
use crate::escape::{self, Lines};
use output::Summary;

/// The file in each submission's directory that holds its start command.
pub const COMMAND_FILE: &str = "wordwire-cmd";
/// The optional flag map in each submission's directory (as `--target-flags`).
pub const FLAGS_FILE: &str = "flags.toml";
/// How long a timed-out transcript's play gets to wind down after the kill.
const WIND_DOWN: Duration = Duration::from_secs(5);
/// The largest `wordwire-cmd` or `flags.toml` read.
const MAX_SETUP_FILE: u64 = 64 << 10;

/// One submission: its name (the subdirectory's), directory and how to start it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The directory's name as printable text (`escape::name_bytes`), unique in the
    /// class: it names `NAME.html` and the submission everywhere it is shown.
    pub name: String,
    pub dir: PathBuf,
    /// The command and flag map, or why the submission cannot be played.
    pub setup: Result<(String, Option<flags::FlagMap>), String>,
}

/// A graded submission.
#[derive(Debug, Clone)]
pub struct Graded {
    pub name: String,
    /// In transcript order; one `Broken` result when the submission could not be set up.
    pub results: Vec<TranscriptResult>,
    /// Why the submission could not be played at all.
    pub error: Option<String>,
    /// From its first transcript's start to its last's end.
    pub duration: Duration,
}

/// The last line of the table: `2 submissions, 42 transcripts each, in 9.7 s; reports and
/// summary.csv in DIR` (`1 submission, 1 transcript each` in the singular).
fn closing_line(submissions: usize, transcripts: usize, took: Duration, out: &Path) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{submissions} submission{}, {transcripts} transcript{} each, in {:.1} s; reports and summary.csv in {}",
        s(submissions),
        s(transcripts),
        took.as_secs_f64(),
        out.display()
    )
}

/// What `wordwire-cmd` must hold, said where one is missing or empty.
pub const COMMAND_FILE_HOLDS: &str = "one line, the command that starts the server, with {addr} (or {port}) and {store}: \
     e.g. `python3 server.py --addr {addr} --store {store}`";

/// Every subdirectory of `dir` (hidden ones aside, and `out`, where the reports go: with
/// `--out` inside the class directory, a second run graded it as a submission), sorted by name;
/// or `dir` alone when it holds `wordwire-cmd` itself (one student's folder), named as it is.
pub fn submissions(dir: &Path, out: &Path) -> Result<Vec<Submission>, String> {
    if dir.join(COMMAND_FILE).is_file() {
        let name = std::fs::canonicalize(dir)
            .ok()
            .and_then(|d| {
                d.file_name()
                    .map(|n| escape::name_bytes(n.as_encoded_bytes()))
            })
            .unwrap_or_else(|| "submission".to_string());
        return Ok(vec![Submission {
            name,
            dir: dir.to_path_buf(),
            setup: setup(dir),
        }]);
    }
    let out = std::fs::canonicalize(out).ok();
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let name = escape::name_bytes(entry.file_name().as_encoded_bytes());
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        if out.is_some() && std::fs::canonicalize(entry.path()).ok() == out {
            continue;
        }
        let dir = entry.path();
        let setup = setup(&dir);
        found.push(Submission { name, dir, setup });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.dir.cmp(&b.dir)));
    make_unique(&mut found);
    if found.is_empty() {
        return Err(format!(
            "{}: no submissions (one subdirectory each, holding {COMMAND_FILE}: {COMMAND_FILE_HOLDS})",
            dir.display()
        ));
    }
    Ok(found)
}

/// Two directories whose names escape alike (`a\x01`, four characters, and `a` then
/// byte 1) get `~2`, `~3`, ... after the second and later, so that no report
/// overwrites another.
fn make_unique(found: &mut [Submission]) {
    let mut taken: HashSet<String> = found.iter().map(|s| s.name.clone()).collect();
    let mut seen = HashSet::new();
    for s in found.iter_mut() {
        if seen.insert(s.name.clone()) {
            continue;
        }
        let unique = (2..)
            .map(|n| format!("{}~{n}", s.name))
            .find(|candidate| !taken.contains(candidate))
            .expect("some suffix is free");
        taken.insert(unique.clone());
        seen.insert(unique.clone());
        s.name = unique;
    }
}

/// A setup file's text, read as `untrusted::read_regular` does (no link, no FIFO, capped).
fn read_setup_file(path: &Path) -> Result<String, untrusted::Refused> {
    let bytes = untrusted::read_regular(path, MAX_SETUP_FILE)?;
    String::from_utf8(bytes).map_err(|_| {
        untrusted::Refused::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text",
        ))
    })
}

/// The command (the first line of `wordwire-cmd` that is neither blank nor `#`) and flag map.
fn setup(dir: &Path) -> Result<(String, Option<flags::FlagMap>), String> {
    let path = dir.join(COMMAND_FILE);
    let text = read_setup_file(&path).map_err(|e| {
        format!(
            "cannot read {}: {e}; it must hold {COMMAND_FILE_HOLDS}",
            path.display()
        )
    })?;
    let command = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| {
            format!(
                "{}: no command in it; it must hold {COMMAND_FILE_HOLDS}",
                path.display()
            )
        })?
        .to_string();
    let flags_path = dir.join(FLAGS_FILE);
    let flags = match read_setup_file(&flags_path) {
        Ok(text) => Some(
            flags::FlagMap::parse(&text).map_err(|e| format!("{}: {e}", flags_path.display()))?,
        ),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(format!("cannot read {}: {e}", flags_path.display())),
    };
    Ok((command, flags))
}

/// How often `play_limited` looks at its deadline, which moves once the server listens.
const LOOK_AGAIN: Duration = Duration::from_millis(50);

/// Plays `ready` with `options` under their watch, killing the target (every process
/// of its box, or its process group with `--no-box`) if the play takes longer than
/// `limit` from when the server listens, or from when the play begins for a server
/// started ahead (the watch also lets an interrupt kill it). The start has its own
/// limit (the target's `start_timeout`); this one stops a start that never returns
/// too, `start_timeout + limit` from when the start began (or the play, if later),
/// not counting a start ahead's wait for its turn (`target::queue`).
pub fn play_limited(ready: Ready, options: &Options, limit: Duration) -> TranscriptResult {
    let watch = options.watch.clone().unwrap_or_default();
    let mut options = options.clone();
    options.watch = Some(watch.clone());
    let command = matches!(options.target, Target::Command(_));
    let (start_limit, killed) = match &options.target {
        Target::Command(command) => (
            command.start_timeout,
            match command.isolation {
                Isolation::Boxed(_) => "every process of the submission's box was killed",
                Isolation::Unboxed => "the submission's process group was killed (--no-box)",
            },
        ),
        _ => (Duration::ZERO, "the play was abandoned"),
    };
    let (tx, rx) = mpsc::channel();
    let path = ready.path().to_path_buf();
    let began = Instant::now();
    watch.play_begins();
    std::thread::spawn(move || {
        let _ = tx.send(ready.play(&options));
    });
    loop {
        let deadline = match (watch.listening_since(), watch.starting_since()) {
            (Some(listening), _) => Some(listening + limit),
            (None, Some(starting)) => Some(starting.max(began) + start_limit + limit),
            // A start not yet begun waits its turn (`target::queue`, whose slots run
            // out) or begins now: its time counts from when it begins.
            (None, None) if command => None,
            (None, None) => Some(began + limit),
        };
        let wait = deadline.map_or(LOOK_AGAIN, |d| {
            d.saturating_duration_since(Instant::now()).min(LOOK_AGAIN)
        });
        match rx.recv_timeout(wait) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) if deadline.is_none_or(|d| Instant::now() < d) => {
            }
            Err(_) => break,
        }
    }
    watch.kill();
    // Once its target is dead the play ends; waiting lets it remove its files.
    let _ = rx.recv_timeout(WIND_DOWN);
    timed_out(&path, limit, killed, began.elapsed())
}

fn timed_out(path: &Path, limit: Duration, killed: &str, took: Duration) -> TranscriptResult {
    let outcome = Outcome::Broken(format!(
        "over the transcript time limit of {} s (--transcript-timeout, from when the server listened or, if it was started ahead, its play began): {killed}",
        limit.as_secs_f64()
    ));
    // Parsing gathers the header lines as `scan` does: one read, no parse.
    TranscriptResult::new(path, outcome)
        .taking(took)
        .described_by(&Header::scan(path))
}

/// Plays every file against every submission, `jobs` transcripts at once, calling
/// `on_progress` as each transcript ends (with the submission, when it was its last:
/// a submission that cannot be set up is graded before anything is played). After
/// a signal (`interrupt`) no transcript starts, the running ones' targets are killed,
/// and what they return is dropped: the submissions graded in full are returned, in
/// `subs` order, and no other.
pub fn grade_all(
    subs: &[Submission],
    files: &[PathBuf],
    run: &Run,
    interrupt: &Interrupt,
    on_progress: impl Fn(Progress<'_>) + Sync,
) -> Vec<Graded> {
    let jobs = run.jobs;
    let limit = run.limit;
    let queue: Vec<Queued> = subs
        .iter()
        .map(|s| {
            let options = s.setup.as_ref().ok().map(|(template, flags)| {
                let mut command = CommandTarget::new(
                    template.clone(),
                    flags.clone(),
                    Some(s.dir.clone()),
                    run.isolation.clone(),
                );
                command.start_timeout = run.start_timeout;
                command.ahead = run.ahead;
                command.starts = run.starts;
                if let Some(course) = &run.course {
                    command.follow(course);
                }
                Options {
                    target: Target::Command(command),
                    course: run.course.clone(),
                    ..Options::default()
                }
            });
            Queued {
                left: AtomicUsize::new(if options.is_some() { files.len() } else { 0 }),
                options,
                played: Mutex::new(PlayedSoFar {
                    results: vec![None; files.len()],
                    first: None,
                }),
            }
        })
        .collect();
    // The least of the submissions' depths: one whose starts share a machine (a
    // course's data file without `{store}`, without a box) starts none ahead, and
    // the run plays one transcript at a time (`run_grade`).
    let depth = queue
        .iter()
        .filter_map(|q| q.options.as_ref())
        .map(super::ahead::depth)
        .min()
        .unwrap_or(0);
    let ahead = depth > 0;
    let order = super::ahead::play_order(files, depth);
    let tasks: Vec<(usize, usize)> = queue
        .iter()
        .enumerate()
        .filter(|(_, q)| q.options.is_some())
        .flat_map(|(s, _)| order.iter().map(move |&f| (s, f)))
        .collect();
    let finished: Mutex<Vec<(usize, Graded)>> = Mutex::new(Vec::new());
    let graded = AtomicUsize::new(0);
    // Those that cannot be set up are graded now: their reports come first.
    for (i, s) in subs.iter().enumerate() {
        if let Err(why) = &s.setup {
            let g = not_set_up(s, why);
            on_progress(Progress {
                done: 0,
                total: tasks.len(),
                submission: &s.name,
                graded: Some((&g, graded.fetch_add(1, Ordering::SeqCst) + 1)),
                submissions: subs.len(),
            });
            finished
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((i, g));
        }
    }
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let printing = Mutex::new(());
    let workers_done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.clamp(1, tasks.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    // Each task's options carry its watch, taken as it is begun: an
                    // interrupt kills a server started ahead as well.
                    let take = || {
                        if interrupt.signal().is_some() {
                            return None;
                        }
                        let &(s, f) = tasks.get(next.fetch_add(1, Ordering::Relaxed))?;
                        let mut opts = queue[s]
                            .options
                            .clone()
                            .expect("tasks only for set-up submissions");
                        let watch = interrupt.watch();
                        opts.watch = Some(watch.clone());
                        let ready = Ready::begin(&files[f], &opts, ahead);
                        Some(((s, f, opts, watch), ready))
                    };
                    // Whether the next task's submission has listened once.
                    let proven = || {
                        tasks
                            .get(next.load(Ordering::Relaxed))
                            .and_then(|&(s, _)| queue[s].options.as_ref())
                            .is_some_and(super::ahead::proven)
                    };
                    let mut lookahead = Lookahead::new(depth);
                    while let Some(((s, f, opts, watch), ready)) = lookahead.next(take, proven) {
                        if interrupt.signal().is_some() {
                            interrupt.release(&watch);
                            return;
                        }
                        let q = &queue[s];
                        let began = Instant::now();
                        q.lock().first.get_or_insert(began);
                        let result = play_limited(ready, &opts, limit);
                        interrupt.release(&watch);
                        if interrupt.signal().is_some() {
                            // Its target may have been killed by the interrupt, not by its fault.
                            return;
                        }
                        q.lock().results[f] = Some(result);
                        let _order = printing.lock().unwrap_or_else(|e| e.into_inner());
                        let last = q.left.fetch_sub(1, Ordering::SeqCst) == 1;
                        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                        let whole = last.then(|| {
                            let played = q.lock();
                            // A start that could not work was reported once; the rest were not run.
                            let error = match q.options.as_ref().map(|o| &o.target) {
                                Some(Target::Command(command)) => {
                                    command.gate.closed().map(|c| c.summary())
                                }
                                _ => None,
                            };
                            let mut results: Vec<TranscriptResult> =
                                played.results.iter().flatten().cloned().collect();
                            // No credit for a rejection whose positive twin failed.
                            super::verdict::apply_twins(&mut results);
                            Graded {
                                name: subs[s].name.clone(),
                                results,
                                error,
                                duration: played.first.unwrap_or(began).elapsed(),
                            }
                        });
                        let count = whole
                            .as_ref()
                            .map(|_| graded.fetch_add(1, Ordering::SeqCst) + 1);
                        on_progress(Progress {
                            done: n,
                            total: tasks.len(),
                            submission: &subs[s].name,
                            graded: whole.as_ref().zip(count),
                            submissions: subs.len(),
                        });
                        if let Some(g) = whole {
                            finished
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((s, g));
                        }
                    }
                })
            })
            .collect();
        scope.spawn(|| interrupt.monitor(&workers_done));
        for worker in workers {
            let _ = worker.join();
        }
        workers_done.store(true, Ordering::SeqCst);
    });
    // Boxes of healthy servers are stopped on threads of their own: all of them now.
    crate::sandbox::wait_for_stops();
    let mut finished = finished.into_inner().unwrap_or_else(|e| e.into_inner());
    finished.sort_by_key(|(i, _)| *i);
    finished.into_iter().map(|(_, g)| g).collect()
}

/// The grading of a submission that cannot be played: one `Broken` result that says why.
fn not_set_up(s: &Submission, why: &str) -> Graded {
    Graded {
        name: s.name.clone(),
        results: vec![
            TranscriptResult::new(&s.dir.join(COMMAND_FILE), Outcome::Broken(why.to_string()))
                .placed(Level::Must, "submission".to_string())
                .hinted(Some(format!(
                    "{COMMAND_FILE} holds one line: the command that starts the server, e.g. `python3 server.py --port {{port}} --store {{store}}`"
                ))),
        ],
        error: Some(why.to_string()),
        duration: Duration::ZERO,
    }
}

/// How a class is graded: transcripts at once, the limits, and the box.
#[derive(Debug, Clone)]
pub struct Run {
    pub jobs: usize,
    /// Each transcript's time limit, from when its server listens.
    pub limit: Duration,
    /// How long each start has to listen.
    pub start_timeout: Duration,
    /// Servers each job starts ahead of its play (`--ahead`).
    pub ahead: usize,
    /// Servers started ahead that start at once, over all jobs (`--starts`).
    pub starts: usize,
    pub isolation: Isolation,
    /// The course file (`--course`), for every submission's transcripts.
    pub course: Option<Arc<Course>>,
}

/// Sets apart, with the reason, each submission that no box could hold (over the
/// copy's caps): one line for it instead of a failed copy per transcript.
pub fn refuse_uncopyable(subs: &mut [Submission], isolation: &Isolation) {
    if !matches!(isolation, Isolation::Boxed(_)) {
        return;
    }
    for s in subs.iter_mut().filter(|s| s.setup.is_ok()) {
        if let Err(e) = crate::sandbox::copy::measure(&s.dir, crate::sandbox::CopyLimits::default())
        {
            s.setup = Err(format!("cannot copy the submission into a box: {e}"));
        }
    }
}

/// One submission in `grade_all`'s queue: how to play it, and what its transcripts
/// have come to so far.
struct Queued {
    /// `None`: the submission could not be set up, and nothing of it is queued.
    options: Option<Options>,
    /// Its transcripts not yet played; the thread that plays the last one reports it.
    left: AtomicUsize,
    played: Mutex<PlayedSoFar>,
}

/// What the threads have filled in of one submission.
struct PlayedSoFar {
    /// In transcript order; `None` until played.
    results: Vec<Option<TranscriptResult>>,
    /// When its first transcript started.
    first: Option<Instant>,
}

impl Queued {
    fn lock(&self) -> std::sync::MutexGuard<'_, PlayedSoFar> {
        self.played.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One finished transcript, or a submission that could not be set up, for the
/// progress display and the reports.
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub submission: &'a str,
    /// When the submission is graded: what it came to, and how many are graded so far.
    pub graded: Option<(&'a Graded, usize)>,
    pub submissions: usize,
}

/// The stderr line of a graded submission: its score, MUST transcripts that failed
/// or could not be played, and its time: `alice: 97.5%, 1 MUST failure, 12.3 s`;
/// with skips, the score says of how many as `replay` does:
/// `alice: 100% of the 41 played (1 of 42 skipped), 0 MUST failures, 6.9 s`.
fn graded_line(name: &str, results: &[TranscriptResult], took: Duration) -> String {
    let score = Score::of(results);
    let n = score.total.failed;
    let skips = if score.total.skipped > 0 {
        format!(
            " of the {} played ({} of {} skipped)",
            score.total.played(),
            score.total.skipped,
            score.total.played() + score.total.skipped
        )
    } else {
        String::new()
    };
    format!(
        "{name}: {}%{skips}, {n} MUST failure{}, {:.1} s",
        score.percent,
        if n == 1 { "" } else { "s" },
        took.as_secs_f64()
    )
}

/// `summary.csv`: one row per submission; per category `passed/judged` (skipped
/// transcripts are not judged), then the score, MUST failures, SHOULD warnings,
/// skipped and why the submission could not be played. When the suite had errors
/// (`suite_errors` transcripts that could not be read, played by no submission) a
/// last column, `suite_errors`, holds that number on every row, so that a reader of
/// the file alone sees that the scores are of an incomplete suite; without suite
/// errors there is no such column, and the file is what it always was. Cells are
/// written by `output::csv_row` (no formula, no line break in a cell).
/// With a `course`, last come the points: `points_CATEGORY` per category, then
/// `points`, each `earned/max` (the course's `[grading.weights]`, partial credit per
/// check: `TranscriptResult::credit`; skipped transcripts are worth nothing).
pub fn summary_csv(
    graded: &[Graded],
    categories: &BTreeSet<String>,
    suite_errors: usize,
    course: Option<&Course>,
) -> String {
    let mut summary = Summary::new(&summary_header(categories, suite_errors, course.is_some()));
    for g in graded {
        summary.set(&g.name, &summary_row(g, categories, suite_errors, course));
    }
    summary.text()
}

fn summary_header(categories: &BTreeSet<String>, suite_errors: usize, course: bool) -> Vec<String> {
    let mut header = vec!["submission".to_string()];
    header.extend(categories.iter().cloned());
    header.extend(
        [
            "score",
            "must_failures",
            "should_failures",
            "skipped",
            "error",
        ]
        .map(String::from),
    );
    if suite_errors > 0 {
        header.push("suite_errors".to_string());
    }
    if course {
        header.extend(categories.iter().map(|c| format!("points_{c}")));
        header.push("points".to_string());
    }
    header
}

fn summary_row(
    g: &Graded,
    categories: &BTreeSet<String>,
    suite_errors: usize,
    course: Option<&Course>,
) -> Vec<String> {
    let score = Score::of(&g.results);
    let mut row = vec![g.name.clone()];
    for c in categories {
        let t = score.categories.get(c).cloned().unwrap_or_default();
        row.push(format!("{}/{}", t.passed, t.passed + t.failed + t.warnings));
    }
    row.push(score.percent.to_string());
    row.push(score.total.failed.to_string());
    row.push(score.total.warnings.to_string());
    row.push(score.total.skipped.to_string());
    row.push(g.error.clone().unwrap_or_default());
    if suite_errors > 0 {
        row.push(suite_errors.to_string());
    }
    if let Some(course) = course {
        let points = |in_category: &dyn Fn(&str) -> bool| {
            let (mut earned, mut max) = (0.0, 0.0);
            for r in &g.results {
                if in_category(&r.category) && !matches!(r.outcome, Outcome::Skipped(_)) {
                    let weight = course.weight(&r.category);
                    max += weight;
                    earned += weight * r.credit();
                }
            }
            format!("{}/{}", round2(earned), round2(max))
        };
        for c in categories {
            row.push(points(&|cat| cat == c));
        }
        row.push(points(&|_| true));
    }
    row
}

/// `x` to two decimals, without trailing zeros: `2`, `1.5`, `0.33`.
fn round2(x: f64) -> String {
    let s = format!("{:.2}", (x * 100.0).round() / 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The table on stdout: submission, score, MUST failures, time; and, when any
/// submission had transcripts skipped, a `skipped` column (as in `summary.csv`)
/// and a last line saying what that means. Without skips the table has no such column.
fn table(graded: &[Graded]) -> String {
    let width = graded
        .iter()
        .map(|g| g.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    let scores: Vec<Score> = graded.iter().map(|g| Score::of(&g.results)).collect();
    let skips = scores.iter().any(|s| s.total.skipped > 0);
    let mut out = format!(
        "{:<width$} {:>6} {:>13}",
        "submission", "score", "MUST failures"
    );
    if skips {
        out.push_str(" skipped");
    }
    let _ = writeln!(out, " {:>8}", "time");
    for (g, score) in graded.iter().zip(&scores) {
        let _ = write!(
            out,
            "{:<width$} {:>5}% {:>13}",
            g.name, score.percent, score.total.failed
        );
        if skips {
            let _ = write!(out, " {:>7}", score.total.skipped);
        }
        let _ = write!(out, " {:>6.1} s", g.duration.as_secs_f64());
        if let Some(why) = &g.error {
            let _ = write!(out, "  ({})", escape::for_terminal(why, Lines::Escape));
        }
        out.push('\n');
    }
    if skips {
        out.push_str("skipped: not played, not in the score; each NAME.html says why\n");
    }
    out
}

/// Runs `wordwire grade`: exit 0 if every submission passed every MUST transcript,
/// 1 if one did not, 2 if grading itself could not run, 3 if a transcript of the
/// suite could not be read (`RunEnd`; the others are played and scored all the same),
/// 130 or 143 when Ctrl-C or SIGTERM stopped it (`interrupt`).
pub fn run(args: GradeArgs) -> ExitCode {
    let interrupt = match Interrupt::on_signals() {
        Ok(interrupt) => interrupt,
        Err(e) => {
            eprintln!("wordwire grade: {e}");
            return ExitCode::from(2);
        }
    };
    match run_grade(&args, &interrupt) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "wordwire grade: {}",
                escape::for_terminal(&e, Lines::Escape)
            );
            ExitCode::from(2)
        }
    }
}

/// At most this many names in the line of submissions an interrupt left ungraded.
const NAMES_SHOWN: usize = 20;

fn run_grade(args: &GradeArgs, interrupt: &Interrupt) -> Result<ExitCode, String> {
    let mut subs = submissions(&args.submissions, &args.out)?;
    let course = Course::load_flag(args.course.as_deref())?;
    // The course's `[server] start` is the command of a submission without `wordwire-cmd`.
    if let Some(start) = course.as_ref().and_then(|c| c.start.clone()) {
        for sub in &mut subs {
            if !sub.dir.join(COMMAND_FILE).exists() {
                let flags_path = sub.dir.join(FLAGS_FILE);
                sub.setup = flags_path
                    .is_file()
                    .then(|| {
                        read_setup_file(&flags_path)
                            .map_err(|e| format!("cannot read {}: {e}", flags_path.display()))
                            .and_then(|text| {
                                flags::FlagMap::parse(&text)
                                    .map_err(|e| format!("{}: {e}", flags_path.display()))
                            })
                    })
                    .transpose()
                    .map(|flags| (start.clone(), flags));
            }
        }
    }
    let suite = SuitePaths::or_builtin(&args.suite)?;
    let mut files = discover(&suite.paths)?;
    // Submissions are servers: the client transcripts test clients.
    files.retain(|p| !clients::is_client_transcript(p));
    if files.is_empty() {
        return Err("no transcripts found".to_string());
    }
    // A transcript that does not load is the suite's fault: played by no submission.
    let (files, mut suite_errors) = super::replay::readable(files);
    for e in &mut suite_errors {
        suite.show(&mut e.path);
    }
    let errors_block = report::suite_errors(&suite_errors);
    if let Some(block) = &errors_block {
        // Before the grading, which takes a while, and again after the table.
        eprint!("{}", report::plain(block));
    }
    if files.is_empty() {
        return Ok(RunEnd::SuiteError.exit_code());
    }
    let categories: BTreeSet<String> = files.iter().map(|p| Header::scan(p).category).collect();
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let isolation = Isolation::for_this_run(args.no_box)?;
    // Once, before the grading: which protections every box has (or that there is none).
    eprint!("{}", isolation.announcement());
    let mut summary = Summary::new(&summary_header(
        &categories,
        suite_errors.len(),
        course.is_some(),
    ));
    if args.resume {
        let (done, left): (Vec<Submission>, Vec<Submission>) = subs
            .into_iter()
            .partition(|s| output::has_report(&args.out, &s.name));
        let names: Vec<&str> = done.iter().map(|s| s.name.as_str()).collect();
        summary.keep_earlier(&args.out, &names);
        if !done.is_empty() {
            eprintln!(
                "--resume: {} submission{} with a report in {} already, not graded again",
                done.len(),
                if done.len() == 1 { "" } else { "s" },
                args.out.display()
            );
        }
        if left.is_empty() {
            println!(
                "nothing to grade: every submission has a report in {}",
                args.out.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        subs = left;
    }
    refuse_uncopyable(&mut subs, &isolation);
    // One server at a time if any submission's starts would share the machine.
    let shared = subs.iter().any(|s| {
        s.setup.as_ref().is_ok_and(|(template, _)| {
            CommandTarget::new(template.clone(), None, None, isolation.clone())
                .shares_a_machine(course.as_deref())
        })
    });
    let run = Run {
        jobs: if shared { 1 } else { usize::from(args.jobs) },
        // A submission whose starts share the machine makes the class's depth 0
        // (`grade_all`: the least of the submissions' `ahead::depth`).
        ahead: usize::from(args.ahead),
        starts: args
            .starts
            .map_or_else(crate::grading::target::queue::cores, usize::from),
        limit: Duration::from_secs_f64(args.transcript_timeout),
        start_timeout: Duration::from_secs_f64(args.start_timeout),
        isolation,
        course: course.clone(),
    };
    let isolation_line = run.isolation.report_line();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} transcripts, {elapsed} {msg}",
            )
            .expect("the template is valid"),
        );
        bar
    });
    let began = Instant::now();
    let summary = Mutex::new(summary);
    let write_error: Mutex<Option<String>> = Mutex::new(None);
    // Each submission's report and the summary, as soon as it is graded.
    let save = |g: &Graded| -> Result<(), String> {
        let mut results = g.results.clone();
        for r in &mut results {
            suite.show(&mut r.path);
        }
        let page = report::html(
            &format!("wordwire grade: {}", g.name),
            &results,
            &suite_errors,
            Some(&isolation_line),
        );
        output::replace_file(&args.out, &format!("{}.html", g.name), page.as_bytes())?;
        if args.format == GradeFormat::Gradescope {
            let dir = args.out.join(&g.name);
            let weights = course.as_deref().cloned().unwrap_or_default();
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let json = report::gradescope(&results, &suite_errors, &weights);
            output::replace_file(&dir, "results.json", json.as_bytes())?;
        }
        let mut summary = summary.lock().unwrap_or_else(|e| e.into_inner());
        summary.set(
            &g.name,
            &summary_row(g, &categories, suite_errors.len(), course.as_deref()),
        );
        output::replace_file(&args.out, "summary.csv", summary.text().as_bytes())
    };
    let graded = grade_all(&subs, &files, &run, interrupt, |p| {
        let line = p.graded.map(|(g, n)| {
            if let Err(e) = save(g) {
                let mut first = write_error.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert(e);
            }
            format!(
                "[{n}/{}] {}",
                p.submissions,
                graded_line(&g.name, &g.results, g.duration)
            )
        });
        match &bar {
            Some(bar) => {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
                bar.set_message(p.submission.to_string());
                if let Some(line) = line {
                    bar.println(line);
                }
            }
            None => {
                if let Some(line) = line {
                    eprintln!("{line}");
                }
            }
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(e) = write_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    // An interrupt before any submission finished has no row to show.
    if !(graded.is_empty() && interrupt.signal().is_some()) {
        print!("{}", table(&graded));
    }
    if let Some(signal) = interrupt.signal() {
        eprintln!("{}", interrupted(signal, &subs, &graded, &args.out));
        return Ok(ExitCode::from(interrupt::exit_status(signal)));
    }
    println!(
        "{}",
        closing_line(graded.len(), files.len(), began.elapsed(), &args.out)
    );
    println!("{isolation_line}");
    if let Some(block) = &errors_block {
        print!("\n{}", report::plain(block));
    }
    let passed = graded.iter().all(|g| super::replay::passed_run(&g.results));
    Ok(RunEnd::of(passed, &suite_errors).exit_code())
}

/// What an interrupted run says: which signal, where the finished reports are, which
/// submissions were not graded and how to grade them.
fn interrupted(signal: i32, subs: &[Submission], graded: &[Graded], out: &Path) -> String {
    let done: HashSet<&str> = graded.iter().map(|g| g.name.as_str()).collect();
    let left: Vec<&str> = subs
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| !done.contains(n))
        .collect();
    let mut text = if graded.is_empty() {
        format!(
            "wordwire grade: stopped by {}: the running submissions were killed; none of {} was graded yet, so no report was written",
            interrupt::signal_name(signal),
            subs.len()
        )
    } else {
        format!(
            "wordwire grade: stopped by {}: the running submissions were killed; {} of {} graded, their reports and summary.csv are in {}",
            interrupt::signal_name(signal),
            graded.len(),
            subs.len(),
            out.display()
        )
    };
    if !left.is_empty() {
        let shown = left[..left.len().min(NAMES_SHOWN)].join(", ");
        let more = left.len().saturating_sub(NAMES_SHOWN);
        let _ = write!(text, "\nnot graded: {shown}");
        if more > 0 {
            let _ = write!(text, " and {more} more");
        }
        text.push_str("\nto grade them: the same command with --resume");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::suite::transcript::Level;

    fn result(category: &str, outcome: Outcome, level: Level) -> TranscriptResult {
        TranscriptResult {
            level,
            category: category.to_string(),
            ..TranscriptResult::new(Path::new("t.transcript"), outcome)
        }
    }

    #[test]
    fn the_csv_has_a_column_per_category_and_quotes_what_needs_it() {
        let graded = vec![
            Graded {
                name: "alice".into(),
                results: vec![
                    result("auth", Outcome::Passed, Level::Must),
                    result("auth", Outcome::Failed, Level::Must),
                    result("limits", Outcome::Skipped("x".into()), Level::Must),
                ],
                error: None,
                duration: Duration::ZERO,
            },
            Graded {
                name: "bob, jr".into(),
                results: vec![result(
                    "submission",
                    Outcome::Broken("no \"cmd\"".into()),
                    Level::Must,
                )],
                error: Some("no \"cmd\"".into()),
                duration: Duration::ZERO,
            },
        ];
        let categories: BTreeSet<String> = ["auth", "limits"].map(String::from).into();
        assert_eq!(
            summary_csv(&graded, &categories, 0, None),
            "submission,auth,limits,score,must_failures,should_failures,skipped,error\r\n\
             alice,1/2,0/0,50,1,0,1,\r\n\
             \"bob, jr\",0/0,0/0,0,1,0,0,\"no \"\"cmd\"\"\"\r\n"
        );
    }

    #[test]
    fn with_suite_errors_the_csv_ends_with_their_number_on_every_row() {
        let graded = vec![
            Graded {
                name: "alice".into(),
                results: vec![result("auth", Outcome::Passed, Level::Must)],
                error: None,
                duration: Duration::ZERO,
            },
            Graded {
                name: "bob".into(),
                results: vec![result(
                    "submission",
                    Outcome::Broken("x".into()),
                    Level::Must,
                )],
                error: Some("no cmd".into()),
                duration: Duration::ZERO,
            },
        ];
        let categories: BTreeSet<String> = ["auth"].map(String::from).into();
        assert_eq!(
            summary_csv(&graded, &categories, 2, None),
            "submission,auth,score,must_failures,should_failures,skipped,error,suite_errors\r\n\
             alice,1/1,100,0,0,0,,2\r\n\
             bob,0/0,0,1,0,0,no cmd,2\r\n"
        );
        // Without suite errors, the columns are those of every earlier version.
        assert_eq!(
            summary_csv(&graded, &categories, 0, None),
            "submission,auth,score,must_failures,should_failures,skipped,error\r\n\
             alice,1/1,100,0,0,0,\r\n\
             bob,0/0,0,1,0,0,no cmd\r\n"
        );
    }

    fn graded(name: &str, results: Vec<TranscriptResult>) -> Graded {
        Graded {
            name: name.into(),
            results,
            error: None,
            duration: Duration::from_millis(6900),
        }
    }

    #[test]
    fn the_table_and_stderr_line_say_how_many_were_skipped_as_the_csv_does() {
        let skip = || {
            result(
                "faults",
                Outcome::Skipped("in-process only".into()),
                Level::Must,
            )
        };
        let alice = graded(
            "alice",
            vec![result("auth", Outcome::Passed, Level::Must), skip()],
        );
        let bob = graded(
            "bob",
            vec![result("auth", Outcome::Failed, Level::Must), skip()],
        );
        assert_eq!(
            graded_line(&alice.name, &alice.results, alice.duration),
            "alice: 100% of the 1 played (1 of 2 skipped), 0 MUST failures, 6.9 s"
        );
        let graded = [alice, bob];
        assert_eq!(
            table(&graded),
            "submission  score MUST failures skipped     time\n\
             alice        100%             0       1    6.9 s\n\
             bob            0%             1       1    6.9 s\n\
             skipped: not played, not in the score; each NAME.html says why\n"
        );
        let categories: BTreeSet<String> = ["auth", "faults"].map(String::from).into();
        let csv = summary_csv(&graded, &categories, 0, None);
        assert!(csv.contains("\r\nalice,1/1,0/0,100,0,0,1,\r\n"), "{csv}");
    }

    #[test]
    fn without_skips_the_table_and_stderr_line_do_not_mention_them() {
        let alice = graded(
            "alice",
            vec![
                result("auth", Outcome::Passed, Level::Must),
                result("auth", Outcome::Failed, Level::Must),
            ],
        );
        assert_eq!(
            graded_line(&alice.name, &alice.results, alice.duration),
            "alice: 50%, 1 MUST failure, 6.9 s"
        );
        assert_eq!(
            table(&[alice]),
            "submission  score MUST failures     time\n\
             alice         50%             1    6.9 s\n"
        );
    }

    #[test]
    fn a_submission_without_its_command_file_is_named_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        std::fs::create_dir(dir.path().join("ok")).unwrap();
        std::fs::write(
            dir.path().join("ok").join(COMMAND_FILE),
            "# start\n\nsrv {port}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("stray.txt"), "").unwrap();
        std::fs::create_dir(dir.path().join("blank")).unwrap();
        std::fs::write(dir.path().join("blank").join(COMMAND_FILE), "# nothing\n").unwrap();
        let subs = submissions(dir.path(), &dir.path().join("grades")).unwrap();
        assert_eq!(subs.len(), 3);
        let holds = "it must hold one line, the command that starts the server, with {addr} (or {port}) and {store}: e.g. `python3 server.py --addr {addr} --store {store}`";
        let missing = subs[1].setup.as_ref().unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
        assert!(missing.ends_with(&format!("; {holds}")), "{missing}");
        let blank = subs[0].setup.as_ref().unwrap_err();
        assert!(
            blank.ends_with(&format!("no command in it; {holds}")),
            "{blank}"
        );
        assert_eq!(subs[2].setup.as_ref().unwrap().0, "srv {port}");
        let none = tempfile::tempdir().unwrap();
        assert!(
            submissions(none.path(), Path::new("grades"))
                .unwrap_err()
                .contains("no submissions")
        );
    }

    #[test]
    fn a_folder_holding_the_command_file_is_one_submission_named_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let alice = dir.path().join("alice");
        std::fs::create_dir_all(alice.join("src")).unwrap();
        std::fs::write(alice.join(COMMAND_FILE), "srv {addr}\n").unwrap();
        // As typed from inside it too: `wordwire grade . --out ../grades`.
        for given in [alice.clone(), alice.join("src").join("..")] {
            let subs = submissions(&given, &dir.path().join("grades")).unwrap();
            assert_eq!(subs.len(), 1, "{subs:?}");
            assert_eq!(subs[0].name, "alice");
            assert_eq!(subs[0].dir, given);
            assert_eq!(subs[0].setup.as_ref().unwrap().0, "srv {addr}");
        }
    }

    #[test]
    fn the_output_directory_inside_the_class_is_not_a_submission() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("alice")).unwrap();
        std::fs::write(dir.path().join("alice").join(COMMAND_FILE), "srv\n").unwrap();
        std::fs::create_dir(dir.path().join("grades")).unwrap();
        std::fs::write(dir.path().join("grades").join("summary.csv"), "").unwrap();
        // As given on the command line: relative, and through `..`.
        let out = dir.path().join("alice").join("..").join("grades");
        let subs = submissions(dir.path(), &out).unwrap();
        let names: Vec<_> = subs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["alice"]);
        // An output directory elsewhere hides nothing.
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(submissions(dir.path(), elsewhere.path()).unwrap().len(), 2);
    }

    #[test]
    fn names_come_from_the_raw_bytes_escaped_and_unique() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        // `a` then byte 1, and the four characters `a\x01`: they escape alike.
        for raw in [
            &b"a\x01"[..],
            b"a\\x01",
            b"bob\xff",
            b"eve\x1b[32mALL PASSED",
        ] {
            let sub = dir.path().join(std::ffi::OsStr::from_bytes(raw));
            std::fs::create_dir(&sub).unwrap();
            std::fs::write(sub.join(COMMAND_FILE), "srv {port}\n").unwrap();
        }
        let subs = submissions(dir.path(), &dir.path().join("grades")).unwrap();
        let names: Vec<&str> = subs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["a\\x01", "a\\x01~2", "bob\\xFF", "eve\\x1B[32mALL PASSED"]
        );
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), 4);
    }

    #[test]
    fn a_fifo_or_a_link_as_the_command_file_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        std::fs::create_dir(&fifo).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(fifo.join(COMMAND_FILE))
            .status()
            .unwrap();
        assert!(made.success());
        let link = dir.path().join("link");
        std::fs::create_dir(&link).unwrap();
        std::os::unix::fs::symlink("/dev/zero", link.join(COMMAND_FILE)).unwrap();
        let subs = submissions(dir.path(), &dir.path().join("grades")).unwrap();
        let why = |i: usize| subs[i].setup.as_ref().unwrap_err().clone();
        assert!(
            why(0)
                .contains("wordwire-cmd: it is not a regular file (a FIFO); it must hold one line"),
            "{}",
            why(0)
        );
        assert!(
            why(1).contains(
                "wordwire-cmd: it is a symbolic link (not followed); it must hold one line"
            ),
            "{}",
            why(1)
        );
    }

    #[test]
    fn the_closing_line_counts_in_the_singular_too() {
        let out = Path::new("/tmp/grades");
        assert_eq!(
            closing_line(2, 42, Duration::from_millis(9700), out),
            "2 submissions, 42 transcripts each, in 9.7 s; reports and summary.csv in /tmp/grades"
        );
        assert_eq!(
            closing_line(1, 1, Duration::from_millis(40), out),
            "1 submission, 1 transcript each, in 0.0 s; reports and summary.csv in /tmp/grades"
        );
    }
}
