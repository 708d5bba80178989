//! What one group commit writes: a batch of queued changes folded into one file operation.
//!
//! Here: the `Queued` a request queues, and `plan`, which turns the committed bytes plus a
//! batch of changes into either bytes to append (a batch of POSTs) or the file's whole new
//! content (a batch with any PUT or DELETE), so that a batch costs one write or one atomic
//! rewrite however many requests it holds.
//! Elsewhere: queueing, the committer thread, fsync and publishing (`store`);
//! replacing the file (`store::atomic`).

use std::collections::HashMap;

use crate::word::Word;

/// One queued change, in the order it was accepted (a `store::Change`, or a barrier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Queued {
    /// POST: a new last line.
    Append(Word),
    /// PUT: every line equal to `old` becomes `new`.
    Replace { old: Word, new: Word },
    /// DELETE: every line equal to the word goes.
    Delete(Word),
    /// Changes nothing; its request only waits until everything accepted before it is decided
    /// (a PUT or DELETE that matched nothing in not-yet-committed state).
    Barrier,
}

/// How to bring the file from the committed bytes to the batch's result.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// Nothing to write (a batch of barriers).
    Nothing,
    /// Only appends: these lines go at the end of the file.
    Append(Vec<u8>),
    /// At least one PUT or DELETE: the file's whole new content.
    Rewrite(Vec<u8>),
}

/// The effect of applying `batch`, in order, to `base` (complete lines).
///
/// Costs one pass over `base` however many changes the batch holds: walking the batch
/// backwards composes the PUTs and DELETEs that follow each point into one map from a word
/// to its final form, so each base line and each appended word is looked up once.
/// Whether `batch` rewrites the file (it holds a PUT or DELETE) rather than appending.
pub(super) fn rewrites(batch: &[Queued]) -> bool {
    batch
        .iter()
        .any(|c| matches!(c, Queued::Replace { .. } | Queued::Delete(_)))
}

pub(super) fn plan(base: &[u8], batch: &[Queued]) -> Plan {
    if !rewrites(batch) {
        let mut lines = Vec::new();
        for change in batch {
            if let Queued::Append(word) = change {
                lines.extend_from_slice(word.as_bytes());
                lines.push(b'\n');
            }
        }
        return if lines.is_empty() {
            Plan::Nothing
        } else {
            Plan::Append(lines)
        };
    }
    // `fate[w]` is what a line `w` becomes through every change after the current point:
    // `Some(other)`, or `None` for deleted. A word without an entry stays itself.
    let mut fate: HashMap<&[u8], Option<&[u8]>> = HashMap::new();
    let mut appended_rev: Vec<&[u8]> = Vec::new();
    for change in batch.iter().rev() {
        match change {
            Queued::Append(word) => {
                if let Some(line) = final_form(&fate, word.as_bytes()) {
                    appended_rev.push(line);
                }
            }
            Queued::Replace { old, new } => {
                let to = final_form(&fate, new.as_bytes());
                fate.insert(old.as_bytes(), to);
            }
            Queued::Delete(word) => {
                fate.insert(word.as_bytes(), None);
            }
            Queued::Barrier => {}
        }
    }
    fate.retain(|from, to| *to != Some(*from));
    let mut out =
        Vec::with_capacity(base.len() + appended_rev.iter().map(|w| w.len() + 1).sum::<usize>());
    let emit = |out: &mut Vec<u8>, line: &[u8]| {
        out.extend_from_slice(line);
        out.push(b'\n');
    };
    if fate.len() == 1 {
        // The common case of one PUT or DELETE: a comparison per line is cheaper than a hash.
        let (&from, &to) = fate.iter().next().expect("fate has exactly one entry");
        for line in base.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match (line == from, to) {
                (false, _) => emit(&mut out, line),
                (true, Some(to)) => emit(&mut out, to),
                (true, None) => {}
            }
        }
    } else {
        for line in base.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if let Some(line) = final_form(&fate, line) {
                emit(&mut out, line);
            }
        }
    }
    for word in appended_rev.iter().rev() {
        emit(&mut out, word);
    }
    Plan::Rewrite(out)
}

