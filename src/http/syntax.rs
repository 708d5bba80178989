//! The grammar that request heads, chunked bodies and trailers share (RFC 9110 §5).
//!
//! Here: `tchar` and `token`, OWS, field-value bytes, lists, and the field-line rule.
//! Elsewhere: lines and limits (`http::request`, `http::body`), what fields mean (`http::fields`).

use nom::IResult;
use nom::bytes::complete::take_while1;

use super::ParseError;

/// Which bytes are `tchar` (RFC 9110 §5.6.2), as a table so a name costs one lookup per byte.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// `tchar` (RFC 9110 §5.6.2).
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `OWS = *( SP / HTAB )` (RFC 9110 §5.6.3).
#[inline]
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `field-vchar / SP / HTAB` (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB.
#[inline]
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

/// `token = 1*tchar` (RFC 9110 §5.6.2).
pub(crate) fn token(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(is_tchar)(input)
}

/// Removes leading and trailing OWS.
#[inline]
pub(crate) fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b, tail @ ..] = value
        && is_ows(*b)
    {
        value = tail;
    }
    trim_trailing_ows(value)
}

/// Removes trailing OWS.
#[inline]
pub(crate) fn trim_trailing_ows(mut value: &[u8]) -> &[u8] {
    while let [head @ .., b] = value
        && is_ows(*b)
    {
        value = head;
    }
    value
}

/// The members of a comma-separated list (RFC 9110 §5.6.1), each trimmed of OWS.
#[inline]
pub(crate) fn list_members(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5), one line
/// without its terminator. Returns the name and the value trimmed of OWS.
#[inline]
pub(crate) fn parse_field_line(line: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    // RFC 9112 §5.2: obs-fold (a line starting with SP or HTAB) is rejected.
    if line.first().is_some_and(|&b| is_ows(b)) {
        return Err(ParseError::ObsoleteLineFolding);
    }
    let name_len = line
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(line.len());
    if name_len == 0 {
        return Err(ParseError::InvalidFieldName);
    }
    let (name, after_name) = line.split_at(name_len);
    let space = after_name
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(after_name.len());
    let Some((b':', value)) = after_name[space..].split_first() else {
        return Err(ParseError::InvalidFieldName);
    };
    // RFC 9112 §5.1: no whitespace is allowed between the field name and colon.
    if space > 0 {
        return Err(ParseError::WhitespaceBeforeColon);
    }
    // RFC 9110 §5.5: CR, LF, NUL and other controls are invalid in a value.
    if !value.iter().all(|&b| is_field_value_byte(b)) {
        return Err(ParseError::InvalidFieldValue);
    }
    Ok((name, trim_ows(value)))
}

/// How many bytes at the start of `input` are field-value bytes (`is_field_value_byte`).
#[inline]
pub(crate) fn field_value_len(input: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let mut at = 0;
    // Eight bytes at a time; a word's first control byte (below 0x20, or DEL) ends
    // the value unless it is HTAB. Fewer than eight bytes left: the byte loop below.
    while let Some(chunk) = input.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("a slice of 8 bytes"));
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let del = word ^ (ONES * 0x7F);
        let has_del = del.wrapping_sub(ONES) & !del & HIGHS;
        let flagged = below_space | has_del;
        if flagged != 0 {
            // A borrow can flag bytes after a control byte, never before one, so the
            // lowest flagged byte is the first control byte of the word.
            at += flagged.trailing_zeros() as usize / 8;
            // HTAB is the one control byte a value may hold: go on after it.
            if input[at] != b'\t' {
                return at;
            }
            at += 1;
            continue;
        }
        at += 8;
    }
    at + input[at..]
        .iter()
        .position(|&b| !is_field_value_byte(b))
        .unwrap_or(input.len() - at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn field_value_len_counts_the_same_bytes_as_a_byte_loop(
            input in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'\t'), Just(b'\r'), Just(0x7F), Just(b'a')],
                0..40,
            ),
        ) {
            let expected = input
                .iter()
                .position(|&b| !is_field_value_byte(b))
                .unwrap_or(input.len());
            prop_assert_eq!(field_value_len(&input), expected);
        }
    }
}
