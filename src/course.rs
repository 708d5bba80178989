//! A course file: the assignment as a TA set it, and the readings its text leaves open.
//!
//! Here: the TOML keys (`[server]`, `[store]`, `[auth]`, `[statuses]`, `[rules]`,
//! `[grading]`), their defaults, their checks (one line naming the file, line and key), and
//! the commented template `wordwire course init` writes. Every key is optional; a key that
//! is absent takes this project's own reading of the assignment (`CONTRACT.md`), so an
//! empty course file is the contract. Elsewhere: judging a server by a course
//! (`grading`), the command line (`cli::course`). The keys and their readings are
//! explained for TAs in `docs/COURSE.md`; its table and this module are checked
//! against each other by the tests below.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::{DEFAULT_PASSWORD, DEFAULT_USER};

/// The largest course file read (a course file is a few hundred bytes).
pub const MAX_COURSE_BYTES: u64 = 64 * 1024;

/// The assignment as the TA set it. Built only by [`Course::parse`] or
/// [`Course::default`] (the contract's reading), so every value in it has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Course {
    /// `[server] start`: the start command of a submission that has no `wordwire-cmd`.
    pub start: Option<String>,
    /// `[server] port`: the port the students were told to use; `None`: the command's
    /// `{port}`, or the port the server is found listening on.
    pub port: Option<u16>,
    /// `[server] start-timeout`: how long a server may take to listen.
    pub start_timeout: Duration,
    /// `[store] file`: the data file, relative to the submission directory.
    pub store_file: PathBuf,
    /// `[store] format`: how the data file holds its words.
    pub store_format: StoreFormat,
    /// `[auth] header`: the field an authorised request carries.
    pub auth_header: AuthHeader,
    /// `[auth] methods`: the methods that need it.
    pub auth_methods: Vec<String>,
    /// `[statuses] server-error`: the statuses accepted for a server-side failure.
    pub server_error: Vec<u16>,
    /// `[statuses] timeout`: the statuses accepted for a stalled request.
    pub timeout: Vec<u16>,
    /// `[statuses] timeout-after`: the silence after which a stalled request must be answered.
    pub timeout_after: Duration,
    /// `[statuses] unknown-method`: the statuses accepted for a method the server lacks.
    pub unknown_method: Vec<u16>,
    /// `[rules] put`: which occurrences of OLD a PUT changes.
    pub put: Occurrences,
    /// `[rules] delete`: which occurrences a DELETE removes.
    pub delete: Occurrences,
    /// `[grading] profile`: what the transcripts judge.
    pub profile: Profile,
    /// `[grading.weights]`: a category's weight in the score (1 when not named).
    pub weights: BTreeMap<String, f64>,
}

/// `[store] format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreFormat {
    /// One word per line, each line ending in LF (the contract's store).
    Lines,
    /// Words separated by any whitespace (a file written with spaces, or without a last LF).
    Words,
}

/// `[rules] put` and `[rules] delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Occurrences {
    /// Every occurrence (the contract).
    Every,
    /// The first occurrence only.
    First,
}

/// `[grading] profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Only what the assignment asks: statuses, bodies by meaning, the data file, auth as
    /// the course says; a server may close after every response.
    Assignment,
    /// The whole contract, as strict as `replay` without a course file.
    Contract,
}

/// An `[auth] header` line, split and checked: a field name and a value without
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub name: String,
    pub value: String,
}

impl AuthHeader {
    /// The lab pair's Basic credentials, the contract's reading.
    pub fn lab_pair() -> AuthHeader {
        use base64::Engine;
        let pair = format!("{DEFAULT_USER}:{DEFAULT_PASSWORD}");
        AuthHeader {
            name: "Authorization".to_string(),
            value: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ),
        }
    }

    fn parse(line: &str) -> Result<AuthHeader, String> {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "{line:?} is not a header line: write it as \"Name: value\""
            ));
        };
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(tchar) {
            return Err(format!(
                "{name:?} is not a field name (letters, digits and !#$%&'*+-.^_`|~)"
            ));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err("the header's value has a control character".to_string());
        }
        Ok(AuthHeader {
            name: name.to_string(),
            value: value.to_string(),
        })
    }
}

