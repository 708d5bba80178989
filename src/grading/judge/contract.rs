//! Contract-level judging: does a response mean what the expected one means?
//!
//! Here: what "the same response" is when the bytes may differ — the status (or one
//! of the alternatives a `~ status` line allows), the CRLF line ends and the version,
//! the fields the expected response has (names in any case and order, values checked
//! by what the contract requires of each), the fields that must be absent, and the
//! body (exact by default; a `~ body` line says where the contract leaves room).
//! Elsewhere: the `~` lines (`grading::suite::rooms`), reading the response
//! (`grading::play`), the byte-exact comparison (`grading::judge::exact`).
//!
//! Every check that loosens the bytes names the clause that allows it, and that
//! citation is part of the failure message.

use crate::client::{BodyFraming, Response};
use crate::grading::suite::rooms::{BodyRule, Room, ValueRule};

/// The expected response of an `expect` block, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Expected<'a> {
    pub status: u16,
    pub fields: Vec<(&'a str, &'a str)>,
    pub body: &'a [u8],
}

pub(super) fn split_expected(bytes: &[u8]) -> Option<Expected<'_>> {
    let head_end = find(bytes, b"\r\n\r\n").map(|i| (i, i + 4));
    let (head, body) = match head_end {
        Some((end, body_start)) => (&bytes[..end], &bytes[body_start..]),
        None => (bytes, &b""[..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let fields = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n, v.trim()))
        .collect();
    Some(Expected {
        status,
        fields,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What the contract-level comparison found, beyond the problems themselves.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Each way the response breaks the contract, with the clause.
    pub problems: Vec<String>,
    /// The expected response says `Connection: close` and the received one does
    /// not: the connection must really close (RFC 9112 §9.6 allows either signal).
    pub needs_close: bool,
}

/// The statuses and close that `rooms` allow instead of `expected`'s status.
pub fn allows_close(rooms: &[Room]) -> bool {
    rooms
        .iter()
        .any(|r| matches!(r, Room::Status { close: true, .. }))
}

/// Judges `got` against the expected bytes (normalised form) and the rooms of its block.
/// `after_head`: the request was HEAD.
/// `also`: statuses a course file accepts besides, and the key that says so.
pub fn judge(
    expected: &[u8],
    rooms: &[Room],
    got: &Response,
    after_head: bool,
    also: Option<(&[u16], &str)>,
) -> Verdict {
    let mut v = Verdict::default();
    let Some(exp) = split_expected(expected) else {
        v.problems
            .push("the expected block is not a response (fix the transcript)".into());
        return v;
    };
    // Status, or one of the allowed alternatives.
    let mut allowed = vec![exp.status];
    let mut why = None;
    for room in rooms {
        if let Room::Status { codes, why: w, .. } = room {
            allowed.extend(codes);
            why = Some(w.as_str());
        }
    }
    if let Some((codes, key)) = also
        && !allowed.contains(&got.status)
    {
        allowed.extend(codes);
        why = Some(key);
    }
    if !allowed.contains(&got.status) {
        let list: Vec<String> = allowed.iter().map(u16::to_string).collect();
        let mut p = format!("status {}, expected {}", got.status, list.join(" or "));
        if let Some(w) = why {
            p.push_str(&format!(" ({w})"));
        }
        v.problems.push(p);
    }
    if got.version != "HTTP/1.1" {
        v.problems.push(format!(
            "version {}, expected HTTP/1.1 (RFC 9110 §6.2: a server sends its own version)",
            got.version
        ));
    }
    if let Some(bad) = bare_lf_line(&got.raw) {
        v.problems.push(format!(
            "head line {bad} ends in a bare LF (RFC 9112 §2.1: every line of the head ends in CRLF)"
        ));
    }
    let field_room = |name: &str| {
        rooms.iter().find_map(|r| match r {
            Room::Field {
                name: n,
                value,
                why,
                ..
            } if n.eq_ignore_ascii_case(name) => Some((value, why)),
            _ => None,
        })
    };
    // Judged only when the status is the expected one: other statuses have other fields.
    let same_status = got.status == exp.status;
    if same_status {
        for (name, value) in &exp.fields {
            // RFC 9110 §6.6.1 and §15.2: Date is a MAY in an interim response, and
            // the contract's fields are those of the final one.
            if got.is_interim() && ["date", "server"].contains(&name.to_ascii_lowercase().as_str())
            {
                continue;
            }
            let got_value = got
                .header(name)
                .map(|v| String::from_utf8_lossy(v).to_string());
            if let Some((rule, why)) = field_room(name) {
                match (rule, &got_value) {
                    (_, None) => v.problems.push(format!("no {name} field ({why})")),
                    (ValueRule::Any, Some(_)) => {}
                    (ValueRule::Pattern(p), Some(g)) => {
                        if !p.regex.is_match(g.as_bytes()) {
                            v.problems
                                .push(format!("{name}: {g:?} does not match {} ({why})", p.source));
                        }
                    }
                }
                continue;
            }
            if let Some(p) = check_field(name, value, got_value.as_deref(), got, after_head) {
                if p == NEEDS_CLOSE {
                    v.needs_close = true;
                } else {
                    v.problems.push(p);
                }
            }
        }
    }
    // RFC 9110 §8.6: no Content-Length in 1xx and 204.
    if (got.is_interim() || got.status == 204) && got.header("content-length").is_some() {
        v.problems.push(format!(
            "a {} has a Content-Length (RFC 9110 §8.6 forbids it)",
            got.status
        ));
    }
    if same_status && !after_head {
        let body_room = rooms.iter().find_map(|r| match r {
            Room::Body { rule, why } => Some((rule, why.as_str())),
            _ => None,
        });
        match body_room {
            None => {
                if got.body != exp.body {
                    v.problems.push(format!(
                        "body {:?}, expected exactly {:?}",
                        String::from_utf8_lossy(&got.body),
                        String::from_utf8_lossy(exp.body)
                    ));
                }
            }
            Some((rule, why)) => {
                if let Some(p) = check_body(rule, &got.body) {
                    v.problems.push(format!("{p} ({why})"));
                }
            }
        }
    }
    v
}

const NEEDS_CLOSE: &str = "\0needs close";

/// One expected field against the received value; `None` if it satisfies the contract.
fn check_field(
    name: &str,
    expected: &str,
    got: Option<&str>,
    response: &Response,
    after_head: bool,
) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if lower == "connection" && expected.eq_ignore_ascii_case("close") {
        let says_close =
            got.is_some_and(|g| g.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
        return (!says_close).then(|| NEEDS_CLOSE.to_string());
    }
    let Some(got) = got else {
        return Some(format!("no {name} field{}", required_by(&lower)));
    };
    match lower.as_str() {
        "date" => httpdate::parse_http_date(got).is_err().then(|| {
            format!("Date {got:?} is not an HTTP-date (RFC 9110 §5.6.7, e.g. Sun, 06 Nov 1994 08:49:37 GMT)")
        }),
        "server" => None,
        "content-length" => {
            if after_head {
                // RFC 9110 §9.3.2: HEAD answers the same fields as GET would.
                return (got != expected).then(|| {
                    format!("Content-Length {got} to HEAD, expected {expected} as GET's (RFC 9110 §9.3.2)")
                });
            }
            let actual = response.body.len();
            match response.framing {
                BodyFraming::Chunked => Some(
                    "a chunked body instead of Content-Length (CONTRACT: every response has Content-Length except 1xx and 204)"
                        .into(),
                ),
                _ => (got.parse::<usize>().ok() != Some(actual)).then(|| {
                    format!("Content-Length {got} but the body has {actual} bytes (RFC 9110 §8.6)")
                }),
            }
        }
        "content-type" => {
            let mut parts = got.split(';');
            let media = parts.next().unwrap_or("").trim();
            let charset_ok = parts.all(|p| match p.split_once('=') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => v
                    .trim()
                    .trim_matches('"')
                    .eq_ignore_ascii_case("utf-8"),
                _ => true,
            });
            (!media.eq_ignore_ascii_case("text/plain") || !charset_ok).then(|| {
                format!("Content-Type {got:?}, expected text/plain (charset, if any, utf-8) (CONTRACT Methods)")
            })
        }
        "www-authenticate" => {
            let basic = got
                .get(..5)
                .is_some_and(|s| s.eq_ignore_ascii_case("basic"));
            let realm = got.to_ascii_lowercase().contains("realm=");
            (!basic || !realm).then(|| {
                format!("WWW-Authenticate {got:?}, expected Basic with a realm (RFC 7617 §2)")
            })
        }
        "allow" => {
            let set = |s: &str| {
                let mut v: Vec<String> = s
                    .split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect();
                v.sort();
                v
            };
            (set(got) != set(expected)).then(|| {
                format!("Allow {got:?}, expected the methods {expected} in any order (RFC 9110 §10.2.1)")
            })
        }
        "retry-after" => {
            let ok = got.bytes().all(|b| b.is_ascii_digit()) && !got.is_empty()
                || httpdate::parse_http_date(got).is_ok();
            (!ok).then(|| {
                format!("Retry-After {got:?} is neither seconds nor an HTTP-date (RFC 9110 §10.2.3)")
            })
        }
        _ => (got != expected).then(|| format!("{name}: {got:?}, expected {expected:?}")),
    }
}

fn required_by(lower: &str) -> &'static str {
    match lower {
        "date" | "server" => " (CONTRACT: every response has Date and Server)",
        "content-length" => " (CONTRACT: every response has Content-Length except 1xx and 204)",
        "www-authenticate" => " (RFC 9110 §11.6.1: a 401 carries WWW-Authenticate)",
        "allow" => " (CONTRACT Methods: OPTIONS and 501 carry Allow)",
        "retry-after" => " (CONTRACT: 503 with Retry-After)",
        _ => "",
    }
}

