//! `wordwire grade DIR`: plays the suite against every submission in a directory.
//!
//! Here: finding submissions (`DIR/NAME/wordwire-cmd`, optional `flags.toml`),
//! one work queue of (submission, transcript) played on `--jobs` threads, the
//! per-transcript time limit (the submission's process group is killed past it),
//! one HTML report per submission, `summary.csv`, the table on stdout and the
//! progress (a bar on a terminal, a line per graded submission otherwise).
//! Elsewhere: the flags (`cli::grade`), the suite's files and playing one transcript
//! (`grading::replay`), starting and killing the target (`grading::target::foreign`), the
//! HTML page (`grading::report::html`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::clients;
use super::replay::{Options, RunEnd, SuitePaths, discover};
use super::report::{self, Score};
use super::suite::transcript::{Header, Level};
use super::target::{Target, flags};
use super::verdict::{Outcome, TranscriptResult};
use crate::cli::grade::{GradeArgs, GradeFormat};
use crate::course::Course;

/// The file in each submission's directory that holds its start command.
pub const COMMAND_FILE: &str = "wordwire-cmd";
/// The optional flag map in each submission's directory (as `--target-flags`).
pub const FLAGS_FILE: &str = "flags.toml";
/// How long a timed-out transcript's play gets to wind down after the kill.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// One submission: its name (the subdirectory's), directory and how to start it.
#[derive(Debug, Clone)]
pub struct Submission {
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

/// Every subdirectory of `dir` (hidden ones aside, and `out`, where the reports go: with
/// `--out` inside the class directory, a second run graded it as a submission), sorted by name.
pub fn submissions(dir: &Path, out: &Path) -> Result<Vec<Submission>, String> {
    let out = std::fs::canonicalize(out).ok();
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
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
    found.sort_by(|a, b| a.name.cmp(&b.name));
    if found.is_empty() {
        return Err(format!(
            "{}: no submissions (one subdirectory each, holding {COMMAND_FILE})",
            dir.display()
        ));
    }
    Ok(found)
}

/// The command (the first line of `wordwire-cmd` that is neither blank nor `#`) and flag map.
fn setup(dir: &Path) -> Result<(String, Option<flags::FlagMap>), String> {
    let path = dir.join(COMMAND_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {}",
            path.display(),
            super::play::io_message(&e)
        )
    })?;
    let command = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| format!("{}: no command in it", path.display()))?
        .to_string();
    let flags_path = dir.join(FLAGS_FILE);
    let flags = flags_path
        .is_file()
        .then(|| flags::FlagMap::load(&flags_path))
        .transpose()?;
    Ok((command, flags))
}

/// Plays `path` with `options`, killing the target's process group if it takes longer than `limit`.
pub fn play_limited(path: &Path, options: &Options, limit: Duration) -> TranscriptResult {
    let watch = Arc::new(super::target::foreign::Watch::default());
    let mut options = options.clone();
    options.watch = Some(watch.clone());
    let (tx, rx) = mpsc::channel();
    let owned = path.to_path_buf();
    let began = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(super::replay::replay_one(&owned, &options));
    });
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(_) => {
            watch.kill();
            // Once its target is dead the play ends; waiting lets it remove its store.
            let _ = rx.recv_timeout(WIND_DOWN);
            timed_out(path, limit, began.elapsed())
        }
    }
}

fn timed_out(path: &Path, limit: Duration, took: Duration) -> TranscriptResult {
    let outcome = Outcome::Broken(format!(
        "over the transcript time limit of {} s (--transcript-timeout): the submission's process group was killed",
        limit.as_secs_f64()
    ));
    // Parsing gathers the header lines as `scan` does: one read, no parse.
    TranscriptResult::new(path, outcome)
        .taking(took)
        .described_by(&Header::scan(path))
}