impl AuthHeader {
    /// `bytes` (requests as a transcript sends them) with every lab-pair credentials
    /// line replaced by this header; nothing is added to a request that had none.
    pub fn replacing_lab_pair(&self, bytes: &[u8]) -> Vec<u8> {
        let lab = AuthHeader::lab_pair().to_string().into_bytes();
        let ours = self.to_string().into_bytes();
        if lab == ours {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        while let Some(at) = rest
            .windows(lab.len())
            .position(|w| w.eq_ignore_ascii_case(&lab))
        {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(&ours);
            rest = &rest[at + lab.len()..];
        }
        out.extend_from_slice(rest);
        out
    }
}

impl fmt::Display for AuthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.value)
    }
}

impl Default for Course {
    /// The contract's reading of every key (`CONTRACT.md`; `serve`'s defaults).
    fn default() -> Course {
        Course {
            start: None,
            port: None,
            start_timeout: Duration::from_secs(10),
            store_file: PathBuf::from("words.txt"),
            store_format: StoreFormat::Lines,
            auth_header: AuthHeader::lab_pair(),
            auth_methods: vec!["GET".to_string(), "HEAD".to_string()],
            server_error: vec![500],
            timeout: vec![504],
            timeout_after: Duration::from_secs(10),
            unknown_method: vec![501],
            put: Occurrences::Every,
            delete: Occurrences::Every,
            profile: Profile::Contract,
            weights: BTreeMap::new(),
        }
    }
}

