//! Decodes chunked request bodies (RFC 9112 §7.1) incrementally.
//! (Placeholder until the parser branch lands.)
use super::{HeadLimits, ParseError};
pub struct ChunkedDecoder;
pub struct Decoded {
    pub consumed: usize,
    pub done: bool,
}
impl ChunkedDecoder {
    pub fn new(_limits: &HeadLimits) -> ChunkedDecoder {
        ChunkedDecoder
    }
    pub fn decode(&mut self, _input: &[u8], _out: &mut Vec<u8>) -> Result<Decoded, ParseError> {
        Err(ParseError::Malformed)
    }
}
