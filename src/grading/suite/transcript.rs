//! The transcript format: parsing a file into steps, and rendering bytes back into it.
//!
//! Here: the grammar (documented with a worked example in `transcripts/README.md`),
//! the use of the escapes that make every CR and LF visible (`crate::escape`), the
//! normalisation rule for volatile values, and rewriting expected responses for `--bless`.
//! Elsewhere: the `~` rooms (`grading::suite::rooms`), playing the steps (`grading::play`),
//! starting a server (`grading::target`).
//!
//! Grammar, one directive per line; `#` starts a comment line; blank lines are ignored:
//!
//! ```text
//! server FLAG...          serve flags for the in-process server (may repeat)
//! store                   starting store; followed by `| line` lines (each gets an LF)
//! fault writes|reads      the in-process store fails every write / every read
//! timeout MS              how long an expect waits for bytes (default 5000)
//! open C                  connect a new connection named C
//! send C                  followed by `> data` lines, or: send C fixture AREA/NAME.http
//! wait MS                 sleep
//! half-close C            shut down C's sending side (the server sees end of input)
//! close C                 close C entirely
//! expect C [HEAD]         one response; followed by `< data` lines and `= body N bytes`
//! expect-close C          the server closes C with nothing more sent
//! expect-silence C MS     nothing arrives on C for MS milliseconds and C stays open
//! expect-store [any-order] followed by `| line` lines: the store file holds exactly these
//! level MUST|SHOULD       how much a failure counts (default MUST)
//! category NAME           the score table's row (default: the directory's name)
//! hint TEXT               what the contract says, shown with a failure
//! ```
//!
//! After an expect block, `~` lines say where the contract leaves room for a foreign
//! implementation (used by contract-level judging only, `grading::judge`); each but
//! `~ body message` ends in `-- CLAUSE`, the reason the room exists:
//!
//! ```text
//! ~ status 400 413 close -- WHY   one of these statuses, or a close without a response
//! ~ body message [/regex/]        one short line ending in LF (CONTRACT Methods)
//! ~ body /regex/ -- WHY           ~ body any -- WHY
//! ~ field NAME [ANY] -- WHY       ~ field NAME /regex/ -- WHY
//! ```
//!
//! In `>` and `<` lines the file's own line break is not data: data bytes are the
//! text after the sigil and one space, with escapes `\r` `\n` `\t` `\\` `\xHH`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rooms::{self, BodyRule, Pattern, Room, ValueRule};
use crate::client::{BodyFraming, Response};
use crate::escape::{render_lines, unescape};

/// Default time an `expect` waits for the bytes it needs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which store calls the in-process server's store fails (for 500 transcripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every write (`Store::submit`) fails with an I/O error.
    Writes,
    /// `snapshot` fails with an I/O error.
    Reads,
}

/// How much a failing transcript counts: a SHOULD failure is a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    #[default]
    Must,
    Should,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        }
    }
}

/// One parsed transcript.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub path: PathBuf,
    /// The file's lines, kept for `--bless`.
    pub lines: Vec<String>,
    /// `serve` flags; `None` when the transcript has no `server` line.
    pub server_flags: Option<Vec<String>>,
    /// Starting store bytes; `None` when the transcript has no `store` block.
    pub store: Option<Vec<u8>>,
    pub fault: Option<Fault>,
    pub timeout: Duration,
    pub header: Header,
    pub steps: Vec<Step>,
}

/// What a transcript says about itself for the reports: `level`, `category` and
/// `hint` lines. Server and client transcripts (`grading::clients`) share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub level: Level,
    /// The score table's row: `category NAME`, else the directory's name.
    pub category: String,
    /// What the contract says, from `hint` lines.
    pub hint: Option<String>,
    /// What requires the behaviour, from `source` lines (`Source`).
    pub sources: Vec<Source>,
    /// The positive twin of a rejection (`twin PATH`, relative to the transcript's
    /// directory): its points count only when the twin passed in the same run.
    pub twin: Option<PathBuf>,
}

