//! The escaped form of bytes that transcripts and the wire trace both show.
//!
//! Here: rendering bytes as `<sigil> data` lines in which every CR, LF and TAB is
//! visible (`render_lines`), and reading the escapes back (`unescape`); text
//! from a peer made safe to print (`for_terminal`) and a file name's raw bytes
//! as text (`name_bytes`).
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

/// Whether `for_terminal` keeps line breaks (a block of lines) or escapes them too (one line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Keep,
    Escape,
}

/// `text` with every character a terminal could act on written as an escape: the C0
/// controls (`\r`, `\t`, ESC as `\x1B`, ...; LF kept with `Lines::Keep`), DEL, the C1
/// controls (`\u{9B}` is a CSI to some terminals) and the bidirectional overrides
/// and isolates (which reorder what is shown). Text from a submission goes through
/// it before it reaches a terminal or a report, so that `\r` or an ESC sequence
/// cannot draw a fake "ALL PASSED", and an OSC 52 sequence cannot write the clipboard.
/// Backslashes are left as they are: the result is for reading, not for unescaping.
pub fn for_terminal(text: &str, lines: Lines) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && !(c == '\n' && lines == Lines::Keep))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            _ if !unsafe_char(c) => out.push(c),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0'..='\x7f' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            _ => {
                let _ = write!(out, "\\u{{{:X}}}", c as u32);
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A file name's raw bytes as printable text: UTF-8 as it is, each byte of an
/// invalid sequence as `\xHH`, and controls escaped as `for_terminal` does. Two
/// different names can come out alike (`a\x01` the four characters, and `a` then
/// byte 1): a caller that needs unique names makes them so.
pub fn name_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&for_terminal(chunk.valid(), Lines::Escape));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fake_pass_a_clipboard_write_and_bidi_overrides_show_as_escapes() {
        let fake = "0%\r\x1b[2K\x1b[32mALL PASSED\x1b[0m";
        assert_eq!(
            for_terminal(fake, Lines::Escape),
            "0%\\r\\x1B[2K\\x1B[32mALL PASSED\\x1B[0m"
        );
        let osc52 = "\x1b]52;c;cm0gLXJmIH4K\x07";
        assert_eq!(
            for_terminal(osc52, Lines::Keep),
            "\\x1B]52;c;cm0gLXJmIH4K\\x07"
        );
        assert_eq!(
            for_terminal("a\u{9b}2J\u{202E}b", Lines::Escape),
            "a\\u{9B}2J\\u{202E}b"
        );
        assert_eq!(for_terminal("one\ntwo\x7f", Lines::Keep), "one\ntwo\\x7F");
        assert_eq!(for_terminal("one\ntwo", Lines::Escape), "one\\ntwo");
        // Printable text, accents included, is borrowed as it is.
        assert!(matches!(
            for_terminal("élève 100%", Lines::Escape),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_name_keeps_its_utf8_and_shows_invalid_bytes_and_controls() {
        assert_eq!(name_bytes("élève".as_bytes()), "élève");
        assert_eq!(name_bytes(b"bob\xff\xfe"), "bob\\xFF\\xFE");
        assert_eq!(name_bytes(b"eve\x1b[31m"), "eve\\x1B[31m");
    }

    #[test]
    fn cr_and_lf_are_visible_and_distinct() {
        assert_eq!(
            render_lines(b"a\r\nb\nc", '<'),
            ["< a\\r\\n", "< b\\n", "< c"]
        );
    }
}
