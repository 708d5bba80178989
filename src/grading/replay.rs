//! `wordwire replay`: runs golden transcripts against a server and reports every difference.
//!
//! Here: running the command line (its flags: `cli::replay`), finding transcript files
//! (`--filter`, `--list`, a note for those a `SUITE` does not list), the `--target` probe,
//! setting apart those that do not load (suite errors, `RunEnd`), choosing where they play
//! (in-process, `--target`, `--target-cmd`) and how they are judged (byte-exact or
//! contract level), running them in parallel (`replay_all`), `--coverage`
//! (transcripts per status) and choosing the output format.
//! Elsewhere: one transcript's play, `Options` and `--bless` (`grading::run_one`,
//! re-exported here), the starts ahead (`grading::ahead`), the file format
//! (`grading::suite::transcript`), playing steps
//! (`grading::play`), contract-level judging (`grading::judge`), the in-process
//! server (`grading::target::local`), starting a foreign one (`grading::target::start`,
//! `grading::target::flags`), client transcripts and `--client-cmd` (`grading::clients`),
//! output (`grading::report`), and the HTTP client (`client`).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::ahead::{Lookahead, Ready};
use super::clients;
use super::interrupt::Interrupt;
use super::play::io_message;
use super::report;
pub use super::run_one::{Judge, Options, replay_one};
use super::run_one::{Loaded, load_any};
use super::suite::builtin;
use super::suite::transcript::{self, Level};
use super::target::{self, Target, flags};
use super::verdict::{Outcome, TranscriptResult};
use crate::cli::replay::{Format, ReplayArgs};
use crate::course::Course;

/// The extension of transcript files; other files in a directory are ignored.
pub const EXTENSION: &str = "transcript";

/// Every status code the contract names; each needs at least one transcript.
/// 408 is the `--timeout-status 408` form of 504.
pub const CONTRACT_STATUSES: [u16; 15] = [
    100, 200, 204, 400, 401, 404, 408, 413, 414, 431, 500, 501, 503, 504, 505,
];

/// The transcript files named by `paths`: files as given, directories searched
/// recursively for `*.transcript`, sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut found).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        } else if path.is_file() {
            found.push(path.clone());
        } else if path.exists() {
            // A FIFO, a device, a socket: not "no such file", which would send the user looking.
            return Err(format!(
                "{}: not a regular file or a directory",
                path.display()
            ));
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Splits `files` into the transcripts that load and the suite errors: files that
/// cannot be read or parsed, whose fault is the suite's, not the server's. Those
/// are not played and not scored; the run reports them apart and exits 3.
pub fn readable(files: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<transcript::FormatError>) {
    let mut errors = Vec::new();
    let loadable = files
        .into_iter()
        .filter(|path| load_any(path).map_err(|e| errors.push(e)).is_ok())
        .collect();
    (loadable, errors)
}

/// The suite a run plays: the paths given, or the built-in suite written to a temporary
/// directory (removed when this is dropped) so that it is read like any suite on disk.
pub struct SuitePaths {
    pub paths: Vec<PathBuf>,
    builtin: Option<tempfile::TempDir>,
}

impl SuitePaths {
    /// `paths` as given.
    pub fn given(paths: Vec<PathBuf>) -> SuitePaths {
        SuitePaths {
            paths,
            builtin: None,
        }
    }

    /// `paths`, or the built-in suite exported when there are none.
    pub fn or_builtin(paths: &[PathBuf]) -> Result<SuitePaths, String> {
        if !paths.is_empty() {
            return Ok(SuitePaths::given(paths.to_vec()));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        builtin::export(dir.path())?;
        Ok(SuitePaths {
            paths: vec![dir.path().join("transcripts")],
            builtin: Some(dir),
        })
    }

    /// Shows `path` relative to the temporary directory of the built-in suite, so that
    /// reports name `transcripts/...`, not the temporary path; other paths as they are.
    pub fn show(&self, path: &mut PathBuf) {
        let root = self.builtin.as_ref().map(tempfile::TempDir::path);
        if let Some(rel) = root.and_then(|root| path.strip_prefix(root).ok()) {
            *path = rel.to_path_buf();
        }
    }
}

/// How a `replay` or `grade` run ended, and its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every MUST transcript played passed: exit 0.
    Passed,
    /// A MUST transcript failed or could not be played: exit 1.
    Failed,
    /// A transcript of the suite could not be read (a suite error, whatever the
    /// server did with the others): exit 3. Exit 2 is a command that could not run.
    SuiteError,
    /// Ctrl-C or SIGTERM (the signal's number) stopped a `--target-cmd` run and the
    /// servers it had started: 130 or 143.
    Interrupted(i32),
}

impl RunEnd {
    /// `SuiteError` if there are `suite_errors`, else whether `passed`.
    pub fn of(passed: bool, suite_errors: &[transcript::FormatError]) -> RunEnd {
        match (suite_errors.is_empty(), passed) {
            (false, _) => RunEnd::SuiteError,
            (true, true) => RunEnd::Passed,
            (true, false) => RunEnd::Failed,
        }
    }

    pub fn exit_code(self) -> ExitCode {
        match self {
            RunEnd::Passed => ExitCode::SUCCESS,
            RunEnd::Failed => ExitCode::from(1),
            RunEnd::SuiteError => ExitCode::from(3),
            RunEnd::Interrupted(signal) => ExitCode::from(super::interrupt::exit_status(signal)),
        }
    }
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == EXTENSION) {
            found.push(path);
        }
    }
    Ok(())
}