/// Plays every file against every submission, `jobs` transcripts at once, calling
/// `on_graded` as each submission's last transcript ends.
pub fn grade_all(
    subs: &[Submission],
    files: &[PathBuf],
    jobs: usize,
    limit: Duration,
    course: Option<Arc<Course>>,
    on_progress: impl Fn(Progress<'_>) + Sync,
) -> Vec<Graded> {
    let queue: Vec<Queued> = subs
        .iter()
        .map(|s| {
            let options = s.setup.as_ref().ok().map(|(template, flags)| Options {
                target: Target::Command {
                    template: template.clone(),
                    flags: flags.clone(),
                    dir: Some(s.dir.clone()),
                },
                course: course.clone(),
                ..Options::default()
            });
            Queued {
                left: AtomicUsize::new(if options.is_some() { files.len() } else { 0 }),
                options,
                played: Mutex::new(PlayedSoFar {
                    results: vec![None; files.len()],
                    first: None,
                    took: Duration::ZERO,
                }),
            }
        })
        .collect();
    let tasks: Vec<(usize, usize)> = queue
        .iter()
        .enumerate()
        .filter(|(_, q)| q.options.is_some())
        .flat_map(|(s, _)| (0..files.len()).map(move |f| (s, f)))
        .collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let graded = AtomicUsize::new(0);
    let printing = Mutex::new(());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, tasks.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let Some(&(s, f)) = tasks.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return;
                    };
                    let q = &queue[s];
                    let began = Instant::now();
                    q.lock().first.get_or_insert(began);
                    let opts = q
                        .options
                        .as_ref()
                        .expect("tasks only for set-up submissions");
                    let result = play_limited(&files[f], opts, limit);
                    q.lock().results[f] = Some(result);
                    let _order = printing.lock().unwrap_or_else(|e| e.into_inner());
                    let finished = q.left.fetch_sub(1, Ordering::SeqCst) == 1;
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    let mut sub_done = None;
                    if finished {
                        let mut played = q.lock();
                        let took = played.first.unwrap_or(began).elapsed();
                        played.took = took;
                        let mut results: Vec<TranscriptResult> =
                            played.results.iter().flatten().cloned().collect();
                        super::verdict::apply_twins(&mut results);
                        let g = graded.fetch_add(1, Ordering::SeqCst) + 1;
                        sub_done = Some((results, took, g));
                    }
                    on_progress(Progress {
                        done: n,
                        total: tasks.len(),
                        submission: &subs[s].name,
                        graded: sub_done
                            .as_ref()
                            .map(|(r, took, g)| (r.as_slice(), *took, *g)),
                        submissions: subs.len(),
                    });
                }
            });
        }
    });
    subs.iter()
        .zip(queue)
        .map(|(s, q)| match &s.setup {
            Ok(_) => {
                let played = q.played.into_inner().unwrap_or_else(|e| e.into_inner());
                let mut results: Vec<TranscriptResult> =
                    played.results.into_iter().flatten().collect();
                super::verdict::apply_twins(&mut results);
                Graded {
                    name: s.name.clone(),
                    results,
                    error: None,
                    duration: played.took,
                }
            }
            Err(why) => Graded {
                name: s.name.clone(),
                results: vec![
                    TranscriptResult::new(&s.dir.join(COMMAND_FILE), Outcome::Broken(why.clone()))
                        .placed(Level::Must, "submission".to_string())
                        .hinted(Some(format!(
                            "{COMMAND_FILE} holds one line: the command that starts the server, e.g. `python3 server.py --port {{port}} --store {{store}}`"
                        ))),
                ],
                error: Some(why.clone()),
                duration: Duration::ZERO,
            },
        })
        .collect()
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
    /// From its first transcript's start to its last's end, once that has ended.
    took: Duration,
}

