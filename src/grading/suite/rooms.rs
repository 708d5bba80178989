//! The `~` lines of an expect block: where the contract leaves room for a foreign
//! implementation's response, and the clause that leaves it.
//!
//! Here: the rooms as the grammar reads them (`Room`, `BodyRule`, `ValueRule`,
//! `Pattern`) and the clauses of the built-in body rules.
//! Elsewhere: parsing the lines (`grading::suite::transcript`), judging a response
//! by them (`grading::judge::contract`).

use regex::bytes::Regex;

/// Where the contract leaves room for a response, from one `~` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Room {
    /// `~ status 400 413 close -- WHY`: any of these statuses, or (`close`) the
    /// connection closed with no response.
    Status {
        codes: Vec<u16>,
        close: bool,
        why: String,
    },
    /// `~ body ... -- WHY`: how the body is judged instead of byte for byte.
    Body { rule: BodyRule, why: String },
    /// `~ field NAME [ANY] -- WHY` or `~ field NAME /regex/ -- WHY`.
    Field {
        name: String,
        value: ValueRule,
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRule {
    /// One short human-readable line ending in LF, optionally matching a pattern.
    Message(Option<Pattern>),
    /// Matches the pattern.
    Pattern(Pattern),
    /// Anything.
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueRule {
    Any,
    Pattern(Pattern),
}

/// A `/regex/` as written and compiled.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl Pattern {
    /// Parses `/regex/`; the slashes are required so the pattern is visible as one.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let inner = text
            .strip_prefix('/')
            .and_then(|t| t.strip_suffix('/'))
            .filter(|_| text.len() >= 2)
            .ok_or_else(|| format!("a pattern is written /regex/, got {text:?}"))?;
        let regex = Regex::new(inner).map_err(|e| format!("bad pattern {text}: {e}"))?;
        Ok(Pattern {
            source: text.to_string(),
            regex,
        })
    }
}

/// The clause behind the built-in `~ body message` rule.
pub const MESSAGE_CLAUSE: &str =
    "CONTRACT Methods: success and error bodies are one short human-readable line ending in LF";

/// The clause behind `~ body message /pattern/` (PUT and DELETE counts).
pub const COUNT_CLAUSE: &str =
    "CONTRACT Methods: a one-line body that says how many (PUT replaced, DELETE removed)";