/// Plays every file on `jobs` threads, calling `on_done(result, done, total)` as each
/// finishes; returns the results in path order. Against a command, each thread starts
/// the next transcripts' servers while it plays one, and the long plays are spread
/// among the short (`grading::ahead`).
pub fn replay_all(
    paths: &[PathBuf],
    options: &Options,
    jobs: usize,
    interrupt: Option<&Interrupt>,
    on_done: impl Fn(&TranscriptResult, usize, usize) + Sync,
) -> Vec<TranscriptResult> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let printing = Mutex::new(());
    let results: Mutex<Vec<Option<TranscriptResult>>> = Mutex::new(vec![None; paths.len()]);
    let depth = super::ahead::depth(options);
    let ahead = depth > 0;
    let order = super::ahead::play_order(paths, depth);
    let workers_done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for _ in 0..jobs.clamp(1, paths.len().max(1)) {
            workers.push(scope.spawn(|| {
                let mut tasks = Lookahead::new(depth);
                // With an interrupt, each task's target has a watch it kills.
                let take = || {
                    if interrupt.is_some_and(|i| i.signal().is_some()) {
                        return None;
                    }
                    let &i = order.get(next.fetch_add(1, Ordering::Relaxed))?;
                    let mut task_options = options.clone();
                    task_options.watch = interrupt.map(Interrupt::watch);
                    let ready = Ready::begin(&paths[i], &task_options, ahead);
                    Some(((i, task_options), ready))
                };
                let proven = || super::ahead::proven(options);
                while let Some(((i, task_options), ready)) = tasks.next(take, proven) {
                    let result = ready.play(&task_options);
                    if let (Some(interrupt), Some(watch)) = (interrupt, &task_options.watch) {
                        interrupt.release(watch);
                        if interrupt.signal().is_some() {
                            // Its target may have been killed by the interrupt.
                            return;
                        }
                    }
                    {
                        // Counting and printing under one lock numbers lines as they finish.
                        let _order = printing
                            .lock()
                            .expect("no thread panics while holding the printing lock");
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        on_done(&result, n, paths.len());
                    }
                    results
                        .lock()
                        .expect("no thread panics while holding the results lock")[i] =
                        Some(result);
                }
            }));
        }
        if let Some(interrupt) = interrupt {
            scope.spawn(|| interrupt.monitor(&workers_done));
        }
        for worker in workers {
            let _ = worker.join();
        }
        workers_done.store(true, Ordering::SeqCst);
    });
    // Boxes of healthy servers are stopped on threads of their own: all of them now.
    crate::sandbox::wait_for_stops();
    results
        .into_inner()
        .expect("no thread panics while holding the results lock")
        .into_iter()
        .flatten()
        .collect()
}