impl Queued {
    fn lock(&self) -> std::sync::MutexGuard<'_, PlayedSoFar> {
        self.played.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One finished transcript, for the progress display.
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub submission: &'a str,
    /// When this was the submission's last transcript: its results, time and how many are graded.
    pub graded: Option<(&'a [TranscriptResult], Duration, usize)>,
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
/// errors there is no such column, and the file is what it always was.
/// With a `course`, last come the points: `points_CATEGORY` per category, then
/// `points`, each `earned/max` (the course's `[grading.weights]`, partial credit per
/// check: `TranscriptResult::credit`; skipped transcripts are worth nothing).
pub fn summary_csv(
    graded: &[Graded],
    categories: &BTreeSet<String>,
    suite_errors: usize,
    course: Option<&Course>,
) -> String {
    let mut out = String::new();
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
    if course.is_some() {
        header.extend(categories.iter().map(|c| format!("points_{c}")));
        header.push("points".to_string());
    }
    push_row(&mut out, &header);
    for g in graded {
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
        push_row(&mut out, &row);
    }
    out
}

/// `x` to two decimals, without trailing zeros: `2`, `1.5`, `0.33`.
fn round2(x: f64) -> String {
    let s = format!("{:.2}", (x * 100.0).round() / 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One CSV record (RFC 4180): a field with a comma, quote or line break is quoted.
fn push_row(out: &mut String, fields: &[String]) {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    out.push_str(&quoted.join(","));
    out.push_str("\r\n");
}

/// The table on stdout: submission, score, MUST failures, time; and, when any
/// submission had transcripts skipped, a `skipped` column (as in `summary.csv`)
/// and a last line saying what that means. Without skips the table has no such column.
fn table(graded: &[Graded]) -> String {
    let width = graded
        .iter()
        .map(|g| g.name.len())
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
            let _ = write!(out, "  ({why})");
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
/// suite could not be read (`RunEnd`; the others are played and scored all the same).
pub fn run(args: GradeArgs) -> ExitCode {
    match run_grade(&args) {
        Ok(end) => end.exit_code(),
        Err(e) => {
            eprintln!("wordwire grade: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_grade(args: &GradeArgs) -> Result<RunEnd, String> {
    let mut subs = submissions(&args.submissions, &args.out)?;
    let course = args
        .course
        .as_deref()
        .map(Course::load)
        .transpose()?
        .map(Arc::new);
    // The course's `[server] start` is the command of a submission without `wordwire-cmd`.
    if let Some(start) = course.as_ref().and_then(|c| c.start.clone()) {
        for sub in &mut subs {
            if !sub.dir.join(COMMAND_FILE).exists() {
                let flags_path = sub.dir.join(FLAGS_FILE);
                sub.setup = flags_path
                    .is_file()
                    .then(|| flags::FlagMap::load(&flags_path))
                    .transpose()
                    .map(|flags| (start.clone(), flags));
            }
        }
    }
    // A course's fixed port, or its data file in a submission's directory (a command
    // without `{store}`), takes one server at a time.
    let shared = course.as_ref().is_some_and(|c| {
        c.port.is_some()
            || subs.iter().any(|s| {
                s.setup
                    .as_ref()
                    .is_ok_and(|(template, _)| !template.contains("{store}"))
            })
    });
    let jobs = if shared { 1 } else { usize::from(args.jobs) };
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
        return Ok(RunEnd::SuiteError);
    }
    let categories: BTreeSet<String> = files.iter().map(|p| Header::scan(p).category).collect();
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let limit = Duration::from_secs_f64(args.transcript_timeout);
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
    let graded = grade_all(&subs, &files, jobs, limit, course.clone(), |p| {
        let line = p.graded.map(|(results, took, g)| {
            format!(
                "[{g}/{}] {}",
                p.submissions,
                graded_line(p.submission, results, took)
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
    let shown = |mut r: TranscriptResult| {
        suite.show(&mut r.path);
        r
    };
    let graded: Vec<Graded> = graded
        .into_iter()
        .map(|mut g| {
            g.results = g.results.into_iter().map(shown).collect();
            g
        })
        .collect();
    for g in &graded {
        let path = args.out.join(format!("{}.html", g.name));
        let page = report::html(
            &format!("wordwire grade: {}", g.name),
            &g.results,
            &suite_errors,
        );
        std::fs::write(&path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if args.format == GradeFormat::Gradescope {
            let dir = args.out.join(&g.name);
            let path = dir.join("results.json");
            let weights = course.as_deref().cloned().unwrap_or_default();
            std::fs::create_dir_all(&dir)
                .and_then(|()| {
                    std::fs::write(
                        &path,
                        report::gradescope(&g.results, &suite_errors, &weights),
                    )
                })
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    let csv = args.out.join("summary.csv");
    std::fs::write(
        &csv,
        summary_csv(&graded, &categories, suite_errors.len(), course.as_deref()),
    )
    .map_err(|e| format!("cannot write {}: {e}", csv.display()))?;
    print!("{}", table(&graded));
    println!(
        "{}",
        closing_line(graded.len(), files.len(), began.elapsed(), &args.out)
    );
    if let Some(block) = &errors_block {
        print!("\n{}", report::plain(block));
    }
    let passed = graded.iter().all(|g| super::replay::passed_run(&g.results));
    Ok(RunEnd::of(passed, &suite_errors))
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
        let subs = submissions(dir.path(), &dir.path().join("grades")).unwrap();
        assert_eq!(subs.len(), 2);
        assert!(subs[0].setup.as_ref().unwrap_err().contains("cannot read"));
        assert_eq!(subs[1].setup.as_ref().unwrap().0, "srv {port}");
        let none = tempfile::tempdir().unwrap();
        assert!(
            submissions(none.path(), Path::new("grades"))
                .unwrap_err()
                .contains("no submissions")
        );
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
