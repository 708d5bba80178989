//! Fuzzes `BodyDecoder` on chunked bodies: no panic, bounded steps, and the same outcome fed
//! whole or in pieces (the first byte seeds the piece sizes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wordwire::http::{BodyDecoder, BodyPart, Framing, HeadLimits, ParseError, Progress};

/// Body, bytes used, done — or the error.
type Outcome = Result<(Vec<u8>, usize, bool), ParseError>;

fn feed<'a>(pieces: impl Iterator<Item = &'a [u8]>, limits: &HeadLimits) -> Outcome {
    let mut decoder = BodyDecoder::new(Framing::Chunked, limits);
    let (mut buffer, mut body, mut used) = (Vec::new(), Vec::new(), 0);
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            match decoder.decode(&buffer)? {
                Progress::Done {
                    value: BodyPart::Data(data),
                    consumed,
                } => {
                    // Every piece uses bytes, so this loop ends.
                    assert!(consumed > 0 && consumed <= buffer.len());
                    body.extend_from_slice(data);
                    buffer.drain(..consumed);
                    used += consumed;
                }
                Progress::Done { consumed, .. } => {
                    used += consumed;
                    buffer.drain(..consumed);
                    // After the end, nothing more is used.
                    let again = decoder.decode(&buffer)?;
                    assert_eq!(
                        again,
                        Progress::Done {
                            value: BodyPart::End,
                            consumed: 0
                        }
                    );
                    return Ok((body, used, true));
                }
                Progress::NeedMore => break,
            }
        }
    }
    Ok((body, used, false))
}

fuzz_target!(|data: &[u8]| {
    let [seed, input @ ..] = data else {
        return;
    };
    let limits = HeadLimits {
        max_line: usize::from(seed % 32) + 1,
        max_header_bytes: usize::from(seed / 4) + 1,
        max_body: u64::from(*seed),
    };
    let whole = feed(std::iter::once(input), &limits);
    let size = usize::from(seed % 7) + 1;
    let pieces = feed(input.chunks(size), &limits);
    match (&whole, &pieces) {
        // Unfinished either way: the piecewise feed may hold back a partial line.
        (Ok((_, _, false)), Ok((_, _, false))) => {}
        _ => assert_eq!(whole, pieces, "whole and in pieces of {size} differ"),
    }
    if let Ok((body, _, _)) = &whole {
        assert!(body.len() as u64 <= limits.max_body);
    }
});