/// How many transcripts expect each status at least once, and the suite errors:
/// the files that cannot be read or parsed, counted nowhere (as `readable` sets them
/// apart for a replay; `--coverage` reports them and exits 3).
pub fn coverage(files: &[PathBuf]) -> (BTreeMap<u16, usize>, Vec<transcript::FormatError>) {
    let mut counts = BTreeMap::new();
    let mut errors = Vec::new();
    for path in files {
        let t = match load_any(path) {
            Ok(Loaded::Server(t)) => t,
            // Client transcripts script the server's side: the statuses they send are not the server's.
            Ok(Loaded::Client(_)) => continue,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut statuses = t.expected_statuses();
        statuses.sort_unstable();
        statuses.dedup();
        for status in statuses {
            *counts.entry(status).or_insert(0) += 1;
        }
    }
    (counts, errors)
}

/// Runs `wordwire replay`: exit 0 if every transcript passed (or was blessed), 1 if any
/// failed, 2 if the command itself could not run, 3 if a transcript of the suite
/// could not be read (`RunEnd`).
pub fn run(args: ReplayArgs) -> ExitCode {
    match run_replay(&args) {
        Ok(end) => end.exit_code(),
        Err(e) => {
            eprintln!("wordwire replay: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_replay(args: &ReplayArgs) -> Result<RunEnd, String> {
    if let Some(dir) = &args.export {
        let n = builtin::export(dir)?;
        println!("wrote {n} files under {}", dir.display());
        return Ok(RunEnd::Passed);
    }
    // Without paths the built-in suite plays; paths are shown as in the repository.
    let suite = if args.bless && args.paths.is_empty() {
        SuitePaths::given(vec![PathBuf::from("transcripts")])
    } else {
        SuitePaths::or_builtin(&args.paths)?
    };
    let shown = |mut r: TranscriptResult| {
        suite.show(&mut r.path);
        r
    };
    let shown_errors = |mut errors: Vec<transcript::FormatError>| {
        for e in &mut errors {
            suite.show(&mut e.path);
        }
        errors
    };
    let mut files = discover(&suite.paths)?;
    note_unlisted(&suite.paths, &files);
    // A client is tested by client transcripts only, a foreign server by server transcripts only;
    // in-process, both: server transcripts against our server, client ones with our client.
    // A file that cannot be read is of neither kind: it stays, to be a suite error.
    if args.client_cmd.is_some() {
        // A client transcript, or a file that cannot be read (to be a suite error).
        files.retain(|p| std::fs::read_to_string(p).map_or(true, |t| clients::is_client_text(&t)));
    } else if args.target.is_some() || args.target_cmd.is_some() || args.course.is_some() {
        files.retain(|p| !clients::is_client_transcript(p));
    }
    if files.is_empty() {
        return Err("no transcripts found".to_string());
    }
    if !args.filter.is_empty() {
        files.retain(|path| {
            let mut path = path.clone();
            suite.show(&mut path);
            let path = path.display().to_string();
            args.filter
                .iter()
                .any(|pattern| path.contains(pattern.as_str()))
        });
        if files.is_empty() {
            return Err(format!(
                "no transcript's path contains {} (--list shows the paths)",
                args.filter.join(" or ")
            ));
        }
    }
    if args.list {
        let mut out = std::io::stdout().lock();
        for path in &files {
            let mut path = path.clone();
            suite.show(&mut path);
            writeln!(out, "{}", path.display()).map_err(|e| format!("writing the list: {e}"))?;
        }
        return Ok(RunEnd::Passed);
    }
    if args.coverage {
        let (counts, suite_errors) = coverage(&files);
        let suite_errors = shown_errors(suite_errors);
        let complete = print_coverage(&counts, files.len() - suite_errors.len());
        if let Some(block) = report::coverage_suite_errors(&suite_errors) {
            anstream::print!("\n{block}");
        }
        return Ok(RunEnd::of(complete, &suite_errors));
    }
    let (files, suite_errors) = readable(files);
    let suite_errors = shown_errors(suite_errors);
    let course = Course::load_flag(args.course.as_deref())?;
    // A course's start command plays when no target is given; our own server never
    // follows a course (its auth, statuses and store are the contract's).
    let course_start = match (&course, &args.target, &args.target_cmd) {
        (Some(c), None, None) => Some(c.start.clone().ok_or_else(|| {
            "--course without --target or --target-cmd needs the course's [server] start"
                .to_string()
        })?),
        _ => None,
    };
    let target = match (
        &args.target,
        args.target_cmd.as_ref().or(course_start.as_ref()),
    ) {
        (Some(addr), _) => {
            let resolved = addr
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {addr}: {e}"))?
                .next()
                .ok_or_else(|| format!("{addr} resolves to no address"))?;
            // One line instead of a failure per transcript when nothing listens or answers.
            probe(addr, resolved)?;
            Target::Addr(resolved)
        }
        (None, Some(template)) => {
            let flags = args
                .target_flags
                .as_deref()
                .map(flags::FlagMap::load)
                .transpose()?;
            let isolation = target::Isolation::for_this_run(args.no_box)?;
            if let target::Isolation::Boxed(_) = isolation {
                // Each box copies the current directory: one line now if it cannot.
                let here = std::env::current_dir()
                    .map_err(|e| format!("cannot find the current directory: {e}"))?;
                crate::sandbox::copy::measure(&here, crate::sandbox::CopyLimits::default())
                    .map_err(|e| {
                        format!(
                            "each --target-cmd start runs in a box holding a copy of the current directory, and {} cannot be copied ({e}): run replay from the server's own directory, or pass --no-box",
                            here.display()
                        )
                    })?;
            }
            anstream::eprint!("{}", isolation.announcement());
            let mut command = target::CommandTarget::new(template.clone(), flags, None, isolation);
            command.start_timeout = Duration::from_secs_f64(args.start_timeout);
            command.ahead = usize::from(args.ahead);
            command.starts = args.starts.map_or_else(target::queue::cores, usize::from);
            if let Some(course) = &course {
                command.follow(course);
            }
            Target::Command(command)
        }
        (None, None) => Target::InProcess,
    };
    // Said on every report: how the targets ran.
    let isolation = match &target {
        Target::Command(command) => Some(command.isolation.report_line()),
        _ => None,
    };
    let jobs = args.jobs.map_or(
        if matches!(target, Target::Addr(_)) {
            1
        } else {
            4
        },
        usize::from,
    );
    let options = Options {
        target,
        bless: args.bless,
        judge: if args.exact {
            Some(Judge::Exact)
        } else if args.contract {
            Some(Judge::Contract)
        } else {
            None
        },
        client_cmd: match &args.client_cmd {
            Some(cmd) => Some(cmd.clone()),
            None => own_client_command(),
        },
        watch: None,
        response_wait: args.response_wait.map(Duration::from_millis),
        course: course.clone(),
    };
    let jobs = match &options.target {
        Target::Command(command) if command.shares_a_machine(course.as_deref()) => 1,
        _ => jobs,
    };
    let width = files.len().to_string().len();
    let text = args.format == Format::Text;
    // A skip's reason in full once; the summary line counts each reason.
    let reasons_shown = Mutex::new(std::collections::BTreeSet::new());
    // Ctrl-C and SIGTERM stop the servers a --target-cmd run started (a --no-box
    // server leads a process group of its own, which the signal does not reach).
    let interrupt = match &options.target {
        Target::Command(_) => Some(Interrupt::on_signals()?),
        _ => None,
    };
    let results = replay_all(
        &files,
        &options,
        jobs,
        interrupt.as_ref(),
        |result, done, total| {
            let mut result = shown(result.clone());
            if let Outcome::Skipped(why) = &mut result.outcome {
                let mut shown = reasons_shown
                    .lock()
                    .expect("no thread panics while holding the reasons lock");
                if !shown.insert(why.clone()) {
                    *why = "the reason above".to_string();
                }
            }
            let line = format!("[{done:>width$}/{total}] {}", report::result_line(&result));
            if text {
                anstream::println!("{line}");
            } else {
                anstream::eprintln!("{line}");
            }
        },
    );
    if let Some(signal) = interrupt.as_ref().and_then(Interrupt::signal) {
        eprintln!(
            "wordwire replay: stopped by {} after {} of {} transcripts; every server it started was stopped",
            super::interrupt::signal_name(signal),
            results.len(),
            files.len()
        );
        return Ok(RunEnd::Interrupted(signal));
    }
    let mut results = results;
    super::verdict::apply_twins(&mut results);
    let results: Vec<TranscriptResult> = results.into_iter().map(shown).collect();
    let mut failed: Vec<_> = results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Failed | Outcome::Broken(_) | Outcome::Blessed
            )
        })
        .collect();
    // MUST failures first; SHOULD ones are warnings.
    failed.sort_by_key(|r| r.level);
    let mut out = anstream::stdout();
    let write = |out: &mut anstream::Stdout, text: &str| {
        out.write_all(text.as_bytes())
            .map_err(|e| format!("writing the report: {e}"))
    };
    match args.format {
        Format::Text => {
            for result in &failed {
                write(&mut out, "\n")?;
                write(&mut out, &report::failure_details(result))?;
            }
            if results.len() > 1 {
                write(&mut out, "\n")?;
                write(&mut out, &report::Score::of(&results).table())?;
            }
            write(&mut out, &format!("\n{}\n", report::summary_line(&results)))?;
            if let Some(line) = &isolation {
                write(&mut out, &format!("{line}\n"))?;
            }
            if args.bless {
                write(&mut out, &format!("{}\n", blessed_line(&results)))?;
            }
            if let Some(block) = report::suite_errors(&suite_errors) {
                write(&mut out, &format!("\n{block}"))?;
            }
        }
        Format::Json => write(
            &mut out,
            &report::json(&results, &suite_errors, isolation.as_deref()),
        )?,
        Format::Junit => write(&mut out, &report::junit(&results, &suite_errors))?,
        Format::Tap => write(&mut out, &report::tap(&results, &suite_errors))?,
        Format::Html => write(
            &mut out,
            &report::html(
                "wordwire replay",
                &results,
                &suite_errors,
                isolation.as_deref(),
            ),
        )?,
        Format::Gradescope => {
            let weights = course.as_deref().cloned().unwrap_or_default();
            write(
                &mut out,
                &report::gradescope(&results, &suite_errors, &weights),
            )?
        }
    }
    // The report is on stdout, perhaps to a file: a person at the terminal sees it too.
    if args.format != Format::Text {
        if args.bless {
            anstream::eprintln!("{}", blessed_line(&results));
        }
        if let Some(block) = report::suite_errors(&suite_errors) {
            anstream::eprint!("{block}");
        }
    }
    Ok(RunEnd::of(passed_run(&results), &suite_errors))
}

/// Says on stderr which of `files` a directory's `SUITE` does not list: they play from
/// disk, but are not in the built-in suite nor in `cargo test` (`builtin::listed`).
fn note_unlisted(paths: &[PathBuf], files: &[PathBuf]) {
    for dir in paths.iter().filter(|p| p.is_dir()) {
        let unlisted = builtin::unlisted(dir, files);
        let manifest = dir.join(builtin::MANIFEST);
        let why = "played from disk, not part of the built-in suite nor of cargo test";
        match unlisted.as_slice() {
            [] => {}
            [one] => anstream::eprintln!(
                "note: {} is not listed in {}: {why}",
                one.display(),
                manifest.display()
            ),
            [first, ..] => anstream::eprintln!(
                "note: {} transcripts are not listed in {}: {why}: {}, ...",
                unlisted.len(),
                manifest.display(),
                first.display()
            ),
        }
    }
}

/// How long `probe` waits for the first byte of an answer.
pub const PROBE_WAIT: Duration = Duration::from_secs(3);

/// Checks that something at `resolved` (`--target addr`) answers HTTP before the suite
/// plays: connects (5 s) and sends one `GET /` without credentials, which changes no
/// store; any byte back, or a close, will do. A server that accepts and never answers
/// would otherwise make each transcript wait out its timeouts (minutes, exit 1).
fn probe(addr: &str, resolved: std::net::SocketAddr) -> Result<(), String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect_timeout(&resolved, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {addr}: {}", io_message(&e)))?;
    let request = format!("GET / HTTP/1.1\r\nHost: {resolved}\r\nConnection: close\r\n\r\n");
    let silent = || {
        format!(
            "{addr} accepted a connection but answered nothing to `GET /` in {} s: is an HTTP server serving there (not stopped, not stuck)?",
            PROBE_WAIT.as_secs()
        )
    };
    stream
        .set_read_timeout(Some(PROBE_WAIT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_WAIT)))
        .map_err(|e| format!("{addr}: {}", io_message(&e)))?;
    if let Err(e) = stream.write_all(request.as_bytes()) {
        return match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Err(silent()),
            // Closed or reset: it is there, and the transcripts will say what it does.
            _ => Ok(()),
        };
    }
    match stream.read(&mut [0u8; 1]) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(silent())
        }
        _ => Ok(()),
    }
}

