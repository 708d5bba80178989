//! The built-in suite: the transcripts `transcripts/SUITE` lists and `fixtures/`,
//! compiled into the binary, so `wordwire replay` works from any directory after
//! `cargo install`.
//!
//! Here: the two trees, the manifest (`SUITE`: the project's transcripts, so that a
//! file a user copies into `transcripts/` is neither built in nor played by the
//! tests, which read the suite through `listed`), and writing them out (`--export
//! DIR`, and a temporary directory when `replay` or `grade` is given no paths), so
//! that they replay from disk exactly as a checkout's files do.
//! Elsewhere: parsing (`grading::suite::transcript`), choosing disk or built-in (`grading::replay::SuitePaths`).

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

static TRANSCRIPTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/transcripts");
static FIXTURES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/fixtures");

/// The manifest's name in a transcripts directory: one path a line, relative to
/// that directory, `#` comments and blank lines ignored.
pub const MANIFEST: &str = "SUITE";

/// The paths `text` (a `SUITE` file) lists, in its order.
pub fn manifest_paths(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The transcripts the manifest of `dir` (a `transcripts/` directory) lists, as paths
/// under `dir`, sorted as `replay::discover` sorts; an error if the manifest cannot be
/// read or names a file that is not there. The tests read the suite this way, so that
/// what a user adds to the directory is not theirs to grade.
pub fn listed(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let manifest = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let mut found = Vec::new();
    for rel in manifest_paths(&text) {
        let path = dir.join(rel);
        if !path.is_file() {
            return Err(format!(
                "{} lists {rel}, which is not a file",
                manifest.display()
            ));
        }
        found.push(path);
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The files under `dir` that `discover` finds and its manifest does not list (none
/// without a manifest): a user's own transcripts, which play from disk only.
pub fn unlisted(dir: &Path, found: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(dir.join(MANIFEST)) else {
        return Vec::new();
    };
    let listed: Vec<PathBuf> = manifest_paths(&text).map(|rel| dir.join(rel)).collect();
    found
        .iter()
        .filter(|path| path.starts_with(dir) && !listed.contains(path))
        .cloned()
        .collect()
}

/// Writes the listed transcripts (with `transcripts/`'s other files: `README.md`,
/// `SUITE`) and `fixtures/` under `dir` (created if missing); refuses to overwrite a
/// file that exists. Returns how many files were written.
pub fn export(dir: &Path) -> Result<usize, String> {
    let listed = builtin_listed();
    let mut written = 0;
    for (name, tree) in [("transcripts", &TRANSCRIPTS), ("fixtures", &FIXTURES)] {
        written += write_tree(tree, &dir.join(name), &|file: &Path| {
            name != "transcripts" || !is_transcript(file) || listed.contains(&file)
        })?;
    }
    Ok(written)
}

/// The built-in manifest's paths (relative to `transcripts/`).
fn builtin_listed() -> Vec<&'static Path> {
    let text = TRANSCRIPTS
        .get_file(MANIFEST)
        .and_then(|f| f.contents_utf8())
        .unwrap_or_default();
    manifest_paths(text).map(Path::new).collect()
}

fn is_transcript(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == crate::grading::replay::EXTENSION)
}

fn write_tree(
    tree: &Dir<'static>,
    to: &Path,
    keep: &dyn Fn(&Path) -> bool,
) -> Result<usize, String> {
    let mut written = 0;
    for file in tree.files().filter(|file| keep(file.path())) {
        let path = to.join(file.path().file_name().unwrap_or_default());
        write_new(&path, file.contents())?;
        written += 1;
    }
    for sub in tree.dirs() {
        let name = sub.path().file_name().unwrap_or_default();
        written += write_tree(sub, &to.join(name), keep)?;
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

    // The embedded trees read back in memory, to compare with the checkout's.
    /// Every built-in `*.transcript` the manifest lists, sorted by path, with paths under `transcripts/`.
    fn transcripts() -> Vec<(PathBuf, &'static str)> {
        let mut found: Vec<_> = builtin_listed()
            .into_iter()
            .map(|rel| {
                let file = TRANSCRIPTS
                    .get_file(rel)
                    .expect("the manifest lists a built-in file");
                let text = file.contents_utf8().expect("a transcript is text");
                (Path::new("transcripts").join(rel), text)
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    /// The bytes of built-in fixture `name` (`AREA/NNN-behaviour.http`).
    fn fixture(name: &str) -> Option<Vec<u8>> {
        FIXTURES.get_file(name).map(|f| f.contents().to_vec())
    }

    #[test]
    fn the_built_in_suite_is_the_repository_suite() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let on_disk = listed(&root.join("transcripts")).unwrap();
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
    fn the_manifest_lists_the_suite_and_a_file_it_does_not_list_is_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("methods")).unwrap();
        for rel in [
            "methods/b.transcript",
            "a.transcript",
            "methods/mine.transcript",
        ] {
            std::fs::write(root.join(rel), "open c\nclose c\n").unwrap();
        }
        std::fs::write(
            root.join(MANIFEST),
            "# the project's\nmethods/b.transcript\n\n  a.transcript\n",
        )
        .unwrap();
        let listed = listed(root).unwrap();
        assert_eq!(
            listed,
            [root.join("a.transcript"), root.join("methods/b.transcript")]
        );
        let found = crate::grading::replay::discover(&[root.to_path_buf()]).unwrap();
        assert_eq!(found.len(), 3);
        assert_eq!(
            unlisted(root, &found),
            [root.join("methods/mine.transcript")]
        );
        std::fs::remove_file(root.join("a.transcript")).unwrap();
        let err = super::listed(root).unwrap_err();
        assert!(
            err.ends_with("SUITE lists a.transcript, which is not a file"),
            "{err}"
        );
        std::fs::remove_file(root.join(MANIFEST)).unwrap();
        assert!(super::listed(root).unwrap_err().starts_with("cannot read "));
        assert_eq!(unlisted(root, &found), Vec::<PathBuf>::new());
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
        assert!(dir.path().join("transcripts/SUITE").is_file());
        // Exactly the listed transcripts, as the manifest in the export says.
        let exported = dir.path().join("transcripts");
        let found = crate::grading::replay::discover(std::slice::from_ref(&exported)).unwrap();
        assert_eq!(found, listed(&exported).unwrap());
        assert_eq!(found.len(), transcripts().len());
        let err = export(dir.path()).unwrap_err();
        assert!(err.contains("cannot write"), "{err}");
    }
}