/// What requires a transcript's behaviour: `source KIND TEXT`.
///
/// - `source assignment TEXT`: a line of the course's assignment (MUST);
/// - `source course [TABLE] KEY ...`: a course-file key's reading (MUST);
/// - `source contract SECTION`: a section of wordwire's CONTRACT.md (MUST);
/// - `source rfc RFC N §X KEYWORD: "sentence"`: an RFC sentence, whose keyword
///   (MUST, MUST NOT, REQUIRED, SHALL; SHOULD, SHOULD NOT, RECOMMENDED; MAY,
///   OPTIONAL) gives the level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: SourceKind,
    /// The text after the kind, as written.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Assignment,
    Course,
    Contract,
    Rfc,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Assignment => "assignment",
            SourceKind::Course => "course",
            SourceKind::Contract => "contract",
            SourceKind::Rfc => "rfc",
        }
    }
}

impl Source {
    /// The level the source's keyword gives: assignment lines, course keys and contract
    /// sections are MUST; an RFC sentence is MUST for MUST/MUST NOT/REQUIRED/SHALL and
    /// SHOULD (a warning) for SHOULD/RECOMMENDED/MAY/OPTIONAL; `None`: an RFC source
    /// without a keyword.
    pub fn level(&self) -> Option<Level> {
        if self.kind != SourceKind::Rfc {
            return Some(Level::Must);
        }
        self.keyword().map(|k| match k {
            "MUST" | "REQUIRED" | "SHALL" => Level::Must,
            _ => Level::Should,
        })
    }

    /// The strongest BCP 14 keyword of an RFC source's text (a sentence may say "MAY
    /// process ... but MUST send": the requirement is the MUST).
    pub fn keyword(&self) -> Option<&'static str> {
        const KEYWORDS: [&str; 7] = [
            "MUST",
            "REQUIRED",
            "SHALL",
            "SHOULD",
            "RECOMMENDED",
            "MAY",
            "OPTIONAL",
        ];
        let words: Vec<&str> = self
            .text
            .split(|c: char| !c.is_ascii_alphabetic())
            .collect();
        KEYWORDS.into_iter().find(|k| words.contains(k))
    }

    /// The course key a `source course` line names (`[rules] put`), and the value it
    /// depends on if it says one (`= "every"`).
    pub fn course_key(&self) -> Option<(String, Option<String>)> {
        if self.kind != SourceKind::Course {
            return None;
        }
        let (key, value) = match self.text.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"').to_string())),
            None => (self.text.trim(), None),
        };
        Some((key.to_string(), value))
    }
}

impl Header {
    /// The level the sources give (MUST if any source is a MUST); `None` without sources.
    pub fn source_level(&self) -> Option<Level> {
        let levels: Vec<Level> = self.sources.iter().filter_map(Source::level).collect();
        (!levels.is_empty()).then(|| levels.into_iter().min().unwrap_or_default())
    }

    /// True if the assignment (a line of it, or a course key) asks for this behaviour:
    /// what the assignment profile judges. Other transcripts are contract only; one
    /// that cites nothing (a TA's own, a recording) is the TA's to judge, so it plays.
    pub fn in_assignment(&self) -> bool {
        self.sources.is_empty()
            || self
                .sources
                .iter()
                .any(|s| matches!(s.kind, SourceKind::Assignment | SourceKind::Course))
    }
}

