//! The access log: one line per answered request, in nginx's `combined`
//! format plus the duration, or one JSON object a line; collected per loop
//! and written in whole batches.
//!
//! Here: the line formats, escaping what a client controls, the fields a line
//! takes from a head (`Referer`, `User-Agent`, the Basic user), the request
//! line of a head that did not parse whole, and batching (a loop writes its
//! lines once per turn, or sooner when a batch fills).
//! Elsewhere: when a request is answered (`server::conn`), when a loop's turn
//! ends (`server::event_loop`), the `Date` clock (`server::output`).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use smallvec::SmallVec;

use crate::http::response::Response;
use crate::http::{RequestHead, Version};

/// A batch is written once it holds more than this: no larger than a pipe
/// writes atomically, so lines from different loops never interleave.
const LOG_FLUSH: usize = 4000;

/// How access-log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// nginx's `combined` (`$remote_addr - $remote_user [$time_local] "$request"
    /// $status $body_bytes_sent "$http_referer" "$http_user_agent"`), then the
    /// duration in seconds, then a server failure's cause in parentheses.
    #[default]
    Combined,
    /// One JSON object a line, with the same facts.
    Json,
}

/// One loop's access log: lines not yet written, and where they go.
pub(super) struct AccessLog {
    format: Option<LogFormat>,
    /// The server's own handle on stderr; `None` keeps every line (in memory).
    sink: Option<File>,
    lines: String,
}

