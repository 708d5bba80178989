//! Decodes request bodies incrementally, either framing: `Content-Length` and
//! chunked (RFC 9112 §6.3, §7.1).
//!
//! Here: the chunked grammar (chunk-size, chunk extensions, chunk data, trailer
//! section), strict CRLF inside it, and the body and trailer limits.
//! Elsewhere: choosing the framing from the head (`http::fields`), reading the
//! socket and holding the buffer (`server::conn`).

use nom::branch::alt;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::char;
use nom::combinator::{all_consuming, opt};
use nom::multi::many0_count;
use nom::{IResult, Parser};

use super::syntax::{is_field_value_byte, is_ows, parse_field_line, token};
use super::{Framing, HeadLimits, ParseError, Progress};

/// Where the decoder is in the body between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a `Content-Length` body (`chunked: false`) or chunk data, with this
    /// many bytes still to come.
    Data { remaining: u64, chunked: bool },
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last-chunk, reading trailer field lines; `section` bytes of them so far.
    Trailer { section: usize },
    /// The body is complete.
    Done,
}

/// An incremental decoder for one request body, of either framing.
///
/// A `Content-Length` body is its next that many bytes. A chunked body:
///
/// ```text
/// chunked-body   = *chunk last-chunk trailer-section CRLF
/// chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// chunk-size     = 1*HEXDIG
/// last-chunk     = 1*("0") [ chunk-ext ] CRLF
/// chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-name = token
/// chunk-ext-val  = token / quoted-string
/// trailer-section = *( field-line CRLF )
/// ```
///
/// Only CRLF ends a line here: unlike the head, a bare LF is an error, because
/// lenient chunk parsing is a known request-smuggling vector. Extensions are
/// checked and ignored; trailer fields are checked and discarded.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    /// Chunk data bytes decoded so far.
    decoded: u64,
    max_line: usize,
    max_header_bytes: usize,
    max_body: u64,
}

/// What one `BodyDecoder::decode` call found at the start of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPart<'a> {
    /// Body bytes (none if the input held only framing); more of the body follows.
    Data(&'a [u8]),
    /// The body is complete.
    End,
}

impl BodyDecoder {
    /// A decoder at the start of a body framed by `framing` (`None` is an empty
    /// body). In a chunked body a chunk-size line longer than `max_line` is 400,
    /// a trailer section larger than `max_header_bytes` is 431, and more than
    /// `max_body` bytes of chunk data in total is 413; a `Content-Length` was
    /// already checked against `max_body` by the head's parser.
    pub fn new(framing: Framing, limits: &HeadLimits) -> BodyDecoder {
        let state = match framing {
            Framing::None | Framing::Length(0) => State::Done,
            Framing::Length(remaining) => State::Data {
                remaining,
                chunked: false,
            },
            Framing::Chunked => State::Size,
        };
        BodyDecoder {
            state,
            decoded: 0,
            max_line: limits.max_line,
            max_header_bytes: limits.max_header_bytes,
            max_body: limits.max_body,
        }
    }

