//! The one data type of the contract: a word is 1 to 64 ASCII letters or digits.
//!
//! Here: checking a candidate once, so that a `Word` is always valid.
//! Elsewhere: splitting request bodies into candidates (`handler`), storing words (`store`).

use std::fmt;

/// Longest word the contract allows, in bytes.
pub const MAX_WORD_LEN: usize = 64;

/// A valid word: `[A-Za-z0-9]{1,64}`. Constructed only by [`Word::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Word(String);

/// Why some bytes are not a word. Every variant becomes a 400 with the same one-line reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("word must be 1-64 ASCII letters or digits")]
pub struct InvalidWord;

impl Word {
    /// Accepts exactly `[A-Za-z0-9]{1,64}`; no trimming is done here.
    pub fn parse(bytes: &[u8]) -> Result<Word, InvalidWord> {
        if bytes.is_empty() || bytes.len() > MAX_WORD_LEN {
            return Err(InvalidWord);
        }
        if !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return Err(InvalidWord);
        }
        // Every byte is ASCII, so this cannot fail.
        let text = std::str::from_utf8(bytes).map_err(|_| InvalidWord)?;
        Ok(Word(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Word({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_digits_are_a_word() {
        assert_eq!(Word::parse(b"abc123XYZ").unwrap().as_str(), "abc123XYZ");
    }

    #[test]
    fn sixty_four_bytes_is_the_longest_word() {
        assert!(Word::parse(&[b'a'; 64]).is_ok());
        assert_eq!(Word::parse(&[b'a'; 65]), Err(InvalidWord));
    }

    #[test]
    fn empty_punctuation_space_and_non_ascii_are_not_words() {
        for bad in [&b""[..], b"a b", b"a-b", b"caf\xc3\xa9", b"a\n", b"\0"] {
            assert_eq!(Word::parse(bad), Err(InvalidWord), "{bad:?}");
        }
    }
}