impl Header {
    /// The header of a transcript at `path` that has no header lines: a MUST in
    /// its directory's category, without a hint.
    pub fn of(path: &Path) -> Header {
        Header {
            level: Level::Must,
            category: path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "other".to_string()),
            hint: None,
            sources: Vec::new(),
            twin: None,
        }
    }

    /// The header of a transcript that does not parse, as far as its lines say
    /// (`level`, `category`, `hint` lines wherever they are), else as `of`: so a
    /// broken transcript still lands in its score table row.
    pub fn scan(path: &Path) -> Header {
        let mut header = Header::of(path);
        if let Ok(text) = std::fs::read_to_string(path) {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                header.take(line);
            }
        }
        header
    }

    /// Takes `line` (trimmed, not blank) if it is a header line; false if it is not one.
    pub fn take(&mut self, line: &str) -> bool {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["level", "MUST"] => self.level = Level::Must,
            ["level", "SHOULD"] => self.level = Level::Should,
            ["category", name] => self.category = name.to_string(),
            ["twin", path] => self.twin = Some(PathBuf::from(path)),
            ["source", kind, _, ..] => {
                let kind = match *kind {
                    "assignment" => SourceKind::Assignment,
                    "course" => SourceKind::Course,
                    "contract" => SourceKind::Contract,
                    "rfc" => SourceKind::Rfc,
                    _ => return false,
                };
                let text = line["source".len()..].trim()[kind.as_str().len()..].trim();
                self.sources.push(Source {
                    kind,
                    text: text.to_string(),
                });
            }
            ["hint", _, ..] => {
                let text = line["hint".len()..].trim();
                match &mut self.hint {
                    Some(h) => {
                        h.push(' ');
                        h.push_str(text);
                    }
                    None => self.hint = Some(text.to_string()),
                }
            }
            _ => return false,
        }
        true
    }
}

/// One step and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    Open(String),
    Send {
        conn: String,
        bytes: Vec<u8>,
    },
    Wait(Duration),
    HalfClose(String),
    Close(String),
    Expect {
        conn: String,
        after_head: bool,
        /// The expected bytes, already in normalised form.
        bytes: Vec<u8>,
        /// The `= body ...` line as written, if any.
        body_line: Option<String>,
        /// 0-based range of file lines holding the `<` and `=` lines (for `--bless`).
        block: std::ops::Range<usize>,
        /// The `~` lines after the block: where the contract leaves room.
        rooms: Vec<Room>,
    },
    /// The store file's bytes at this point; with `any_order`, its lines in any order
    /// (concurrent writers).
    ExpectStore {
        bytes: Vec<u8>,
        any_order: bool,
    },
    ExpectClose(String),
    ExpectSilence(String, Duration),
}

impl StepKind {
    /// The connection the step acts on, if any.
    pub fn conn(&self) -> Option<&str> {
        match self {
            StepKind::Open(c)
            | StepKind::HalfClose(c)
            | StepKind::Close(c)
            | StepKind::ExpectClose(c)
            | StepKind::ExpectSilence(c, _) => Some(c),
            StepKind::Send { conn, .. } | StepKind::Expect { conn, .. } => Some(conn),
            StepKind::Wait(_) | StepKind::ExpectStore { .. } => None,
        }
    }
}

/// Why a transcript file cannot be used; names the file and line, in the form
/// editors jump to: `PATH:4: unknown or malformed directive: frob c`, or
/// `PATH: cannot read: REASON` when the file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", located(path, *line, message))]
pub struct FormatError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

fn located(path: &Path, line: usize, message: &str) -> String {
    match line {
        0 => format!("{}: {message}", path.display()),
        n => format!("{}:{n}: {message}", path.display()),
    }
}

impl FormatError {
    /// What is wrong with the file, in one line, for a report that names the file
    /// already: `not a valid transcript: line 4: unknown or malformed directive: frob c`,
    /// or `cannot read: REASON`.
    pub fn problem(&self) -> String {
        match self.line {
            0 => self.message.clone(),
            n => format!("not a valid transcript: line {n}: {}", self.message),
        }
    }
}

/// The text of the transcript file at `path`, or the error that says it cannot be read.
pub fn read_text(path: &Path) -> Result<String, FormatError> {
    std::fs::read_to_string(path).map_err(|e| FormatError {
        path: path.to_path_buf(),
        line: 0,
        message: format!("cannot read: {e}"),
    })
}

impl Transcript {
    /// Reads and parses a transcript file; `send C fixture X` paths are
    /// resolved against the nearest `fixtures/` directory above the file.
    pub fn load(path: &Path) -> Result<Transcript, FormatError> {
        Transcript::parse(path, &read_text(path)?)
    }

