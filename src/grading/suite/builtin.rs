//! The built-in suite: `transcripts/` and `fixtures/` compiled into the binary, so
//! `wordwire replay` works from any directory after `cargo install`.
//!
//! Here: the two trees, and writing them out (`--export DIR`, and a temporary
//! directory when `replay` or `grade` is given no paths), so that they replay from
//! disk exactly as a checkout's files do.
//! Elsewhere: parsing (`grading::suite::transcript`), choosing disk or built-in (`grading::replay::SuitePaths`).

use std::path::Path;

use include_dir::{Dir, include_dir};

static TRANSCRIPTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/transcripts");
static FIXTURES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/fixtures");

/// Writes `transcripts/` and `fixtures/` under `dir` (created if missing); refuses
/// to overwrite a file that exists. Returns how many files were written.
pub fn export(dir: &Path) -> Result<usize, String> {
    let mut written = 0;
    for (name, tree) in [("transcripts", &TRANSCRIPTS), ("fixtures", &FIXTURES)] {
        written += write_tree(tree, &dir.join(name))?;
    }
    Ok(written)
}

fn write_tree(tree: &Dir<'static>, to: &Path) -> Result<usize, String> {
    let mut written = 0;
    for file in tree.files() {
        let path = to.join(file.path().file_name().unwrap_or_default());
        write_new(&path, file.contents())?;
        written += 1;
    }
    for sub in tree.dirs() {
        let name = sub.path().file_name().unwrap_or_default();
        written += write_tree(sub, &to.join(name))?;
    }
    Ok(written)
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    // The embedded trees read back in memory, to compare with the checkout's.
    /// Every built-in `*.transcript`, sorted by path, with paths under `transcripts/`.
    fn transcripts() -> Vec<(PathBuf, &'static str)> {
        let mut found = Vec::new();
        collect(&TRANSCRIPTS, &mut found);
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    fn collect(dir: &'static Dir<'static>, found: &mut Vec<(PathBuf, &'static str)>) {
        for file in dir.files() {
            if file
                .path()
                .extension()
                .is_some_and(|e| e == crate::grading::replay::EXTENSION)
                && let Some(text) = file.contents_utf8()
            {
                found.push((Path::new("transcripts").join(file.path()), text));
            }
        }
        for sub in dir.dirs() {
            collect(sub, found);
        }
    }

    /// The bytes of built-in fixture `name` (`AREA/NNN-behaviour.http`).
    fn fixture(name: &str) -> Option<Vec<u8>> {
        FIXTURES.get_file(name).map(|f| f.contents().to_vec())
    }

    #[test]
    fn the_built_in_suite_is_the_repository_suite() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let on_disk = crate::grading::replay::discover(&[root.join("transcripts")]).unwrap();
        let built_in = transcripts();
        assert_eq!(built_in.len(), on_disk.len());
        for ((path, text), disk) in built_in.iter().zip(&on_disk) {
            assert_eq!(root.join(path), *disk);
            assert_eq!(*text, std::fs::read_to_string(disk).unwrap());
        }
        assert!(fixture("methods/001-post-appends-word.http").is_some());
        assert!(fixture("methods/nope.http").is_none());
    }

    #[test]
    fn export_writes_both_trees_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let n = export(dir.path()).unwrap();
        assert!(n > transcripts().len());
        assert!(
            dir.path()
                .join("fixtures/methods/001-post-appends-word.http")
                .is_file()
        );
        assert!(dir.path().join("transcripts/README.md").is_file());
        let err = export(dir.path()).unwrap_err();
        assert!(err.contains("cannot write"), "{err}");
    }
}