/// `None` if `body` satisfies `rule`, else what is wrong with it.
pub fn check_body(rule: &BodyRule, body: &[u8]) -> Option<String> {
    let shown = String::from_utf8_lossy(body);
    match rule {
        BodyRule::Any => None,
        BodyRule::Pattern(p) => {
            (!p.regex.is_match(body)).then(|| format!("body {shown:?} does not match {}", p.source))
        }
        BodyRule::Message(pattern) => {
            let Some(line) = body.strip_suffix(b"\n") else {
                return Some(format!("body {shown:?} does not end in LF"));
            };
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return Some("body is an empty line, expected a message".into());
            }
            if line.iter().any(|&b| b < 0x20 || b == 0x7f) || std::str::from_utf8(line).is_err() {
                return Some(format!("body {shown:?} is not one line of text"));
            }
            if line.len() > 200 {
                return Some(format!(
                    "body is {} bytes, expected a short line",
                    line.len()
                ));
            }
            match pattern {
                Some(p) if !p.regex.is_match(line) => {
                    Some(format!("body {shown:?} does not match {}", p.source))
                }
                _ => None,
            }
        }
    }
}

/// The 1-based number of the first head line that ends in LF without CR.
fn bare_lf_line(raw: &[u8]) -> Option<usize> {
    let mut start = 0;
    for (n, i) in memchr::memchr_iter(b'\n', raw).enumerate() {
        if i == 0 || raw[i - 1] != b'\r' {
            return Some(n + 1);
        }
        if i == start + 1 {
            // A line that is only CRLF: the end of the head.
            return None;
        }
        start = i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ResponseReader;
    use crate::grading::suite::rooms::{MESSAGE_CLAUSE, Pattern};

    fn response(raw: &[u8], after_head: bool) -> Response {
        ResponseReader::new(raw)
            .read_response(after_head)
            .expect("a test response parses")
    }

    const EXPECTED_ADDED: &[u8] = b"HTTP/1.1 200 OK\r\nDate: [DATE]\r\nServer: [SERVER]\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\n\r\nadded hello\n";

    fn message() -> Vec<Room> {
        vec![Room::Body {
            rule: BodyRule::Message(None),
            why: MESSAGE_CLAUSE.into(),
        }]
    }

    fn problems(expected: &[u8], rooms: &[Room], raw: &[u8]) -> Vec<String> {
        judge(expected, rooms, &response(raw, false), false, None).problems
    }

    #[test]
    fn fields_in_another_order_and_case_with_other_wording_pass() {
        let raw = b"HTTP/1.1 200 Okay\r\ncontent-length: 7\r\nSERVER: py\r\ncontent-type: text/plain\r\nX-Extra: 1\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nAdded.\n";
        assert_eq!(
            problems(EXPECTED_ADDED, &message(), raw),
            Vec::<String>::new()
        );
    }

    #[test]
    fn without_a_body_room_the_body_is_exact() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nServer: py\r\nContent-Type: text/plain\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nAdded.\n";
        let p = problems(EXPECTED_ADDED, &[], raw);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("body \"Added.\\n\", expected exactly"),
            "{p:?}"
        );
    }

    #[test]
    fn a_wrong_status_missing_date_and_bare_lf_are_each_reported() {
        let raw = b"HTTP/1.1 201 Created\nServer: py\nContent-Length: 7\n\nAdded.\n";
        let p = problems(EXPECTED_ADDED, &message(), raw);
        assert!(p[0].starts_with("status 201, expected 200"), "{p:?}");
        assert!(p[1].contains("bare LF"), "{p:?}");
        // A different status skips the field and body checks: they belong to 200.
        assert_eq!(p.len(), 2, "{p:?}");
        let raw = b"HTTP/1.1 200 OK\r\nServer: py\r\nDate: yesterday\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nAdded.\n\r\n0\r\n\r\n";
        let p = problems(EXPECTED_ADDED, &message(), raw);
        assert!(p.iter().any(|p| p.contains("not an HTTP-date")), "{p:?}");
        assert!(
            p.iter().any(|p| p.contains("Content-Type \"text/html\"")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|p| p.starts_with("no Content-Length field")),
            "{p:?}"
        );
    }

    #[test]
    fn status_room_allows_the_listed_codes_only() {
        let rooms = vec![Room::Status {
            codes: vec![400],
            close: true,
            why: "RFC".into(),
        }];
        let exp = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n";
        let ok = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        assert!(problems(exp, &rooms, ok).is_empty());
        let bad = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            problems(exp, &rooms, bad),
            ["status 200, expected 413 or 400 (RFC)"]
        );
        assert!(allows_close(&rooms));
        assert!(!allows_close(&message()));
    }

    #[test]
    fn allow_is_a_set_and_must_hold_every_method() {
        let exp =
            b"HTTP/1.1 204 No Content\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n\r\n";
        let shuffled =
            b"HTTP/1.1 204 No Content\r\nAllow: OPTIONS,DELETE,PUT,POST,HEAD,GET\r\n\r\n";
        assert!(problems(exp, &[], shuffled).is_empty());
        let short = b"HTTP/1.1 204 No Content\r\nAllow: GET, POST\r\n\r\n";
        assert_eq!(problems(exp, &[], short).len(), 1);
        let with_length = b"HTTP/1.1 204 No Content\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let p = problems(exp, &[], with_length);
        assert!(p[0].contains("RFC 9110 §8.6"), "{p:?}");
    }

    #[test]
    fn www_authenticate_must_be_basic_with_a_realm() {
        let exp = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"wordwire\", charset=\"UTF-8\"\r\nContent-Length: 0\r\n\r\n";
        let ok = b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n";
        assert!(problems(exp, &[], ok).is_empty());
        for bad in [
            &b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"x\"\r\nContent-Length: 0\r\n\r\n"[..],
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
        ] {
            assert_eq!(problems(exp, &[], bad).len(), 1, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn connection_close_may_be_a_field_or_a_real_close() {
        let exp = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let said = response(b"HTTP/1.1 400 Bad Request\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", false);
        assert_eq!(judge(exp, &[], &said, false, None), Verdict::default());
        let silent = response(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        let v = judge(exp, &[], &silent, false, None);
        assert!(v.problems.is_empty() && v.needs_close);
    }

    #[test]
    fn head_content_length_is_gets_not_zero() {
        let exp = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n";
        let ok = response(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", true);
        assert!(judge(exp, &[], &ok, true, None).problems.is_empty());
        let zero = response(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true);
        assert_eq!(judge(exp, &[], &zero, true, None).problems.len(), 1);
    }

    #[test]
    fn field_rooms_any_and_pattern() {
        let exp =
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";
        let two =
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n";
        assert!(
            problems(exp, &[], two).is_empty(),
            "any delay-seconds by default"
        );
        let never =
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: soon\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(problems(exp, &[], never).len(), 1);
        let pattern = vec![Room::Field {
            name: "retry-after".into(),
            value: ValueRule::Pattern(Pattern::parse("/^[1-5]$/").unwrap()),
            why: "why".into(),
        }];
        assert!(problems(exp, &pattern, two).is_empty());
        let nine =
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 9\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(problems(exp, &pattern, nine).len(), 1);
        let any = vec![Room::Field {
            name: "Retry-After".into(),
            value: ValueRule::Any,
            why: "why".into(),
        }];
        assert!(problems(exp, &any, never).is_empty());
        let missing = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(problems(exp, &any, missing), ["no Retry-After field (why)"]);
    }

    #[test]
    fn a_message_is_one_line_of_text_ending_in_lf() {
        let rule = BodyRule::Message(None);
        assert_eq!(check_body(&rule, b"added hello\n"), None);
        assert_eq!(check_body(&rule, b"Added.\r\n"), None);
        for bad in [
            &b"added hello"[..],
            b"\n",
            b"two\nlines\n",
            b"bell\x07\n",
            b"\xff\xfe\n",
        ] {
            assert!(check_body(&rule, bad).is_some(), "{bad:?}");
        }
        assert!(check_body(&rule, &[b'a'; 300]).is_some());
        let counted = BodyRule::Message(Some(Pattern::parse(r"/\b2\b/").unwrap()));
        assert_eq!(check_body(&counted, b"replaced 2\n"), None);
        assert_eq!(check_body(&counted, b"2 replaced\n"), None);
        assert!(check_body(&counted, b"replaced 1\n").is_some());
        assert!(check_body(&counted, b"replaced 12\n").is_some());
    }

    #[test]
    fn patterns_need_their_slashes_and_must_compile() {
        assert!(Pattern::parse("/a+/").is_ok());
        assert!(Pattern::parse("a+").is_err());
        assert!(Pattern::parse("/").is_err());
        assert!(Pattern::parse("/(/").is_err());
        assert!(
            check_body(
                &BodyRule::Pattern(Pattern::parse("/^ok$/").unwrap()),
                b"not ok"
            )
            .is_some()
        );
        assert_eq!(check_body(&BodyRule::Any, b"\x00anything"), None);
    }
}