    /// Parses `text` as the transcript at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Transcript, FormatError> {
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let err = |line: usize, message: String| FormatError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut t = Transcript {
            path: path.to_path_buf(),
            lines: lines.clone(),
            server_flags: None,
            store: None,
            fault: None,
            timeout: DEFAULT_TIMEOUT,
            header: Header::of(path),
            steps: Vec::new(),
        };
        let mut opened: Vec<String> = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let number = i + 1;
            let line = lines[i].trim();
            i += 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if t.header.take(line) {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let args = &words[1..];
            let kind = match (words[0], args) {
                ("server", flags) => {
                    if !t.steps.is_empty() {
                        return Err(err(
                            number,
                            "`server` must come before the first step".into(),
                        ));
                    }
                    t.server_flags
                        .get_or_insert_with(Vec::new)
                        .extend(flags.iter().map(|s| s.to_string()));
                    continue;
                }
                ("store", []) => {
                    if !t.steps.is_empty() {
                        return Err(err(
                            number,
                            "`store` must come before the first step".into(),
                        ));
                    }
                    let mut store = Vec::new();
                    while let Some(data) = lines.get(i).and_then(|l| sigil_data(l, '|')) {
                        store.extend_from_slice(&unescape(data).map_err(|m| err(i + 1, m))?);
                        store.push(b'\n');
                        i += 1;
                    }
                    t.store = Some(store);
                    continue;
                }
                ("fault", ["writes"]) => {
                    t.fault = Some(Fault::Writes);
                    continue;
                }
                ("fault", ["reads"]) => {
                    t.fault = Some(Fault::Reads);
                    continue;
                }
                ("timeout", [ms]) => {
                    t.timeout = parse_timeout(ms).map_err(|m| err(number, m))?;
                    continue;
                }
                ("expect-store", []) | ("expect-store", ["any-order"]) => {
                    let mut store = Vec::new();
                    while let Some(data) = lines.get(i).and_then(|l| sigil_data(l, '|')) {
                        store.extend_from_slice(&unescape(data).map_err(|m| err(i + 1, m))?);
                        store.push(b'\n');
                        i += 1;
                    }
                    StepKind::ExpectStore {
                        bytes: store,
                        any_order: !args.is_empty(),
                    }
                }
                ("open", [c]) => {
                    if opened.iter().any(|o| o == c) {
                        return Err(err(number, format!("connection {c} is already open")));
                    }
                    opened.push(c.to_string());
                    StepKind::Open(c.to_string())
                }
                ("send", [c]) => {
                    let mut bytes = Vec::new();
                    let start = i;
                    while let Some(data) = lines.get(i).and_then(|l| sigil_data(l, '>')) {
                        bytes.extend_from_slice(&unescape(data).map_err(|m| err(i + 1, m))?);
                        i += 1;
                    }
                    if i == start {
                        return Err(err(number, "`send C` needs `> data` lines after it".into()));
                    }
                    StepKind::Send {
                        conn: c.to_string(),
                        bytes,
                    }
                }
                ("send", [c, "fixture", name]) => {
                    let file = find_fixture(path, name).ok_or_else(|| {
                        err(
                            number,
                            format!("no fixture {name} in a fixtures/ above this file"),
                        )
                    })?;
                    let bytes = std::fs::read(&file)
                        .map_err(|e| err(number, format!("cannot read {}: {e}", file.display())))?;
                    StepKind::Send {
                        conn: c.to_string(),
                        bytes,
                    }
                }
                ("wait", [ms]) => StepKind::Wait(parse_ms(ms).map_err(|m| err(number, m))?),
                ("half-close", [c]) => StepKind::HalfClose(c.to_string()),
                ("close", [c]) => StepKind::Close(c.to_string()),
                ("expect", [c]) | ("expect", [c, "HEAD"]) => {
                    let start = i;
                    let mut bytes = Vec::new();
                    while let Some(data) = lines.get(i).and_then(|l| sigil_data(l, '<')) {
                        bytes.extend_from_slice(&unescape(data).map_err(|m| err(i + 1, m))?);
                        i += 1;
                    }
                    let mut body_line = None;
                    if let Some(data) = lines.get(i).and_then(|l| sigil_data(l, '=')) {
                        body_line = Some(data.trim().to_string());
                        i += 1;
                    }
                    if bytes.is_empty() {
                        return Err(err(
                            number,
                            "`expect C` needs `< data` lines after it".into(),
                        ));
                    }
                    let block = start..i;
                    let mut rooms = Vec::new();
                    while let Some(data) = lines.get(i).and_then(|l| sigil_data(l, '~')) {
                        rooms.push(parse_room(data).map_err(|m| err(i + 1, m))?);
                        i += 1;
                    }
                    StepKind::Expect {
                        conn: c.to_string(),
                        after_head: args.len() == 2,
                        bytes,
                        body_line,
                        block,
                        rooms,
                    }
                }
                ("expect-close", [c]) => StepKind::ExpectClose(c.to_string()),
                ("expect-silence", [c, ms]) => StepKind::ExpectSilence(
                    c.to_string(),
                    parse_ms(ms).map_err(|m| err(number, m))?,
                ),
                _ => {
                    return Err(err(
                        number,
                        format!("unknown or malformed directive: {}", quoted(line)),
                    ));
                }
            };
            if let Some(c) = kind.conn()
                && !matches!(kind, StepKind::Open(_))
                && !opened.iter().any(|o| o == c)
            {
                return Err(err(number, format!("connection {c} was never opened")));
            }
            t.steps.push(Step { line: number, kind });
        }
        if t.steps.is_empty() {
            return Err(err(lines.len(), "transcript has no steps".into()));
        }
        Ok(t)
    }

    /// About how long a play of it waits, whatever the server: its `wait` and
    /// `expect-silence` lines, and the shortest server timeout it sets
    /// (`--read-timeout`, `--idle-timeout`), which an `expect-close` then waits out. A
    /// rough figure, to spread the long plays among the short (`grading::ahead`).
    pub fn idle_estimate(&self) -> Duration {
        let steps: Duration = self
            .steps
            .iter()
            .map(|s| match s.kind {
                StepKind::Wait(d) | StepKind::ExpectSilence(_, d) => d,
                _ => Duration::ZERO,
            })
            .sum();
        let flags = self.server_flags.as_deref().unwrap_or_default();
        // `--idle-timeout 0.8` and `--idle-timeout=0.8` alike.
        let values = flags.iter().enumerate().filter_map(|(i, flag)| {
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (flag.as_str(), flags.get(i + 1).map(String::as_str)),
            };
            matches!(name, "--read-timeout" | "--idle-timeout").then_some(value)?
        });
        let timeout = values
            .filter_map(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .min()
            .unwrap_or_default();
        steps + timeout
    }

    /// True if the transcript needs the in-process server (flags, store or fault).
    pub fn needs_local_server(&self) -> bool {
        self.server_flags.is_some() || self.store.is_some() || self.fault.is_some()
    }

    /// The status codes of every expected response, in order.
    pub fn expected_statuses(&self) -> Vec<u16> {
        self.steps
            .iter()
            .filter_map(|s| match &s.kind {
                StepKind::Expect { bytes, .. } => status_of(bytes),
                _ => None,
            })
            .collect()
    }
}