/// `--bless`'s last line: how many files it rewrote, and which.
fn blessed_line(results: &[TranscriptResult]) -> String {
    let blessed: Vec<String> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Blessed)
        .map(|r| r.path.display().to_string())
        .collect();
    match blessed.len() {
        0 => "--bless rewrote no file".to_string(),
        n => format!(
            "--bless rewrote {n} file{} (read the diff before you commit): {}",
            if n == 1 { "" } else { "s" },
            blessed.join(", ")
        ),
    }
}

/// True unless a MUST transcript failed or could not be played.
pub fn passed_run(results: &[TranscriptResult]) -> bool {
    !results.iter().any(|r| {
        r.level == Level::Must && matches!(r.outcome, Outcome::Failed | Outcome::Broken(_))
    })
}

/// `'/path/to/wordwire' client --addr {addr}`: our own client, for client transcripts
/// replayed without `--client-cmd`.
fn own_client_command() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    Some(format!(
        "{} client --addr {{addr}}",
        target::process::shell_quote(&exe.display().to_string())
    ))
}

/// Prints the `--coverage` table of `counts` over `transcripts` files; true if every
/// contract status has a transcript.
fn print_coverage(counts: &BTreeMap<u16, usize>, transcripts: usize) -> bool {
    println!("status  transcripts");
    let mut statuses: Vec<u16> = counts.keys().copied().chain(CONTRACT_STATUSES).collect();
    statuses.sort_unstable();
    statuses.dedup();
    let mut missing = Vec::new();
    for status in statuses {
        let n = counts.get(&status).copied().unwrap_or(0);
        let note = if !CONTRACT_STATUSES.contains(&status) {
            "  (not in the contract)"
        } else if n == 0 {
            missing.push(status);
            "  MISSING"
        } else {
            ""
        };
        println!("{status}     {n:>4}{note}");
    }
    println!("{transcripts} transcripts");
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(u16::to_string).collect();
        println!("contract statuses without a transcript: {}", list.join(" "));
    }
    missing.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::run_one::{CONTRACT_ONLY, course_skip};
    use crate::grading::suite::transcript::Header;

    #[test]
    fn a_course_skips_contract_only_transcripts_and_those_of_another_reading_naming_the_key() {
        let header = |lines: &[&str]| {
            let mut h = Header::of(Path::new("methods/t.transcript"));
            for line in lines {
                assert!(h.take(line), "{line}");
            }
            h
        };
        let first = Course::parse("[rules]\nput = \"first\"\n").unwrap();
        let every = header(&[
            "source assignment PUT 200 (Success)",
            "source course [rules] put = \"every\"",
        ]);
        assert_eq!(
            course_skip(&every, &first).unwrap(),
            "not scored under this course: it depends on [rules] put = \"every\", and the course's reading is [rules] put = \"first\""
        );
        assert_eq!(course_skip(&every, &Course::parse("").unwrap()), None);
        let contract = header(&["source contract Methods: OPTIONS"]);
        assert_eq!(
            course_skip(&contract, &first).as_deref(),
            Some(CONTRACT_ONLY)
        );
        let contract_profile = Course::parse("[grading]\nprofile = \"contract\"\n").unwrap();
        assert_eq!(course_skip(&contract, &contract_profile), None);
        // A transcript that cites nothing (a TA's own, a recording) plays.
        assert_eq!(course_skip(&header(&[]), &first), None);
    }

    #[test]
    fn a_path_that_is_neither_file_nor_directory_is_named_as_such() {
        assert_eq!(
            discover(&[PathBuf::from("/dev/null")]),
            Err("/dev/null: not a regular file or a directory".to_owned())
        );
        assert_eq!(
            discover(&[PathBuf::from("/no/such/thing")]),
            Err("/no/such/thing: no such file or directory".to_owned())
        );
    }

    /// Writes `text` at `dir/rel` and replays it in-process.
    fn replay_text(dir: &Path, rel: &str, text: &str) -> TranscriptResult {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        replay_one(&path, &Options::default())
    }

    #[test]
    fn a_transcript_that_does_not_load_says_why_in_one_line_in_its_directory_category() {
        let dir = tempfile::tempdir().unwrap();
        let r = replay_text(
            dir.path(),
            "methods/bad.transcript",
            "open c\nsend c\n> GET / HTTP/1.1\\r\\n\nfrobnicate c\n",
        );
        assert_eq!(r.category, "methods");
        assert_eq!(
            r.outcome,
            Outcome::Broken(
                "not a valid transcript: line 4: unknown or malformed directive: frobnicate c"
                    .into()
            )
        );
    }

    #[test]
    fn a_broken_transcript_keeps_the_category_and_level_its_lines_give() {
        let dir = tempfile::tempdir().unwrap();
        let r = replay_text(
            dir.path(),
            "mine/bad.transcript",
            "level SHOULD\ncategory framing\nopen c\nclose d\n",
        );
        assert_eq!((r.category.as_str(), r.level), ("framing", Level::Should));
        assert_eq!(
            r.outcome,
            Outcome::Broken("not a valid transcript: line 4: connection d was never opened".into())
        );
    }

    #[test]
    fn a_broken_client_transcript_is_in_its_directory_category_too() {
        let dir = tempfile::tempdir().unwrap();
        let r = replay_text(dir.path(), "client/bad.transcript", "listen\nrun get\n");
        assert_eq!(r.category, "client");
        let Outcome::Broken(why) = &r.outcome else {
            panic!("{r:?}")
        };
        assert_eq!(
            why,
            "not a valid transcript: line 2: a client transcript needs `expect-exit`"
        );
    }

    #[test]
    fn transcripts_that_do_not_load_are_set_apart_as_suite_errors_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::write(&path, text).unwrap();
            path
        };
        let good = write("good.transcript", "open c\nclose c\n");
        let bad = write("bad.transcript", "open c\nfrobnicate c\n");
        let client = write("client.transcript", "listen\nrun get\n");
        let gone = dir.path().join("gone.transcript");
        std::fs::create_dir(&gone).unwrap();
        let (loadable, errors) = readable(vec![bad.clone(), good.clone(), client, gone]);
        assert_eq!(loadable, [good]);
        let shown: Vec<String> = errors
            .iter()
            .map(|e| {
                e.to_string()
                    .replace(&format!("{}/", dir.path().display()), "")
            })
            .collect();
        assert_eq!(
            shown[0],
            "bad.transcript:2: unknown or malformed directive: frobnicate c"
        );
        assert_eq!(
            shown[1],
            "client.transcript:2: a client transcript needs `expect-exit`"
        );
        assert!(
            shown[2].starts_with("gone.transcript: cannot read: "),
            "{}",
            shown[2]
        );
        assert_eq!(RunEnd::of(true, &errors), RunEnd::SuiteError);
        assert_eq!(RunEnd::of(false, &errors), RunEnd::SuiteError);
        assert_eq!(RunEnd::of(true, &[]), RunEnd::Passed);
        assert_eq!(RunEnd::of(false, &[]), RunEnd::Failed);
    }

    #[test]
    fn an_unreadable_transcript_says_so_without_repeating_its_path() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where a file should be: reading it fails even as root.
        let path = dir.path().join("limits/gone.transcript");
        std::fs::create_dir_all(&path).unwrap();
        let r = replay_one(&path, &Options::default());
        assert_eq!(r.category, "limits");
        let Outcome::Broken(why) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(why.starts_with("cannot read: "), "{why}");
        assert!(!why.contains("gone.transcript"), "{why}");
    }
}