/// The file as written: every key optional, unknown keys refused (a misspelt key
/// silently ignored would grade a class by the wrong reading).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerKeys,
    #[serde(default)]
    store: StoreKeys,
    #[serde(default)]
    auth: AuthKeys,
    #[serde(default)]
    statuses: StatusKeys,
    #[serde(default)]
    rules: RuleKeys,
    #[serde(default)]
    grading: GradingKeys,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ServerKeys {
    start: Option<String>,
    port: Option<u16>,
    start_timeout: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StoreKeys {
    file: Option<String>,
    format: Option<StoreFormat>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AuthKeys {
    header: Option<String>,
    methods: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StatusKeys {
    server_error: Option<Vec<u16>>,
    timeout: Option<Vec<u16>>,
    timeout_after: Option<f64>,
    unknown_method: Option<Vec<u16>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleKeys {
    put: Option<Occurrences>,
    delete: Option<Occurrences>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct GradingKeys {
    profile: Option<Profile>,
    weights: Option<BTreeMap<String, f64>>,
}

impl Course {
    /// Reads a course file: a regular file of at most [`MAX_COURSE_BYTES`]. Errors are one
    /// line that starts with the path.
    pub fn load(path: &Path) -> Result<Course, String> {
        use std::io::Read;
        let shown = path.display();
        let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
        let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{shown}: not a regular file"));
        }
        let mut text = String::new();
        file.take(MAX_COURSE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("{shown}: {e}"))?;
        if text.len() as u64 > MAX_COURSE_BYTES {
            return Err(format!(
                "{shown}: over {MAX_COURSE_BYTES} bytes; a course file is a few lines of TOML"
            ));
        }
        Course::parse(&text).map_err(|e| format!("{shown}:{e}"))
    }

    /// `--course FILE` when given: the course, shared by every transcript of a run.
    pub fn load_flag(path: Option<&Path>) -> Result<Option<std::sync::Arc<Course>>, String> {
        path.map(Course::load)
            .transpose()
            .map(|c| c.map(std::sync::Arc::new))
    }

    /// Parses a course file's text. An error is `LINE: message` (or `1: message`), one line.
    pub fn parse(text: &str) -> Result<Course, String> {
        let file: File = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(1, |span| text[..span.start].matches('\n').count() + 1);
            format!("{line}: {}", one_line(e.message()))
        })?;
        // Checks that TOML's types cannot express; the line is that of the key.
        let at = |key: &str, message: String| format!("{}: {key}: {message}", line_of(text, key));
        // A course file grades by the assignment unless it says otherwise.
        let mut course = Course {
            profile: Profile::Assignment,
            ..Course::default()
        };
        if let Some(start) = file.server.start {
            if start.trim().is_empty() || start.contains(['\n', '\r', '\0']) {
                return Err(at(
                    "start",
                    "must be one non-empty command line".to_string(),
                ));
            }
            course.start = Some(start);
        }
        if let Some(port) = file.server.port {
            if port == 0 {
                return Err(at(
                    "port",
                    "must be the port students were told to use, 1 to 65535".to_string(),
                ));
            }
            course.port = Some(port);
        }
        if let Some(secs) = file.server.start_timeout {
            course.start_timeout = seconds(secs).map_err(|m| at("start-timeout", m))?;
        }
        if let Some(name) = file.store.file {
            course.store_file = relative_file(&name).map_err(|m| at("file", m))?;
        }
        if let Some(format) = file.store.format {
            course.store_format = format;
        }
        if let Some(line) = file.auth.header {
            course.auth_header = AuthHeader::parse(&line).map_err(|m| at("header", m))?;
        }
        if let Some(methods) = file.auth.methods {
            course.auth_methods = methods_list(methods).map_err(|m| at("methods", m))?;
        }
        let lists = [
            (
                "server-error",
                file.statuses.server_error,
                &mut course.server_error,
            ),
            ("timeout", file.statuses.timeout, &mut course.timeout),
            (
                "unknown-method",
                file.statuses.unknown_method,
                &mut course.unknown_method,
            ),
        ];
        for (key, given, slot) in lists {
            if let Some(statuses) = given {
                *slot = status_list(statuses).map_err(|m| at(key, m))?;
            }
        }
        if let Some(secs) = file.statuses.timeout_after {
            course.timeout_after = seconds(secs).map_err(|m| at("timeout-after", m))?;
        }
        if let Some(put) = file.rules.put {
            course.put = put;
        }
        if let Some(delete) = file.rules.delete {
            course.delete = delete;
        }
        if let Some(profile) = file.grading.profile {
            course.profile = profile;
        }
        if let Some(weights) = file.grading.weights {
            for (category, weight) in &weights {
                if !(weight.is_finite() && (0.0..=1000.0).contains(weight)) {
                    return Err(at(
                        category,
                        format!("weight {weight} must be a number from 0 to 1000"),
                    ));
                }
            }
            course.weights = weights;
        }
        Ok(course)
    }

    /// `bytes` (what a transcript sends) as a request of this course: the lab pair's
    /// credentials replaced by the `[auth] header`, and, unless `about_auth` (a transcript
    /// that expects a 401, which decides its credentials itself), the header added to a
    /// request head at the start of `bytes` whose method needs it and which carries none.
    /// Nothing is added to a request of a method not in `[auth] methods`.
    pub fn request_bytes(&self, bytes: &[u8], about_auth: bool) -> Vec<u8> {
        let replaced = self.auth_header.replacing_lab_pair(bytes);
        if about_auth {
            return replaced;
        }
        let Some(line_end) = replaced.windows(2).position(|w| w == b"\r\n") else {
            return replaced;
        };
        let method = replaced[..line_end]
            .split(|&b| b == b' ')
            .next()
            .map(|m| String::from_utf8_lossy(m).to_string())
            .unwrap_or_default();
        let head_end = replaced
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(replaced.len(), |i| i + 2);
        let name = format!("\r\n{}:", self.auth_header.name.to_ascii_lowercase());
        let head = replaced[..head_end].to_ascii_lowercase();
        let carries = head.windows(name.len()).any(|w| w == name.as_bytes());
        if !self.needs_auth(&method) || carries || head_end == replaced.len() {
            return replaced;
        }
        let mut out = replaced[..line_end + 2].to_vec();
        out.extend_from_slice(format!("{}\r\n", self.auth_header).as_bytes());
        out.extend_from_slice(&replaced[line_end + 2..]);
        out
    }

    /// Whether `method` needs the `[auth] header`.
    pub fn needs_auth(&self, method: &str) -> bool {
        self.auth_methods.iter().any(|m| m == method)
    }

    /// A category's weight (`[grading.weights]`, 1 when not named).
    pub fn weight(&self, category: &str) -> f64 {
        self.weights.get(category).copied().unwrap_or(1.0)
    }

    /// Every key with the value in force, as TOML that parses back to this course:
    /// what `wordwire course check` prints, so a TA sees the defaults the file left out.
    pub fn to_toml(&self) -> String {
        let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut out = String::from("[server]\n");
        match &self.start {
            Some(start) => out += &format!("start = {}\n", quoted(start)),
            None => out += "# start: none (each submission has its wordwire-cmd)\n",
        }
        match self.port {
            Some(port) => out += &format!("port = {port}\n"),
            None => out += "# port: none ({port} in the command, or where the server listens)\n",
        }
        out += &format!(
            "start-timeout = {}\n\n[store]\nfile = {}\nformat = \"{}\"\n\n",
            secs(self.start_timeout),
            quoted(&self.store_file.to_string_lossy()),
            match self.store_format {
                StoreFormat::Lines => "lines",
                StoreFormat::Words => "words",
            }
        );
        let methods: Vec<String> = self.auth_methods.iter().map(|m| quoted(m)).collect();
        out += &format!(
            "[auth]\nheader = {}\nmethods = [{}]\n\n",
            quoted(&self.auth_header.to_string()),
            methods.join(", ")
        );
        out += &format!(
            "[statuses]\nserver-error = [{}]\ntimeout = [{}]\ntimeout-after = {}\nunknown-method = [{}]\n\n",
            list(&self.server_error),
            list(&self.timeout),
            secs(self.timeout_after),
            list(&self.unknown_method)
        );
        let rule = |o: Occurrences| match o {
            Occurrences::Every => "every",
            Occurrences::First => "first",
        };
        out += &format!(
            "[rules]\nput = \"{}\"\ndelete = \"{}\"\n\n[grading]\nprofile = \"{}\"\n",
            rule(self.put),
            rule(self.delete),
            match self.profile {
                Profile::Assignment => "assignment",
                Profile::Contract => "contract",
            }
        );
        if !self.weights.is_empty() {
            out += "\n[grading.weights]\n";
            for (category, weight) in &self.weights {
                let bare = category
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                let key = if bare {
                    category.clone()
                } else {
                    quoted(category)
                };
                out += &format!("{key} = {weight}\n");
            }
        }
        out
    }
}

/// The commented template `wordwire course init` writes: this assignment's reading
/// (`../shared/ASSIGNMENT.md`), every key set, each with what it means and its default.
pub const TEMPLATE: &str = include_str!("course/template.toml");

fn seconds(secs: f64) -> Result<Duration, String> {
    if secs.is_finite() && (0.001..=3600.0).contains(&secs) {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!("{secs} must be seconds, from 0.001 to 3600"))
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// A data file's name inside the submission directory: relative, no `..`.
fn relative_file(name: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(name);
    let inside = !name.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && path.file_name().is_some();
    if inside {
        Ok(path)
    } else {
        Err(format!(
            "{name:?} must be a file name inside the submission directory (relative, no ..)"
        ))
    }
}

fn methods_list(methods: Vec<String>) -> Result<Vec<String>, String> {
    for method in &methods {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "{method:?} is not a method name in capitals, such as \"GET\""
            ));
        }
    }
    Ok(methods)
}