/// One `~` line (without the sigil): `WHAT ... -- WHY`.
fn parse_room(data: &str) -> Result<Room, String> {
    let (what, why) = match data.split_once(" -- ") {
        Some((what, why)) if !why.trim().is_empty() => (what, Some(why.trim().to_string())),
        _ => (data, None),
    };
    let words: Vec<&str> = what.split_whitespace().collect();
    let need_why = || {
        why.clone().ok_or_else(|| {
            format!(
                "`~ {}` needs `-- CLAUSE`: which clause leaves this room",
                what.trim()
            )
        })
    };
    match words.as_slice() {
        ["status", alternatives @ ..] if !alternatives.is_empty() => {
            let mut codes = Vec::new();
            let mut close = false;
            for a in alternatives {
                match *a {
                    "close" => close = true,
                    code => codes.push(
                        code.parse::<u16>()
                            .ok()
                            .filter(|c| (100..600).contains(c))
                            .ok_or_else(|| format!("`{code}` is neither a status nor `close`"))?,
                    ),
                }
            }
            Ok(Room::Status {
                codes,
                close,
                why: need_why()?,
            })
        }
        ["body", "message"] => Ok(Room::Body {
            rule: BodyRule::Message(None),
            why: why.unwrap_or_else(|| rooms::MESSAGE_CLAUSE.to_string()),
        }),
        ["body", "message", pattern] => Ok(Room::Body {
            rule: BodyRule::Message(Some(Pattern::parse(pattern)?)),
            why: why.unwrap_or_else(|| rooms::COUNT_CLAUSE.to_string()),
        }),
        ["body", "any"] => Ok(Room::Body {
            rule: BodyRule::Any,
            why: need_why()?,
        }),
        ["body", pattern] => Ok(Room::Body {
            rule: BodyRule::Pattern(Pattern::parse(pattern)?),
            why: need_why()?,
        }),
        ["field", name, "[ANY]"] => Ok(Room::Field {
            name: name.to_string(),
            value: ValueRule::Any,
            why: need_why()?,
        }),
        ["field", name, pattern] => Ok(Room::Field {
            name: name.to_string(),
            value: ValueRule::Pattern(Pattern::parse(pattern)?),
            why: need_why()?,
        }),
        _ => Err(format!(
            "unknown `~` line: {data} (status CODES.. | body message|any|/re/ | field NAME [ANY]|/re/)"
        )),
    }
}

