//! The escaped form of bytes that transcripts and the wire trace both show.
//!
//! Here: rendering bytes as `<sigil> data` lines in which every CR, LF and TAB is
//! visible (`render_lines`), and reading the escapes back (`unescape`).
//! Elsewhere: the transcript grammar that uses them (`grading::suite`), the wire
//! trace (`trace`). This module sits below both and imports neither.

use std::fmt::Write as _;

/// Decodes the escapes `\r` `\n` `\t` `\\` `\xHH`; every other character stands for itself.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = text
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("`\\x` needs two hex digits at column {}", i + 1))?;
                out.push(hex);
                i += 4;
                continue;
            }
            _ => {
                return Err(format!(
                    "unknown escape at column {}: use \\r \\n \\t \\\\ or \\xHH",
                    i + 1
                ));
            }
        }
        i += 2;
    }
    Ok(out)
}

/// Renders bytes as `<sigil> data` lines: a line break after every LF, every CR, LF
/// and TAB written as an escape, other control and non-ASCII bytes as `\xHH`, and a
/// space at the very end of a line as `\x20` (so no editor can trim it).
pub fn render_lines(bytes: &[u8], sigil: char) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for &b in bytes {
        match b {
            b'\r' => current.push_str("\\r"),
            b'\n' => {
                current.push_str("\\n");
                lines.push(std::mem::take(&mut current));
            }
            b'\t' => current.push_str("\\t"),
            b'\\' => current.push_str("\\\\"),
            0x20..=0x7e => current.push(b as char),
            _ => {
                let _ = write!(current, "\\x{b:02X}");
            }
        }
    }
    if !current.is_empty() {
        if current.ends_with(' ') {
            current.pop();
            current.push_str("\\x20");
        }
        lines.push(current);
    }
    lines.into_iter().map(|l| format!("{sigil} {l}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cr_and_lf_are_visible_and_distinct() {
        assert_eq!(
            render_lines(b"a\r\nb\nc", '<'),
            ["< a\\r\\n", "< b\\n", "< c"]
        );
    }
}