fn status_list(statuses: Vec<u16>) -> Result<Vec<u16>, String> {
    if statuses.is_empty() {
        return Err("needs at least one status".to_string());
    }
    if let Some(bad) = statuses.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(format!("{bad} is not an HTTP status (100 to 599)"));
    }
    Ok(statuses)
}

/// The line of the first `key =` in the text (for a message about a value TOML accepted).
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches('"');
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start_matches('"').trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_course_s_credentials_where_its_methods_need_them() {
        let course =
            Course::parse("[auth]\nheader = \"X-Token: abc\"\nmethods = [\"GET\", \"POST\"]\n")
                .unwrap();
        let lab = AuthHeader::lab_pair();
        let get = format!("GET / HTTP/1.1\r\nHost: x\r\n{lab}\r\n\r\n");
        assert_eq!(
            course.request_bytes(get.as_bytes(), false),
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Token: abc\r\n\r\n"
        );
        let post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na";
        assert_eq!(
            course.request_bytes(post, false),
            b"POST / HTTP/1.1\r\nX-Token: abc\r\nHost: x\r\nContent-Length: 1\r\n\r\na"
        );
        // A transcript about auth sends what it sends; PUT needs nothing here.
        assert_eq!(course.request_bytes(post, true), post);
        let put = b"PUT / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(course.request_bytes(put, false), put);
        // A head still arriving in pieces is left as it is.
        assert_eq!(
            course.request_bytes(b"POST / HTTP/1.1\r\nHo", false),
            b"POST / HTTP/1.1\r\nHo"
        );
    }

    #[test]
    fn an_empty_course_file_is_the_contract_graded_by_the_assignment() {
        let course = Course::parse("").unwrap();
        let contract = Course::default();
        assert_eq!(course.profile, Profile::Assignment);
        assert_eq!(
            Course {
                profile: Profile::Contract,
                ..course
            },
            contract
        );
        assert_eq!(
            contract.auth_header.to_string(),
            "Authorization: Basic d29yZHdpcmU6d29yZHdpcmU="
        );
    }

    #[test]
    fn the_template_is_the_assignment_s_reading_with_every_key_set() {
        let course = Course::parse(TEMPLATE).unwrap();
        assert_eq!(course.start.as_deref(), Some("python3 server.py"));
        assert_eq!(course.port, Some(12345));
        assert_eq!(course.store_file, PathBuf::from("words.txt"));
        assert_eq!(course.auth_methods, ["GET"]);
        // The assignment's own numbers: 501 for a server fault, 504 for a timeout.
        assert_eq!(course.server_error, [501, 500]);
        assert_eq!(course.timeout, [504]);
        assert_eq!(course.profile, Profile::Assignment);
        // Every key of the format appears, uncommented, in the template: what `check`
        // prints (every key) and what the template sets are the same set of keys.
        let keys = |text: &str| -> Vec<String> {
            let mut keys: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.starts_with('#') && l.contains('='))
                .map(|l| l.split('=').next().unwrap().trim().to_string())
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(TEMPLATE), keys(&course.to_toml()));
    }

    #[test]
    fn check_prints_toml_that_parses_back_to_the_same_course() {
        for text in [
            "",
            TEMPLATE,
            "[rules]\nput = \"first\"\n[grading]\nprofile = \"contract\"\n[grading.weights]\nmethods = 3\n\"odd name\" = 0.5\n",
        ] {
            let course = Course::parse(text).unwrap();
            assert_eq!(Course::parse(&course.to_toml()).unwrap(), course, "{text}");
        }
    }

    #[test]
    fn bad_values_are_one_line_naming_the_line_and_key() {
        let cases = [
            ("[server]\nprot = 80\n", "2: unknown field `prot`"),
            ("[server]\nport = 0\n", "2: port: must be the port"),
            ("[server]\nport = 70000\n", "2: "),
            (
                "\n[store]\nfile = \"../x\"\n",
                "3: file: \"../x\" must be a file name",
            ),
            ("[store]\nfile = \"/etc/passwd\"\n", "2: file: "),
            ("[store]\nformat = \"csv\"\n", "2: unknown variant `csv`"),
            (
                "[auth]\nheader = \"no colon\"\n",
                "2: header: \"no colon\" is not a header line",
            ),
            (
                "[auth]\nmethods = [\"get\"]\n",
                "2: methods: \"get\" is not a method",
            ),
            (
                "[statuses]\ntimeout = []\n",
                "2: timeout: needs at least one status",
            ),
            (
                "[statuses]\nserver-error = [999]\n",
                "2: server-error: 999 is not an HTTP status",
            ),
            (
                "[statuses]\ntimeout-after = 0\n",
                "2: timeout-after: 0 must be seconds",
            ),
            ("[rules]\nput = \"all\"\n", "2: unknown variant `all`"),
            (
                "[grading.weights]\nmethods = -1\n",
                "2: methods: weight -1 must be",
            ),
            ("[server\n", "1: "),
        ];
        for (text, start) in cases {
            let error = Course::parse(text).unwrap_err();
            assert!(error.starts_with(start), "{text:?} gave {error:?}");
            assert!(!error.contains('\n'), "{error:?}");
        }
    }

    #[test]
    fn load_refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = Course::load(dir.path()).unwrap_err();
        assert!(error.ends_with("not a regular file"), "{error}");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, "#".repeat(MAX_COURSE_BYTES as usize + 1)).unwrap();
        assert!(Course::load(&big).unwrap_err().contains("over 65536 bytes"));
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[rules]\ndelete = \"some\"\n").unwrap();
        let error = Course::load(&bad).unwrap_err();
        assert!(
            error.starts_with(&format!("{}:2: unknown variant `some`", bad.display())),
            "{error}"
        );
    }

    #[test]
    fn auth_methods_and_weights_are_looked_up() {
        let course = Course::parse(TEMPLATE).unwrap();
        assert!(course.needs_auth("GET"));
        assert!(!course.needs_auth("POST"));
        assert_eq!(course.weight("methods"), 2.0);
        assert_eq!(course.weight("unnamed"), 1.0);
    }
}