/// The status code of the status line at the start of `bytes`, if it is one.
pub fn status_of(bytes: &[u8]) -> Option<u16> {
    let code = bytes.split(|&b| b == b' ').nth(1)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The data of a line `  <sigil> data`, or `None` if the line is not one.
pub fn sigil_data(line: &str, sigil: char) -> Option<&str> {
    let rest = line.trim_start().strip_prefix(sigil)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix(' ')
}

/// The longest `wait`, `timeout` or `expect-silence` a transcript may ask for: an hour, so
/// that a typo of a few digits is a format error rather than a run that waits for days.
const MAX_MS: u64 = 3_600_000;

/// Milliseconds, from 0 to an hour.
pub(crate) fn parse_ms(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(ms) if ms <= MAX_MS => Ok(Duration::from_millis(ms)),
        _ => Err(format!(
            "expected milliseconds, at most {MAX_MS} (an hour), got {text:?}"
        )),
    }
}

/// A `timeout` line's value: as `parse_ms`, and at least 1 ms (a zero timeout is refused
/// by the socket calls).
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_ms(text)? {
        ms if ms.is_zero() => Err("`timeout` must be at least 1 ms".into()),
        ms => Ok(ms),
    }
}

/// A line quoted in an error: its first 60 bytes and its length when it is longer, so
/// that a file of one huge line does not become a huge message.
pub(crate) fn quoted(line: &str) -> String {
    const SHOWN: usize = 60;
    if line.len() <= SHOWN {
        return line.to_owned();
    }
    let mut end = SHOWN;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &line[..end], line.len())
}

/// Looks for `fixtures/<name>` in the transcript's directory and each directory above it.
fn find_fixture(transcript: &Path, name: &str) -> Option<PathBuf> {
    let start = transcript.parent()?.canonicalize().ok()?;
    start
        .ancestors()
        .map(|dir| dir.join("fixtures").join(name))
        .find(|p| p.is_file())
}

/// The `= body ...` line for a response: the body's exact length and its framing.
pub fn body_line(response: &Response) -> String {
    let n = response.body.len();
    let unit = if n == 1 { "byte" } else { "bytes" };
    match response.framing {
        BodyFraming::Chunked => format!("body {n} {unit} (chunked)"),
        BodyFraming::UntilClose => format!("body {n} {unit} (until close)"),
        BodyFraming::None | BodyFraming::Length(_) => format!("body {n} {unit}"),
    }
}