/// The request line of an answered request, as far as it is known.
#[derive(Clone, Copy)]
pub(super) enum RequestLine<'a> {
    Parsed(&'a RequestHead),
    /// The first line of a head that failed later (no `Host`, version 505),
    /// shaped `method SP target SP HTTP/...`.
    Raw(&'a [u8]),
    Unknown,
}

impl<'a> RequestLine<'a> {
    /// The request line at the start of `pending` (an unparsed head), if it has
    /// one: a whole line of three space-separated parts, the last `HTTP/...`.
    pub(super) fn of_unparsed(pending: &'a [u8]) -> RequestLine<'a> {
        let Some(end) = memchr::memchr(b'\n', pending) else {
            return RequestLine::Unknown;
        };
        let line = &pending[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut parts = line.split(|&b| b == b' ');
        let shaped = matches!(
            (parts.next(), parts.next(), parts.next(), parts.next()),
            (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() && v.starts_with(b"HTTP/")
        );
        if shaped {
            RequestLine::Raw(line)
        } else {
            RequestLine::Unknown
        }
    }
}

type Value = SmallVec<[u8; 32]>;

/// What a line takes from a head's field lines, as sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Fields {
    /// The user of `Authorization: Basic`, whether or not the pair is valid.
    user: Option<Value>,
    referer: Option<Value>,
    user_agent: Option<Value>,
}

impl Fields {
    /// Reads the field lines of `head` (a head's bytes, whole or not), after its
    /// first line and up to the empty line; incomplete lines are skipped.
    pub(super) fn scan(head: &[u8]) -> Fields {
        let mut fields = Fields::default();
        let mut lines = head.split_inclusive(|&b| b == b'\n').skip(1);
        while let Some(line) = lines.next().filter(|line| line.ends_with(b"\n")) {
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = memchr::memchr(b':', line) else {
                break;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"user-agent") {
                fields.user_agent = Some(Value::from_slice(value));
            } else if name.eq_ignore_ascii_case(b"referer") {
                fields.referer = Some(Value::from_slice(value));
            } else if name.eq_ignore_ascii_case(b"authorization") {
                fields.user =
                    crate::auth::presented_user(value).map(|user| Value::from_slice(&user));
            }
        }
        fields
    }
}

/// One answered request, as the log sees it.
pub(super) struct Entry<'a> {
    pub(super) peer: SocketAddr,
    pub(super) request: RequestLine<'a>,
    pub(super) fields: &'a Fields,
    pub(super) response: &'a Response,
    /// Body bytes sent.
    pub(super) bytes: usize,
    pub(super) duration: Duration,
}

impl AccessLog {
    /// A log in `format`, or off with `None`.
    pub(super) fn new(format: Option<LogFormat>, sink: Option<File>) -> AccessLog {
        AccessLog {
            format,
            sink,
            lines: String::new(),
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.format.is_some()
    }

    /// Logs one answered request; `date` is the answer's `Date` (`server::output::DateCache`).
    pub(super) fn record(&mut self, entry: &Entry<'_>, date: &str) {
        let Some(format) = self.format else {
            return;
        };
        let before = self.lines.len();
        format_line(&mut self.lines, format, entry, date);
        if self.lines.len() > LOG_FLUSH && self.sink.is_some() {
            if before > 0 {
                self.write(..before);
            }
            self.flush();
        }
    }

    /// Writes the lines collected so far.
    pub(super) fn flush(&mut self) {
        if self.sink.is_some() && !self.lines.is_empty() {
            self.write(..self.lines.len());
        }
    }

    /// The lines kept so far (a log without a sink keeps them all).
    pub(super) fn take(&mut self) -> String {
        std::mem::take(&mut self.lines)
    }

    /// One `write` of whole lines, without the process-wide stderr lock: a
    /// write no larger than `LOG_FLUSH` to a pipe is atomic.
    fn write(&mut self, range: std::ops::RangeTo<usize>) {
        if let Some(mut sink) = self.sink.as_ref() {
            let _ = sink.write_all(&self.lines.as_bytes()[range]);
        }
        self.lines.drain(range);
    }
}

/// Appends one line for `entry` to `line`; `date` is the HTTP date of now
/// (`Tue, 01 Dec 2026 10:25:00 GMT`).
fn format_line(line: &mut String, format: LogFormat, entry: &Entry<'_>, date: &str) {
    match format {
        LogFormat::Combined => format_combined(line, entry, date),
        LogFormat::Json => format_json(line, entry, date),
    }
    line.push('\n');
}

fn format_combined(line: &mut String, entry: &Entry<'_>, date: &str) {
    // `Tue, 01 Dec 2026 10:25:00 GMT` → `01/Dec/2026:10:25:00 +0000`. Written piece
    // by piece rather than with `write!`: this runs once per request.
    let time = date.get(5..25).unwrap_or("01 Jan 1970 00:00:00");
    let mut number = itoa::Buffer::new();
    match entry.peer.ip() {
        IpAddr::V4(ip) => {
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    line.push('.');
                }
                line.push_str(number.format(octet));
            }
        }
        ip @ IpAddr::V6(_) => {
            let _ = write!(line, "{ip}");
        }
    }
    line.push_str(" - ");
    quoted_or_dash(line, entry.fields.user.as_deref(), false);
    line.push_str(" [");
    for (piece, after) in [
        (&time[0..2], "/"),
        (&time[3..6], "/"),
        (&time[7..11], ":"),
        (&time[12..20], " +0000] \""),
    ] {
        line.push_str(piece);
        line.push_str(after);
    }
    match entry.request {
        RequestLine::Parsed(head) => {
            line.push_str(head.method.as_str());
            line.push(' ');
            escape(line, head.raw_target.as_bytes());
            line.push(' ');
            line.push_str(version(head.version));
        }
        RequestLine::Raw(raw) => escape(line, raw),
        RequestLine::Unknown => line.push('-'),
    }
    line.push_str("\" ");
    line.push_str(number.format(entry.response.status.code()));
    line.push(' ');
    line.push_str(number.format(entry.bytes));
    line.push(' ');
    quoted_or_dash(line, entry.fields.referer.as_deref(), true);
    line.push(' ');
    quoted_or_dash(line, entry.fields.user_agent.as_deref(), true);
    let micros = entry.duration.as_micros();
    line.push(' ');
    line.push_str(number.format(micros / 1_000_000));
    line.push('.');
    let fraction = number.format(micros % 1_000_000);
    line.extend(std::iter::repeat_n('0', 6 - fraction.len()));
    line.push_str(fraction);
    if let Some(cause) = &entry.response.cause {
        line.push_str(" (");
        escape(line, cause.as_bytes());
        line.push(')');
    }
}

/// `"value"` escaped, or `"-"` (`-` unquoted for the user, as nginx writes it).
fn quoted_or_dash(line: &mut String, value: Option<&[u8]>, quoted: bool) {
    if quoted {
        line.push('"');
    }
    match value {
        // Unquoted, a space would end the field too.
        Some(value) if !value.is_empty() => escape_bytes(line, value, !quoted),
        _ => line.push('-'),
    }
    if quoted {
        line.push('"');
    }
}

/// Appends `bytes` with what could forge a field escaped as nginx does: `"`,
/// `\`, control bytes and bytes above 0x7e become `\xHH`.
fn escape(line: &mut String, bytes: &[u8]) {
    escape_bytes(line, bytes, false);
}

fn escape_bytes(line: &mut String, mut bytes: &[u8], space: bool) {
    let plain = |byte: u8| {
        matches!(byte, 0x20..=0x7e) && byte != b'"' && byte != b'\\' && !(space && byte == b' ')
    };
    while !bytes.is_empty() {
        let run = bytes.iter().position(|&b| !plain(b)).unwrap_or(bytes.len());
        // Printable ASCII: always UTF-8.
        line.push_str(std::str::from_utf8(&bytes[..run]).unwrap_or_default());
        let Some(&byte) = bytes.get(run) else {
            break;
        };
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        line.push_str("\\x");
        line.push(char::from(HEX[usize::from(byte >> 4)]));
        line.push(char::from(HEX[usize::from(byte & 0xf)]));
        bytes = &bytes[run + 1..];
    }
}

fn version(version: Version) -> &'static str {
    match version {
        Version::Http10 => "HTTP/1.0",
        Version::Http11 => "HTTP/1.1",
    }
}