    /// Decodes from the start of `input`, the bytes received and not yet used.
    ///
    /// `Done` gives the next piece of the body (`Data`: body bytes as they arrive,
    /// with the framing before them; `End`: the framing that ends the body) and how
    /// many bytes of `input` it used; call again with the rest. `NeedMore`: `input`
    /// is a valid start of an unfinished line, or empty; call again with it and
    /// more bytes. After `End`, further calls give `End` and use nothing. After an
    /// error the body is unusable and the connection must close.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Progress<BodyPart<'a>>, ParseError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => {
                    return Ok(Progress::Done {
                        value: BodyPart::End,
                        consumed: pos,
                    });
                }
                State::Size => {
                    let Some((line, used)) =
                        crlf_line(rest, self.max_line, ParseError::ChunkLineTooLong)?
                    else {
                        break;
                    };
                    let size = parse_chunk_size_line(line)?;
                    if size > self.max_body.saturating_sub(self.decoded) {
                        return Err(ParseError::BodyTooLarge);
                    }
                    pos += used;
                    self.state = match size {
                        0 => State::Trailer { section: 0 },
                        remaining => State::Data {
                            remaining,
                            chunked: true,
                        },
                    };
                }
                State::Data { remaining, chunked } => {
                    if rest.is_empty() {
                        break;
                    }
                    let take = usize::try_from(remaining).map_or(rest.len(), |r| r.min(rest.len()));
                    // take <= remaining, which is a u64.
                    let left = remaining - take as u64;
                    self.decoded += take as u64;
                    self.state = match (left, chunked) {
                        (0, true) => State::DataEnd,
                        (0, false) => State::Done,
                        (remaining, chunked) => State::Data { remaining, chunked },
                    };
                    return Ok(Progress::Done {
                        value: BodyPart::Data(&rest[..take]),
                        consumed: pos + take,
                    });
                }
                State::DataEnd => match rest {
                    [] | [b'\r'] => break,
                    // RFC 9112 §7.1: chunk-data is followed by CRLF.
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.state = State::Size;
                    }
                    _ => return Err(ParseError::ChunkDataNotTerminated),
                },
                State::Trailer { section } => {
                    let budget = self.max_header_bytes.saturating_sub(section + 2);
                    let Some((line, used)) =
                        crlf_line(rest, budget, ParseError::HeaderSectionTooLarge)?
                    else {
                        break;
                    };
                    if section + used > self.max_header_bytes {
                        return Err(ParseError::HeaderSectionTooLarge);
                    }
                    pos += used;
                    if line.is_empty() {
                        self.state = State::Done;
                        continue;
                    }
                    // RFC 9112 §7.1.2: trailer fields use the field-line grammar; wordwire discards them.
                    parse_field_line(line).map_err(|_| ParseError::InvalidTrailer)?;
                    self.state = State::Trailer {
                        section: section + used,
                    };
                }
            }
        }
        // Out of bytes within the framing: what it used so far is a piece without data.
        Ok(match pos {
            0 => Progress::NeedMore,
            consumed => Progress::Done {
                value: BodyPart::Data(&[]),
                consumed,
            },
        })
    }

    /// `decode` until `input` runs out or the body ends, for a caller that wants
    /// the body whole: appends the body bytes to `body`, and returns how many
    /// bytes of `input` were used (drop them; keep the rest for the next call or
    /// the next request) and whether the body ended.
    pub fn decode_into(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
    ) -> Result<(usize, bool), ParseError> {
        let mut used = 0;
        loop {
            match self.decode(&input[used..])? {
                Progress::Done {
                    value: BodyPart::Data(data),
                    consumed,
                } => {
                    body.extend_from_slice(data);
                    used += consumed;
                }
                Progress::Done { consumed, .. } => return Ok((used + consumed, true)),
                Progress::NeedMore => return Ok((used, false)),
            }
        }
    }
}

/// Finds a CRLF-terminated line at the start of `input`: its content and the
/// bytes it uses with the CRLF, or `None` if the CRLF has not arrived yet.
/// Content longer than `max_content` is `too_long`, as soon as it is seen.
fn crlf_line(
    input: &[u8],
    max_content: usize,
    too_long: ParseError,
) -> Result<Option<(&[u8], usize)>, ParseError> {
    for (i, &b) in input.iter().enumerate() {
        match b {
            b'\r' => {
                return match input.get(i + 1) {
                    Some(b'\n') => Ok(Some((&input[..i], i + 2))),
                    Some(_) => Err(ParseError::BareCr),
                    None => Ok(None),
                };
            }
            // Contract: inside chunked framing only CRLF ends a line (smuggling rule).
            b'\n' => return Err(ParseError::MissingChunkCrlf),
            _ if i >= max_content => return Err(too_long),
            _ => {}
        }
    }
    Ok(None)
}

/// Parses a chunk-size line without its CRLF and returns the chunk-size.
fn parse_chunk_size_line(line: &[u8]) -> Result<u64, ParseError> {
    let parsed: IResult<&[u8], &[u8]> = take_while1(|b: u8| b.is_ascii_hexdigit())(line);
    let Ok((extensions, digits)) = parsed else {
        return Err(ParseError::InvalidChunkSize);
    };
    let size = hex_value(digits).ok_or(ParseError::ChunkSizeOverflow)?;
    if all_consuming(many0_count(chunk_ext))
        .parse(extensions)
        .is_err()
    {
        let starts_extension = extensions.iter().find(|&&b| !is_ows(b)) == Some(&b';');
        return Err(if starts_extension {
            ParseError::InvalidChunkExtension
        } else {
            ParseError::InvalidChunkSize
        });
    }
    Ok(size)
}