/// The normalisation rule: in the head of a response, the value of a `Date`
/// field that is a valid HTTP-date becomes `[DATE]`, and the value of any `Server`
/// field becomes `[SERVER]`. Nothing else is touched; an invalid Date stays visible.
pub fn normalise(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut pos = 0;
    let mut first = true;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() && !first {
            out.extend_from_slice(&raw[pos..]);
            return out;
        }
        out.extend_from_slice(&normalise_field_line(line, content.len(), first));
        first = false;
        pos = end;
    }
    out
}

/// One line of the head; `content_len` is its length without the line end.
fn normalise_field_line(line: &[u8], content_len: usize, is_status_line: bool) -> Vec<u8> {
    if is_status_line {
        return line.to_vec();
    }
    let content = &line[..content_len];
    let Some(colon) = content.iter().position(|&b| b == b':') else {
        return line.to_vec();
    };
    let name = &content[..colon];
    let value = content[colon + 1..].trim_ascii();
    let placeholder: &[u8] = if name.eq_ignore_ascii_case(b"date")
        && std::str::from_utf8(value).is_ok_and(|v| httpdate::parse_http_date(v).is_ok())
    {
        b"[DATE]"
    } else if name.eq_ignore_ascii_case(b"server") && !value.is_empty() {
        b"[SERVER]"
    } else {
        return line.to_vec();
    };
    let mut out = content[..=colon].to_vec();
    out.push(b' ');
    out.extend_from_slice(placeholder);
    out.extend_from_slice(&line[content_len..]);
    out
}

/// The text of an expect block as it appears in a file, without indentation:
/// the `<` lines of the normalised bytes, then the `=` line if any.
pub fn render_expect(bytes: &[u8], body_line: Option<&str>) -> Vec<String> {
    let mut lines = render_lines(bytes, '<');
    if let Some(body) = body_line {
        lines.push(format!("= {body}"));
    }
    lines
}

