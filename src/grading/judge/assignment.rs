//! Assignment-level judging: does a response do what the assignment's table asks?
//!
//! Here: the status (the expected one, a `~ status` alternative, or one the course file
//! accepts for it), and the body by meaning: a message body (a block with a `~ body`
//! room) may say anything in any wording; a body that is the data (GET's: no `~ body`
//! room) must be the data file's bytes, or its words for `[store] format = "words"`.
//! No field is judged (`Date`, `Server`, `Content-Type`, keep-alive are the contract's),
//! nor the version or line ends beyond what reading the response needs.
//! Elsewhere: the contract-level judge (`judge::contract`), the data file after each
//! write (`grading::play`'s `expect-store`).

use super::Expected;
use super::contract::split_expected;
use crate::client::Response;
use crate::grading::suite::rooms::Room;

/// `None` if `got` does what the assignment asks of the response `expected`
/// describes; otherwise what the server did instead, in words.
pub fn judge(expected: Expected<'_>, got: &Response) -> Option<String> {
    let Some(exp) = split_expected(expected.bytes) else {
        return Some("the expected block is not a response (fix the transcript)".into());
    };
    let mut allowed = vec![exp.status];
    let mut why = None;
    for room in expected.rooms {
        if let Room::Status { codes, why: w, .. } = room {
            allowed.extend(codes);
            why = Some(w.clone());
        }
    }
    if let Some((codes, key)) = expected.also {
        allowed.extend(codes);
        why = Some(format!("the course's {key}"));
    }
    if !allowed.contains(&got.status) {
        let list: Vec<String> = allowed.iter().map(u16::to_string).collect();
        let mut p = format!(
            "your server answered {}, the assignment asks {}",
            got.status,
            list.join(" or ")
        );
        if let Some(w) = why {
            p.push_str(&format!(" ({w})"));
        }
        if let Some(note) = what_it_meant(got.status, exp.status, &got.body) {
            p.push_str(&format!(": {note}"));
        }
        return Some(p);
    }
    if got.status != exp.status || expected.after_head || got.is_interim() {
        return None;
    }
    let message = expected
        .rooms
        .iter()
        .any(|r| matches!(r, Room::Body { .. }));
    if message || exp.body.is_empty() && got.body.is_empty() {
        // Any wording: the assignment gives no text for its answers.
        return None;
    }
    let same = if expected.words {
        words(exp.body) == words(&got.body)
    } else {
        exp.body == got.body.as_slice()
    };
    (!same).then(|| {
        let how = if expected.words {
            "its words"
        } else {
            "byte for byte, one word per line"
        };
        format!(
            "the body is not the data file ({how}): expected {:?}, your server sent {:?}",
            String::from_utf8_lossy(exp.body),
            String::from_utf8_lossy(&got.body)
        )
    })
}

/// What the assignment expects of a response, as shown beside what arrived: the
/// status line, then the data the body must be, or that any message will do; fields are
/// not shown, since none is judged.
pub fn shown(expected: &[u8], rooms: &[Room]) -> Vec<String> {
    let Some(exp) = split_expected(expected) else {
        return crate::escape::render_lines(expected, '<');
    };
    let status_line = expected
        .split_inclusive(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let mut lines = crate::escape::render_lines(status_line, '<');
    lines.push("! any fields (the assignment asks for none)".to_string());
    if rooms.iter().any(|r| matches!(r, Room::Body { .. })) {
        lines.push("! any body (a message in any wording)".to_string());
    } else if !exp.body.is_empty() {
        lines.extend(crate::escape::render_lines(exp.body, '<'));
    }
    lines
}

/// The words of `bytes`, split on any whitespace.
pub fn words(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A sentence on what a wrong status probably means, when one can be said.
fn what_it_meant(got: u16, expected: u16, body: &[u8]) -> Option<String> {
    let said = String::from_utf8_lossy(body);
    let said = said.trim();
    let quoted = if said.is_empty() || said.len() > 120 {
        String::new()
    } else {
        format!(" (it said {said:?})")
    };
    match (got, expected) {
        (400, 200 | 401 | 404) => Some(format!(
            "it refused a request the assignment treats as valid{quoted}"
        )),
        (200, 401) => Some(format!(
            "it served the request without the credentials the assignment requires{quoted}"
        )),
        (200, 400) => Some(format!(
            "it accepted what the assignment says to refuse{quoted}"
        )),
        (_, 200) => Some(format!("it refused a valid request{quoted}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ResponseReader;

    fn response(raw: &[u8]) -> Response {
        ResponseReader::new(raw).read_response(false).unwrap()
    }

    fn judged(expected: &[u8], rooms: &[Room], words: bool, raw: &[u8]) -> Option<String> {
        let e = Expected {
            bytes: expected,
            body_line: None,
            rooms,
            after_head: false,
            rendered: &[],
            also: Some((&[501], "[statuses] server-error")),
            words,
        };
        judge(e, &response(raw))
    }

    const GET: &[u8] =
        b"HTTP/1.1 200 OK\r\nDate: [DATE]\r\nContent-Length: 11\r\n\r\nalpha\nbeta\n";

    #[test]
    fn the_data_is_judged_by_bytes_or_by_words_and_no_field_is() {
        let lf = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nalpha\nbeta\n";
        let spaces = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nalpha beta";
        assert_eq!(judged(GET, &[], false, lf), None);
        let p = judged(GET, &[], false, spaces).unwrap();
        assert!(p.starts_with("the body is not the data file"), "{p}");
        assert_eq!(judged(GET, &[], true, spaces), None);
    }

    #[test]
    fn a_course_status_is_accepted_and_a_wrong_one_says_what_the_server_did() {
        let e500 = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nx\n";
        let got501 = b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 5\r\n\r\noops\n";
        assert_eq!(judged(e500, &[], false, got501), None);
        let got400 =
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 26\r\n\r\nContent-Type is required\n\n";
        let p = judged(GET, &[], false, got400).unwrap();
        assert!(
            p.starts_with("your server answered 400, the assignment asks 200"),
            "{p}"
        );
        assert!(p.contains("Content-Type is required"), "{p}");
    }
}