/// The value of 1*HEXDIG, or `None` if it does not fit in a `u64`.
fn hex_value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &d| {
        let digit = char::from(d).to_digit(16)?;
        value.checked_mul(16)?.checked_add(u64::from(digit))
    })
}

/// One `BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ]` (RFC 9112 §7.1.1).
fn chunk_ext(input: &[u8]) -> IResult<&[u8], ()> {
    let bws = || take_while(is_ows);
    let (rest, _) = (
        bws(),
        char(';'),
        bws(),
        token,
        opt((bws(), char('='), bws(), alt((token, quoted_string)))),
    )
        .parse(input)?;
    Ok((rest, ()))
}

/// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE` (RFC 9110 §5.6.4).
fn quoted_string(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let (mut rest, _) = char('"')(input)?;
    loop {
        match rest {
            [b'"', tail @ ..] => return Ok((tail, &input[..input.len() - tail.len()])),
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            [b'\\', quoted, tail @ ..] if is_field_value_byte(*quoted) => rest = tail,
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            [b, tail @ ..] if *b != b'"' && *b != b'\\' && is_field_value_byte(*b) => rest = tail,
            _ => {
                return Err(nom::Err::Error(nom::error::Error::new(
                    rest,
                    nom::error::ErrorKind::Char,
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_line: 64,
        max_header_bytes: 64,
        max_body: 64,
    };

    /// What decoding gave: the body, the input bytes used, and whether the body is complete.
    type Outcome = Result<(Vec<u8>, usize, bool), ParseError>;

    /// Feeds `pieces` the way the connection loop does: append each piece to a
    /// buffer, decode, drop what was used, and go on until the body is done.
    fn decode_pieces<'a>(
        pieces: impl IntoIterator<Item = &'a [u8]>,
        limits: &HeadLimits,
    ) -> Outcome {
        let mut decoder = BodyDecoder::new(Framing::Chunked, limits);
        let mut buffer = Vec::new();
        let mut body = Vec::new();
        let mut used = 0;
        for piece in pieces {
            buffer.extend_from_slice(piece);
            let (consumed, done) = decoder.decode_into(&buffer, &mut body)?;
            buffer.drain(..consumed);
            used += consumed;
            if done {
                return Ok((body, used, true));
            }
        }
        Ok((body, used, false))
    }

    fn decode_whole(input: &[u8], limits: &HeadLimits) -> Outcome {
        decode_pieces([input], limits)
    }

    /// `input` decodes to `body` using all of it: whole, one byte at a time and
    /// split at every point; each proper prefix is valid but not done.
    fn assert_decodes(input: &[u8], body: &[u8]) {
        assert_decodes_with(input, &LIMITS, body);
    }

    fn assert_decodes_with(input: &[u8], limits: &HeadLimits, body: &[u8]) {
        let expected = Ok((body.to_vec(), input.len(), true));
        assert_eq!(decode_whole(input, limits), expected, "whole");
        assert_eq!(decode_pieces(input.chunks(1), limits), expected, "bytewise");
        for split in 0..input.len() {
            let (head, tail) = input.split_at(split);
            assert_eq!(
                decode_pieces([head, tail], limits),
                expected,
                "split {split}"
            );
            match decode_whole(head, limits) {
                Ok((_, _, false)) => {}
                other => panic!("prefix {split} gave {other:?}"),
            }
        }
    }

    /// `input` is rejected with `expected`, whole and one byte at a time; each
    /// prefix is either still valid or already rejected the same way.
    fn assert_rejects(input: &[u8], expected: ParseError, status: u16) {
        assert_rejects_with(input, &LIMITS, expected, status);
    }

    fn assert_rejects_with(input: &[u8], limits: &HeadLimits, expected: ParseError, status: u16) {
        assert_eq!(expected.status(), status);
        assert_eq!(
            decode_whole(input, limits),
            Err(expected.clone()),
            "{input:?}"
        );
        assert_eq!(
            decode_pieces(input.chunks(1), limits),
            Err(expected.clone()),
            "bytewise {input:?}"
        );
        for split in 0..input.len() {
            match decode_whole(&input[..split], limits) {
                Ok((_, _, false)) => {}
                Err(e) if e == expected => {}
                other => panic!("prefix {split} of {input:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn single_chunk_decodes() {
        assert_decodes(b"5\r\nhello\r\n0\r\n\r\n", b"hello");
    }

    #[test]
    fn empty_body_is_just_the_last_chunk() {
        assert_decodes(b"0\r\n\r\n", b"");
    }

    #[test]
    fn several_chunks_with_hex_sizes_decode() {
        assert_decodes(
            b"3\r\nabc\r\nA\r\n0123456789\r\n1f\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n",
            b"abc01234567890123456789abcdef0123456789abcde",
        );
    }

    #[test]
    fn leading_zeros_in_chunk_size_are_accepted() {
        assert_decodes(b"0005\r\nhello\r\n000\r\n\r\n", b"hello");
    }

    #[test]
    fn chunk_extensions_are_ignored() {
        assert_decodes(
            b"5;name=value\r\nhello\r\n3 ; a = \"q \\\" s\" ;b\r\nabc\r\n0;last\r\n\r\n",
            b"helloabc",
        );
    }

    #[test]
    fn trailer_fields_are_discarded() {
        assert_decodes(
            b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nExpires:never \r\n\r\n",
            b"hello",
        );
    }

    #[test]
    fn body_of_exactly_max_body_is_accepted() {
        let limits = HeadLimits {
            max_body: 8,
            ..LIMITS
        };
        assert_decodes_with(b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", &limits, b"helloabc");
    }

    #[test]
    fn bytes_after_the_body_are_left_for_the_next_request() {
        let mut decoder = BodyDecoder::new(Framing::Chunked, &LIMITS);
        let mut body = Vec::new();
        let input = b"2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        assert_eq!(decoder.decode_into(input, &mut body), Ok((12, true)));
        assert_eq!(&input[12..], b"GET / HTTP/1.1\r\n");
        assert_eq!(
            decoder.decode(&input[12..]),
            Ok(Progress::Done {
                value: BodyPart::End,
                consumed: 0
            })
        );
        assert_eq!(body, b"hi");
    }

    #[test]
    fn chunk_data_is_handed_out_as_it_arrives() {
        let mut decoder = BodyDecoder::new(Framing::Chunked, &LIMITS);
        assert_eq!(
            decoder.decode(b"5\r\nhel"),
            Ok(Progress::Done {
                value: BodyPart::Data(b"hel"),
                consumed: 6
            })
        );
        assert_eq!(decoder.decode(b""), Ok(Progress::NeedMore));
        assert_eq!(
            decoder.decode(b"lo\r\n"),
            Ok(Progress::Done {
                value: BodyPart::Data(b"lo"),
                consumed: 2
            })
        );
        // The CRLF after the data, then a chunk-size line still without its CRLF.
        assert_eq!(
            decoder.decode(b"\r\n0\r"),
            Ok(Progress::Done {
                value: BodyPart::Data(b""),
                consumed: 2
            })
        );
        assert_eq!(decoder.decode(b"0\r"), Ok(Progress::NeedMore));
    }

    #[test]
    fn a_content_length_body_is_its_next_bytes_however_they_arrive() {
        let mut decoder = BodyDecoder::new(Framing::Length(5), &LIMITS);
        assert_eq!(decoder.decode(b""), Ok(Progress::NeedMore));
        assert_eq!(
            decoder.decode(b"hel"),
            Ok(Progress::Done {
                value: BodyPart::Data(b"hel"),
                consumed: 3
            })
        );
        let mut body = b"hel".to_vec();
        let input = b"loGET / HTTP/1.1\r\n";
        assert_eq!(decoder.decode_into(input, &mut body), Ok((2, true)));
        assert_eq!(body, b"hello");
        for empty in [Framing::None, Framing::Length(0)] {
            assert_eq!(
                BodyDecoder::new(empty, &LIMITS).decode(b"GET"),
                Ok(Progress::Done {
                    value: BodyPart::End,
                    consumed: 0
                })
            );
        }
    }

    #[test]
    fn invalid_chunk_sizes_are_400() {
        for input in [
            &b"zz\r\n"[..],
            b"5x\r\nhello\r\n0\r\n\r\n",
            b"\r\n",
            b" 5\r\nhello\r\n",
            b"-5\r\n",
            b"5 \r\nhello\r\n",
            b"0x5\r\n",
        ] {
            assert_rejects(input, ParseError::InvalidChunkSize, 400);
        }
    }

    #[test]
    fn chunk_size_over_u64_is_400() {
        assert_rejects(b"10000000000000000\r\n", ParseError::ChunkSizeOverflow, 400);
    }

    #[test]
    fn malformed_chunk_extensions_are_400() {
        for input in [
            &b"5;\r\nhello\r\n"[..],
            b"5;=x\r\nhello\r\n",
            b"5;a=\r\nhello\r\n",
            b"5;a=\"unterminated\r\nhello\r\n",
            b"5;a=b c\r\nhello\r\n",
            b"5;a=\"x\x01\"\r\nhello\r\n",
            b"5;a;\r\nhello\r\n",
        ] {
            assert_rejects(input, ParseError::InvalidChunkExtension, 400);
        }
    }

    #[test]
    fn chunk_size_line_longer_than_max_line_is_400_before_it_ends() {
        let limits = HeadLimits {
            max_line: 8,
            ..LIMITS
        };
        assert_decodes_with(b"5;a=1234\r\nhello\r\n0\r\n\r\n", &limits, b"hello");
        assert_rejects_with(
            b"5;a=12345\r\nhello\r\n0\r\n\r\n",
            &limits,
            ParseError::ChunkLineTooLong,
            400,
        );
        assert_eq!(
            decode_whole(b"5;a=12345", &limits),
            Err(ParseError::ChunkLineTooLong)
        );
    }

    #[test]
    fn lines_not_ended_by_crlf_are_400() {
        for input in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhello\r\n0\n\r\n",
            b"0\r\n\n",
            b"0\r\nX: y\n\r\n",
        ] {
            assert_rejects(input, ParseError::MissingChunkCrlf, 400);
        }
    }

    #[test]
    fn bare_cr_in_chunked_framing_is_400() {
        assert_rejects(b"5\rhello\r\n", ParseError::BareCr, 400);
        assert_rejects(b"0\r\nX: a\rb\r\n\r\n", ParseError::BareCr, 400);
        assert_rejects(b"5\r\nhello\rx", ParseError::ChunkDataNotTerminated, 400);
    }

    #[test]
    fn chunk_data_not_followed_by_crlf_asks_about_its_size() {
        // Said "chunked framing requires crlf line endings", which sent the sender looking
        // at line ends when the chunk-size was wrong.
        for input in [
            &b"5\r\nhelloX\r\n0\r\n\r\n"[..], // longer than its size
            b"5\r\nhell\r\n0\r\n\r\n",        // shorter: the CR LF is taken as data
            b"5\r\nhello\n0\r\n\r\n",         // a bare LF after the data
        ] {
            assert_rejects(input, ParseError::ChunkDataNotTerminated, 400);
        }
    }

    #[test]
    fn malformed_trailer_fields_are_400() {
        for input in [
            &b"0\r\nBad Name: x\r\n\r\n"[..],
            b"0\r\nX-A : x\r\n\r\n",
            b"0\r\n folded\r\n\r\n",
            b"0\r\nX-A: \x00\r\n\r\n",
            b"0\r\nNoColon\r\n\r\n",
        ] {
            assert_rejects(input, ParseError::InvalidTrailer, 400);
        }
    }

    #[test]
    fn trailer_section_over_max_header_bytes_is_431() {
        // "X-A: 12345\r\n" (12) + "\r\n" (2) = 14 bytes of trailer section.
        let fits = HeadLimits {
            max_header_bytes: 14,
            ..LIMITS
        };
        assert_decodes_with(b"0\r\nX-A: 12345\r\n\r\n", &fits, b"");
        let tight = HeadLimits {
            max_header_bytes: 13,
            ..LIMITS
        };
        assert_rejects_with(
            b"0\r\nX-A: 12345\r\n\r\n",
            &tight,
            ParseError::HeaderSectionTooLarge,
            431,
        );
        let mut endless = b"0\r\nX-A: ".to_vec();
        endless.resize(200, b'a');
        assert_eq!(
            decode_whole(&endless, &LIMITS),
            Err(ParseError::HeaderSectionTooLarge)
        );
    }

    #[test]
    fn body_over_max_body_is_413_before_the_data_arrives() {
        let limits = HeadLimits {
            max_body: 8,
            ..LIMITS
        };
        assert_rejects_with(
            b"5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n",
            &limits,
            ParseError::BodyTooLarge,
            413,
        );
        assert_eq!(
            decode_whole(b"FFFFFFFFFFFFFFFF\r\n", &LIMITS),
            Err(ParseError::BodyTooLarge)
        );
    }

    /// A chunked encoding of `chunks`, with optional extensions and trailers.
    fn encode(chunks: &[Vec<u8>], extension: bool, trailers: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in chunks.iter().filter(|c| !c.is_empty()) {
            out.extend_from_slice(format!("{:X}", chunk.len()).as_bytes());
            if extension {
                out.extend_from_slice(b";ext=\"v\"");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n");
        for trailer in trailers {
            out.extend_from_slice(trailer.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    proptest! {
        #[test]
        fn decoder_never_panics_on_arbitrary_bytes(
            input in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b'0'), Just(b';')],
                0..300,
            ),
            split in any::<proptest::sample::Index>(),
        ) {
            let _ = decode_whole(&input, &LIMITS);
            let (head, tail) = input.split_at(split.index(input.len() + 1));
            let _ = decode_pieces([head, tail], &LIMITS);
        }

        /// Incremental = one-shot on any bytes: fed whole, one byte at a time, or
        /// split in two, the decoder gives the same body, use and completion, or the
        /// same error. Fed one byte at a time it needs at most one call per byte
        /// (bounded input, bounded steps: nothing loops without consuming).
        #[test]
        fn arbitrary_bytes_decode_the_same_whole_bytewise_and_split(
            start in prop_oneof![Just(&b""[..]), Just(&b"5\r\nhello\r\n"[..]), Just(&b"0\r\n"[..])],
            tail in proptest::collection::vec(
                prop_oneof![
                    any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b'0'), Just(b'1'), Just(b';'), Just(b'='),
                ],
                0..120,
            ),
            split in any::<proptest::sample::Index>(),
            max_line in 2usize..20,
            max_header_bytes in 2usize..40,
            max_body in 0u64..40,
        ) {
            let input = [start, &tail].concat();
            let limits = HeadLimits { max_line, max_header_bytes, max_body };
            let whole = decode_whole(&input, &limits);
            // A body that is not done after all the input has used what it could; the
            // split feed may hold back an unfinished line, so compare the outcome kind.
            let same = |other: &Outcome| match (&whole, other) {
                (Ok((_, _, false)), Ok((_, _, false))) => true,
                (w, o) => w == o,
            };
            let bytewise = decode_pieces(input.chunks(1), &limits);
            prop_assert!(same(&bytewise), "whole {:?}, bytewise {:?}", whole, bytewise);
            let (head, rest) = input.split_at(split.index(input.len() + 1));
            let two = decode_pieces([head, rest], &limits);
            prop_assert!(same(&two), "whole {:?}, split {:?}", whole, two);

            let mut decoder = BodyDecoder::new(Framing::Chunked, &limits);
            let (mut buffer, mut body, mut calls) = (Vec::new(), Vec::new(), 0);
            for &byte in &input {
                buffer.push(byte);
                calls += 1;
                match decoder.decode_into(&buffer, &mut body) {
                    Ok((consumed, done)) => {
                        prop_assert!(consumed <= buffer.len());
                        buffer.drain(..consumed);
                        if done {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            prop_assert!(calls <= input.len());
            prop_assert!(body.len() as u64 <= max_body);
        }

        #[test]
        fn any_chunking_split_anywhere_gives_the_data(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..5),
            extension in any::<bool>(),
            trailers in proptest::collection::vec("X-[a-z]{1,6}: [ -~]{0,10}", 0..3),
            splits in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
        ) {
            let limits = HeadLimits { max_body: 100, max_header_bytes: 200, ..LIMITS };
            let input = encode(&chunks, extension, &trailers);
            let mut cuts: Vec<usize> = splits.iter().map(|s| s.index(input.len() + 1)).collect();
            cuts.push(0);
            cuts.push(input.len());
            cuts.sort_unstable();
            let pieces = cuts.windows(2).map(|w| &input[w[0]..w[1]]);
            let expected = Ok((chunks.concat(), input.len(), true));
            prop_assert_eq!(decode_whole(&input, &limits), expected.clone());
            prop_assert_eq!(decode_pieces(pieces, &limits), expected);
        }
    }
}