/// The file text after replacing expect blocks: `(block, new lines)` pairs, in any order.
pub fn rewrite(lines: &[String], mut blocks: Vec<(std::ops::Range<usize>, Vec<String>)>) -> String {
    blocks.sort_by_key(|(range, _)| range.start);
    let mut out = String::new();
    let mut next = 0;
    for (range, new) in blocks {
        for line in &lines[next..range.start] {
            out.push_str(line);
            out.push('\n');
        }
        for line in new {
            out.push_str("  ");
            out.push_str(&line);
            out.push('\n');
        }
        next = range.end;
    }
    for line in &lines[next..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> String {
        Transcript::parse(Path::new("t.transcript"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_zero_timeout_and_a_wait_over_an_hour_are_format_errors() {
        // `timeout 0` failed every step with "cannot set a 0 duration timeout", and
        // `wait 100000000` (a typo) waited for 27 hours.
        assert_eq!(
            problem("timeout 0\nopen a\n"),
            "t.transcript:1: `timeout` must be at least 1 ms"
        );
        assert_eq!(
            problem("open a\nwait 3600001\n"),
            "t.transcript:2: expected milliseconds, at most 3600000 (an hour), got \"3600001\""
        );
        assert!(Transcript::parse(Path::new("t"), "timeout 1\nopen a\nwait 3600000\n").is_ok());
    }

    #[test]
    fn an_unknown_directive_is_quoted_short() {
        let line = "a".repeat(100_000);
        assert_eq!(
            problem(&line),
            format!(
                "t.transcript:1: unknown or malformed directive: {}... (100000 bytes)",
                "a".repeat(60)
            )
        );
        assert_eq!(
            problem("frob c"),
            "t.transcript:1: unknown or malformed directive: frob c"
        );
    }

    #[test]
    fn rendering_then_unescaping_gives_back_the_bytes() {
        let bytes = b"HTTP/1.1 200 OK\r\nX: a\tb\\c \r\n\r\nbody \x00\xff end ";
        let lines = render_lines(bytes, '<');
        let mut back = Vec::new();
        for l in &lines {
            back.extend(unescape(sigil_data(l, '<').unwrap()).unwrap());
        }
        assert_eq!(back, bytes);
        assert_eq!(lines.last().unwrap(), "< body \\x00\\xFF end\\x20");
    }

    #[test]
    fn date_and_server_values_are_normalised_in_the_head_only() {
        let raw = b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: wordwire/0.1.0\r\n\r\nServer: body";
        assert_eq!(
            normalise(raw),
            b"HTTP/1.1 200 OK\r\nDate: [DATE]\r\nServer: [SERVER]\r\n\r\nServer: body"
        );
    }

    #[test]
    fn an_invalid_date_stays_visible() {
        let raw = b"HTTP/1.1 200 OK\r\nDate: yesterday\r\n\r\n";
        assert_eq!(normalise(raw), raw);
    }

    #[test]
    fn a_transcript_parses_into_steps() {
        let text = "# c\nserver --auth-all\nstore\n  | hello\nopen a\nsend a\n  > GET / HTTP/1.1\\r\\n\n  > \\r\\n\nexpect a HEAD\n  < HTTP/1.1 200 OK\\r\\n\n  < \\r\\n\n  = body 0 bytes\nexpect-close a\n";
        let t = Transcript::parse(Path::new("x.transcript"), text).unwrap();
        assert_eq!(t.server_flags, Some(vec!["--auth-all".to_string()]));
        assert_eq!(t.store.as_deref(), Some(&b"hello\n"[..]));
        assert_eq!(t.steps.len(), 4);
        assert_eq!(
            t.steps[1].kind,
            StepKind::Send {
                conn: "a".into(),
                bytes: b"GET / HTTP/1.1\r\n\r\n".to_vec()
            }
        );
        assert!(
            matches!(&t.steps[2].kind, StepKind::Expect { after_head: true, block, body_line: Some(b), .. } if *block == (9..12) && b == "body 0 bytes")
        );
        assert_eq!(t.expected_statuses(), [200]);
    }

    /// `idle_estimate` (how `grading::ahead::play_order` tells the long plays from the
    /// short): the `wait` and `expect-silence` durations summed, plus the smallest
    /// `--read-timeout` or `--idle-timeout` of the `server` flags; nothing of either: zero.
    #[test]
    fn the_idle_estimate_sums_waits_and_silences_and_adds_the_smallest_server_timeout() {
        let estimate = |text: &str| {
            Transcript::parse(Path::new("t.transcript"), text)
                .unwrap()
                .idle_estimate()
        };
        let ms = Duration::from_millis;
        let steps =
            "open a\nwait 300\nsend a\n  > x\nexpect-silence a 200\nwait 50\nexpect-close a\n";
        assert_eq!(estimate(steps), ms(550));
        // Other flags (and their values) count for nothing; the smaller timeout is added.
        let flagged =
            format!("server --max-connections 7 --read-timeout 2 --idle-timeout 0.8\n{steps}");
        assert_eq!(estimate(&flagged), ms(550 + 800));
        // Repeated `server` lines add up to one list of flags.
        let repeated = format!("server --idle-timeout 3\nserver --read-timeout 0.25\n{steps}");
        assert_eq!(estimate(&repeated), ms(550 + 250));
        // A timeout alone, in either form.
        assert_eq!(
            estimate("server --idle-timeout 0.8\nopen a\nexpect-close a\n"),
            ms(800)
        );
        assert_eq!(
            estimate("server --read-timeout=0.3 --idle-timeout 5\nopen a\nexpect-close a\n"),
            ms(300)
        );
        // Nothing that waits: zero, with other flags or none.
        assert_eq!(estimate("open a\nsend a\n  > x\nclose a\n"), Duration::ZERO);
        assert_eq!(
            estimate("server --max-connections 1\nopen a\nclose a\n"),
            Duration::ZERO
        );
    }

    #[test]
    fn a_step_on_an_unopened_connection_is_an_error() {
        let err = Transcript::parse(Path::new("x"), "close b\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn rewrite_replaces_only_the_blocks() {
        let lines: Vec<String> = ["a", "  < old", "  = body 1 byte", "b"]
            .map(String::from)
            .to_vec();
        let text = rewrite(&lines, vec![(1..3, vec!["< new".to_string()])]);
        assert_eq!(text, "a\n  < new\nb\n");
    }
}
