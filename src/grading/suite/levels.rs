//! The level of every transcript follows its source: `docs/LEVELS.md`, generated.
//!
//! Here: the table of transcript, level, profile, twin and sources (`table`), made from
//! the transcripts' headers, and the tests that hold every transcript's `level` to
//! the keyword of what it cites (`Source::level`) and `docs/LEVELS.md` to the suite.
//! Regenerate the page with `WORDWIRE_WRITE_LEVELS=1 cargo test --lib levels`.
//! Elsewhere: the `source` and `twin` lines (`suite::transcript::Header`).

use std::path::Path;

use super::transcript::Header;

/// `docs/LEVELS.md` for the transcripts under `root` (a suite's `transcripts/`).
pub fn table(root: &Path) -> Result<String, String> {
    let mut files = Vec::new();
    walk(root, &mut files).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    files.sort();
    let mut out = String::from(
        "# Transcripts, their sources and levels\n\n\
         Generated from the suite's `source`, `level` and `twin` lines by\n\
         `WORDWIRE_WRITE_LEVELS=1 cargo test --lib levels` (a test fails when this page\n\
         is stale). A transcript's level follows its source's keyword: an assignment\n\
         line, a course key and a CONTRACT section are MUST; an RFC sentence gives its\n\
         own (MUST, REQUIRED, SHALL: MUST; SHOULD, RECOMMENDED, MAY, OPTIONAL: SHOULD,\n\
         a warning). `assignment` transcripts are judged in a course's assignment\n\
         profile; the others are contract only (not scored there). A rejection with\n\
         a twin earns its points only when its twin passed in the same run.\n\n\
         | transcript | level | profile | twin | sources |\n|---|---|---|---|---|\n",
    );
    for path in files {
        let header = Header::scan(&path);
        let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
        let sources: Vec<String> = header
            .sources
            .iter()
            .map(|s| format!("{} {}", s.kind.as_str(), s.text).replace('|', "\\|"))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            rel.display(),
            header.level.as_str(),
            if header.in_assignment() {
                "assignment"
            } else {
                "contract only"
            },
            header
                .twin
                .map(|t| format!("`{}`", t.with_extension("").display()))
                .unwrap_or_default(),
            sources.join("<br>")
        ));
    }
    Ok(out)
}

/// Every `*.transcript` under `dir`.
fn walk(dir: &Path, found: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "transcript") {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::suite::transcript::{Level, Source, SourceKind};

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn every_transcript_cites_a_source_and_its_level_is_the_source_s_keyword() {
        let files = crate::grading::replay::discover(&[root().join("transcripts")]).unwrap();
        let mut wrong = Vec::new();
        for path in &files {
            let header = Header::scan(path);
            match header.source_level() {
                None => wrong.push(format!("{}: no source line", path.display())),
                Some(level) if level != header.level => wrong.push(format!(
                    "{}: level {} but its sources give {}",
                    path.display(),
                    header.level.as_str(),
                    level.as_str()
                )),
                Some(_) => {}
            }
            if header
                .sources
                .iter()
                .any(|s| s.kind == SourceKind::Rfc && s.keyword().is_none())
            {
                wrong.push(format!(
                    "{}: an rfc source without a keyword",
                    path.display()
                ));
            }
            if let Some(twin) = &header.twin
                && !path.parent().unwrap().join(twin).is_file()
            {
                wrong.push(format!(
                    "{}: twin {} is not a file",
                    path.display(),
                    twin.display()
                ));
            }
        }
        assert!(files.len() > 40);
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_three_levels_the_issue_named_follow_their_rfc_sentences() {
        for name in [
            "framing/stray-crlf-after-a-body-is-ignored",
            "syntax/absolute-form-authority-is-400",
            "syntax/empty-host-is-400",
        ] {
            let header = Header::scan(&root().join(format!("transcripts/{name}.transcript")));
            assert_eq!(header.level, Level::Should, "{name}");
        }
    }

    #[test]
    fn a_keyword_gives_the_level_and_the_strongest_one_counts() {
        let rfc = |text: &str| Source {
            kind: SourceKind::Rfc,
            text: text.to_string(),
        };
        assert_eq!(
            rfc("§2.2: a server SHOULD ignore").level(),
            Some(Level::Should)
        );
        assert_eq!(
            rfc("MAY process ... but MUST send").level(),
            Some(Level::Must)
        );
        assert_eq!(rfc("can reject (read as MAY)").level(), Some(Level::Should));
        assert_eq!(rfc("the server can reject").level(), None);
        let contract = Source {
            kind: SourceKind::Contract,
            text: "Methods".to_string(),
        };
        assert_eq!(contract.level(), Some(Level::Must));
    }

    #[test]
    fn docs_levels_md_is_the_suite_s_table() {
        let want = table(&root().join("transcripts")).unwrap();
        let page = root().join("docs/LEVELS.md");
        if std::env::var_os("WORDWIRE_WRITE_LEVELS").is_some() {
            std::fs::write(&page, &want).unwrap();
        }
        let have = std::fs::read_to_string(&page).unwrap_or_default();
        assert!(
            have == want,
            "docs/LEVELS.md is stale: regenerate it with WORDWIRE_WRITE_LEVELS=1 cargo test --lib levels"
        );
    }
}