/// One line of `--log-format json`.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    /// RFC 3339, UTC.
    time: String,
    peer: String,
    user: Option<String>,
    request: Option<String>,
    status: u16,
    bytes: usize,
    referer: Option<String>,
    user_agent: Option<String>,
    duration_ms: f64,
    cause: Option<&'a str>,
}

fn format_json(line: &mut String, entry: &Entry<'_>, date: &str) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let time = date.get(5..25).unwrap_or("01 Jan 1970 00:00:00");
    let month = MONTHS.iter().position(|m| *m == &time[3..6]).unwrap_or(0) + 1;
    let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
    let request = match entry.request {
        RequestLine::Parsed(head) => Some(format!(
            "{} {} {}",
            head.method.as_str(),
            head.raw_target,
            version(head.version)
        )),
        RequestLine::Raw(raw) => text(Some(raw)),
        RequestLine::Unknown => None,
    };
    let json = JsonLine {
        time: format!(
            "{}-{month:02}-{}T{}Z",
            &time[7..11],
            &time[0..2],
            &time[12..20]
        ),
        peer: entry.peer.to_string(),
        user: text(entry.fields.user.as_deref()),
        request,
        status: entry.response.status.code(),
        bytes: entry.bytes,
        referer: text(entry.fields.referer.as_deref()),
        user_agent: text(entry.fields.user_agent.as_deref()),
        duration_ms: entry.duration.as_secs_f64() * 1000.0,
        cause: entry.response.cause.as_deref(),
    };
    // Serializing plain strings and numbers cannot fail.
    if let Ok(text) = serde_json::to_string(&json) {
        line.push_str(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HeadLimits, Progress, Status, parse_head};

    const DATE: &str = "Tue, 01 Dec 2026 10:25:07 GMT";

    fn head(bytes: &[u8]) -> RequestHead {
        let limits = HeadLimits {
            max_line: 8192,
            max_header_bytes: 16384,
            max_body: 8192,
        };
        match parse_head(bytes, &limits) {
            Ok(Progress::Done { value, .. }) => value,
            other => panic!("not a head: {other:?}"),
        }
    }

    fn line(
        format: LogFormat,
        request: RequestLine<'_>,
        raw: &[u8],
        response: &Response,
    ) -> String {
        let fields = Fields::scan(raw);
        let entry = Entry {
            peer: "127.0.0.1:40000".parse().unwrap(),
            request,
            fields: &fields,
            response,
            bytes: 12,
            duration: Duration::from_micros(1234),
        };
        let mut line = String::new();
        format_line(&mut line, format, &entry, DATE);
        line
    }

    const CURL: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8.5.0\r\nAuthorization: Basic d29yZHdpcmU6d29yZHdpcmU=\r\nReferer: http://a/x\r\n\r\n";

    #[test]
    fn combined_lines_read_as_nginx_writes_them() {
        let ok = Response::line(Status::Ok, "added hello");
        let parsed = head(CURL);
        let lines = [
            line(LogFormat::Combined, RequestLine::Parsed(&parsed), CURL, &ok),
            line(
                LogFormat::Combined,
                RequestLine::of_unparsed(b"GET / HTTP/2.0\r\nHost: a\r\n"),
                b"GET / HTTP/2.0\r\nHost: a\r\n",
                &Response::line(Status::HttpVersionNotSupported, "x"),
            ),
            line(
                LogFormat::Combined,
                RequestLine::of_unparsed(b"GET / HT"),
                b"GET / HT",
                &Response::internal_error("store: disk full"),
            ),
        ];
        insta::assert_snapshot!(lines.concat(), @r#"
        127.0.0.1 - wordwire [01/Dec/2026:10:25:07 +0000] "GET / HTTP/1.1" 200 12 "http://a/x" "curl/8.5.0" 0.001234
        127.0.0.1 - - [01/Dec/2026:10:25:07 +0000] "GET / HTTP/2.0" 505 12 "-" "-" 0.001234
        127.0.0.1 - - [01/Dec/2026:10:25:07 +0000] "-" 500 12 "-" "-" 0.001234 (store: disk full)
        "#);
    }

    #[test]
    fn json_lines_hold_the_same_facts() {
        let parsed = head(CURL);
        let ok = Response::line(Status::Ok, "added hello");
        let text = line(LogFormat::Json, RequestLine::Parsed(&parsed), CURL, &ok);
        insta::assert_snapshot!(text, @r#"{"time":"2026-12-01T10:25:07Z","peer":"127.0.0.1:40000","user":"wordwire","request":"GET / HTTP/1.1","status":200,"bytes":12,"referer":"http://a/x","user_agent":"curl/8.5.0","duration_ms":1.234,"cause":null}"#);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["user_agent"], "curl/8.5.0");
    }

    #[test]
    fn client_bytes_cannot_forge_fields_of_the_line() {
        // Issue 13 item 3: a `"` in the target used to end the request field.
        let raw = b"GET /x\"_200_9999_fake HTTP/1.1\r\nHost: a\r\nUser-Agent: a\" \"b\\\xff\r\nAuthorization: Basic IiBmYWtlOng=\r\n\r\n";
        let parsed = head(raw);
        let ok = Response::line(Status::Ok, "x");
        let text = line(LogFormat::Combined, RequestLine::Parsed(&parsed), raw, &ok);
        assert_eq!(
            text,
            "127.0.0.1 - \\x22\\x20fake [01/Dec/2026:10:25:07 +0000] \"GET /x\\x22_200_9999_fake HTTP/1.1\" 200 12 \"-\" \"a\\x22 \\x22b\\x5C\\xFF\" 0.001234\n"
        );
        // Exactly the six quotes of the three quoted fields remain.
        assert_eq!(text.matches('"').count(), 6, "{text}");
    }

    #[test]
    fn a_request_line_is_logged_whenever_it_is_whole_and_shaped_like_one() {
        let raw = |b: &[u8]| match RequestLine::of_unparsed(b) {
            RequestLine::Raw(line) => Some(line.to_vec()),
            _ => None,
        };
        assert_eq!(
            raw(b"GET / HTTP/1.1\r\n\r\n"),
            Some(b"GET / HTTP/1.1".to_vec())
        );
        assert_eq!(raw(b"GET / HTTP/9.9\n"), Some(b"GET / HTTP/9.9".to_vec()));
        assert_eq!(raw(b"GET / HTTP/1.1"), None, "not a whole line");
        assert_eq!(raw(b"GET  / HTTP/1.1\r\n"), None);
        assert_eq!(raw(b"hello\r\n"), None);
    }

    #[test]
    fn ipv6_peers_long_durations_and_high_bytes_read_as_nginx_writes_them() {
        let raw = b"GET /\xC3\xA9 HTTP/1.1\r\nHost: a\r\nUser-Agent: a\tb \"c\"\\\r\n\r\n";
        let fields = Fields::scan(raw);
        let entry = Entry {
            peer: "[::1]:40000".parse().unwrap(),
            request: RequestLine::of_unparsed(raw),
            fields: &fields,
            response: &Response::line(Status::NotFound, "not found"),
            bytes: 0,
            duration: Duration::from_micros(12_000_034),
        };
        let mut text = String::new();
        format_line(&mut text, LogFormat::Combined, &entry, DATE);
        assert_eq!(
            text,
            "::1 - - [01/Dec/2026:10:25:07 +0000] \"GET /\\xC3\\xA9 HTTP/1.1\" 404 0 \"-\" \"a\\x09b \\x22c\\x22\\x5C\" 12.000034\n"
        );
    }
}
