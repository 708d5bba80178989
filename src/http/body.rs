//! Decodes chunked request bodies (RFC 9112 §7.1) incrementally.
//!
//! Here: the chunked grammar (chunk-size, chunk extensions, chunk data, trailer
//! section), strict CRLF inside it, and the body and trailer limits.
//! Elsewhere: choosing the framing from the head (`http::request`), reading the
//! socket and holding the buffer (`server::conn`). Content-Length bodies need
//! no decoding: the caller reads that many bytes.

use nom::branch::alt;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::char;
use nom::combinator::{all_consuming, opt};
use nom::multi::many0_count;
use nom::{IResult, Parser};

use super::request::{is_field_value_byte, is_ows, parse_field_line, token};
use super::{HeadLimits, ParseError};

/// Where the decoder is in the chunked grammar between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, with this many bytes still to come.
    Data { remaining: u64 },
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last-chunk, reading trailer field lines; `section` bytes of them so far.
    Trailer { section: usize },
    /// The last-chunk and the trailer section are complete.
    Done,
}

/// An incremental decoder for one chunked body (RFC 9112 §7.1).
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
pub struct ChunkedDecoder {
    state: State,
    /// Chunk data bytes decoded so far.
    decoded: u64,
    max_line: usize,
    max_header_bytes: usize,
    max_body: u64,
}

/// The result of one `ChunkedDecoder::decode` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// How many bytes from the start of the input were used.
    pub consumed: usize,
    /// Whether the last-chunk and trailer section are complete.
    pub done: bool,
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body. A chunk-size line longer than
    /// `max_line` is 400, a trailer section larger than `max_header_bytes` is
    /// 431, and more than `max_body` bytes of chunk data in total is 413.
    pub fn new(limits: &HeadLimits) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            decoded: 0,
            max_line: limits.max_line,
            max_header_bytes: limits.max_header_bytes,
            max_body: limits.max_body,
        }
    }

    /// Decodes from the start of `input`, appending chunk data to `out`. Returns how many
    /// bytes of `input` were used (the caller drops them and calls again with the rest plus
    /// newly read bytes) and whether the last-chunk and trailer section are complete.
    ///
    /// An incomplete line is left unused until its CRLF arrives; chunk data is
    /// used as it arrives. After `done`, further calls use nothing. After an
    /// error the body is unusable and the connection must close.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Decoded, ParseError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => {
                    return Ok(Decoded {
                        consumed: pos,
                        done: true,
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
                        remaining => State::Data { remaining },
                    };
                }
                State::Data { remaining } => {
                    if rest.is_empty() {
                        break;
                    }
                    let take = usize::try_from(remaining).map_or(rest.len(), |r| r.min(rest.len()));
                    out.extend_from_slice(&rest[..take]);
                    pos += take;
                    // take <= remaining, which is a u64.
                    let take = take as u64;
                    self.decoded += take;
                    self.state = match remaining - take {
                        0 => State::DataEnd,
                        remaining => State::Data { remaining },
                    };
                }
                State::DataEnd => match rest {
                    [] | [b'\r'] => break,
                    // RFC 9112 §7.1: chunk-data is followed by CRLF.
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.state = State::Size;
                    }
                    _ => return Err(ParseError::MissingChunkCrlf),
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
        Ok(Decoded {
            consumed: pos,
            done: false,
        })
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