/// What a line `word` becomes through the changes `fate` composes.
fn final_form<'a>(fate: &HashMap<&'a [u8], Option<&'a [u8]>>, word: &'a [u8]) -> Option<&'a [u8]> {
    match fate.get(word) {
        Some(to) => *to,
        None => Some(word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn word(text: &str) -> Word {
        Word::parse(text.as_bytes()).unwrap()
    }

    /// The obvious meaning of a batch: apply each change to a list of lines, in order.
    fn apply_one_by_one(base: &[u8], batch: &[Queued]) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = base
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        for change in batch {
            match change {
                Queued::Append(w) => lines.push(w.as_bytes().to_vec()),
                Queued::Replace { old, new } => {
                    for line in &mut lines {
                        if line == old.as_bytes() {
                            *line = new.as_bytes().to_vec();
                        }
                    }
                }
                Queued::Delete(w) => lines.retain(|l| l != w.as_bytes()),
                Queued::Barrier => {}
            }
        }
        lines
            .iter()
            .flat_map(|l| [&l[..], b"\n"].concat())
            .collect()
    }

    #[test]
    fn appends_only_become_one_append_in_order() {
        let batch = [
            Queued::Append(word("a")),
            Queued::Barrier,
            Queued::Append(word("b")),
        ];
        assert_eq!(plan(b"x\n", &batch), Plan::Append(b"a\nb\n".to_vec()));
        assert_eq!(plan(b"x\n", &[Queued::Barrier]), Plan::Nothing);
    }

    #[test]
    fn a_word_appended_before_a_put_is_replaced_and_after_it_is_not() {
        let batch = [
            Queued::Append(word("a")),
            Queued::Replace {
                old: word("a"),
                new: word("b"),
            },
            Queued::Append(word("a")),
        ];
        assert_eq!(
            plan(b"a\nc\n", &batch),
            Plan::Rewrite(b"b\nc\nb\na\n".to_vec())
        );
    }

    #[test]
    fn chained_puts_and_a_delete_compose() {
        let batch = [
            Queued::Replace {
                old: word("a"),
                new: word("b"),
            },
            Queued::Replace {
                old: word("b"),
                new: word("c"),
            },
            Queued::Append(word("b")),
            Queued::Delete(word("c")),
            Queued::Replace {
                old: word("d"),
                new: word("d"),
            },
        ];
        let base = b"a\nb\nd\nc\n";
        assert_eq!(
            plan(base, &batch),
            Plan::Rewrite(apply_one_by_one(base, &batch))
        );
        assert_eq!(apply_one_by_one(base, &batch), b"d\nb\n");
    }

    fn change() -> impl Strategy<Value = Queued> {
        let w = || prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(word);
        prop_oneof![
            3 => w().prop_map(Queued::Append),
            2 => (w(), w()).prop_map(|(old, new)| Queued::Replace { old, new }),
            1 => w().prop_map(Queued::Delete),
            1 => Just(Queued::Barrier),
        ]
    }

    proptest! {
        #[test]
        fn plan_equals_applying_each_change_in_turn(
            base in prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d", "e"]), 0..12),
            batch in prop::collection::vec(change(), 0..10),
        ) {
            let base: Vec<u8> = base.iter().flat_map(|w| [w.as_bytes(), b"\n"].concat()).collect();
            let want = apply_one_by_one(&base, &batch);
            match plan(&base, &batch) {
                Plan::Nothing => prop_assert_eq!(want, base),
                Plan::Append(lines) => prop_assert_eq!(want, [&base[..], &lines].concat()),
                Plan::Rewrite(content) => prop_assert_eq!(want, content),
            }
        }
    }
}
