//! What `wordwire grade` leaves in `--out`, written so that it survives an interrupted
//! run and cannot be turned against the reader.
//!
//! Here: `replace_file` (a temporary file in `--out`, then a rename over the name: a
//! symbolic link planted at `NAME.html` or `summary.csv` is replaced, never written
//! through), `csv_row` (RFC 4180 quoting, control characters escaped, and a cell
//! that would start a formula prefixed with `'`, as OWASP advises), `Summary` (the
//! rows of `summary.csv`, rewritten whole each time a submission finishes, with the
//! rows an earlier run left for the submissions `--resume` skips), `has_report`.
//! Elsewhere: the rows' content (`grading::class::summary_row`), the HTML page
//! (`grading::report::html`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use crate::escape::{self, Lines};
use crate::grading::untrusted;

/// The largest `summary.csv` of an earlier run that `--resume` reads.
const MAX_SUMMARY: u64 = 16 << 20;

/// Writes `bytes` to `dir/name` through a temporary file in `dir` and a rename, so
/// that a reader sees the old file or the new one, and a symbolic link at the name is
/// replaced by the file rather than followed.
pub fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(name);
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut temp = tempfile::Builder::new()
        .prefix(".wordwire-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    temp.write_all(bytes).map_err(fail)?;
    temp.persist(&path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// True when `dir/NAME.html` is a regular file (a link there is no report).
pub fn has_report(dir: &Path, name: &str) -> bool {
    std::fs::symlink_metadata(dir.join(format!("{name}.html"))).is_ok_and(|m| m.is_file())
}

/// One CSV record (RFC 4180), CRLF-terminated: each field with its control characters
/// escaped (so a record is one line), a `'` before a field that starts with `=`, `+`,
/// `-`, `@`, TAB or CR (a spreadsheet would run it as a formula), and quotes around a
/// field with a comma or a quote.
pub fn csv_row(fields: &[String]) -> String {
    let cells: Vec<String> = fields.iter().map(|f| csv_cell(f)).collect();
    let mut row = cells.join(",");
    row.push_str("\r\n");
    row
}

fn csv_cell(field: &str) -> String {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let mut cell = escape::for_terminal(field, Lines::Escape).into_owned();
    if formula {
        cell.insert(0, '\'');
    }
    if cell.contains([',', '"']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// The rows of `summary.csv` by submission name, and its header.
#[derive(Debug, Default)]
pub struct Summary {
    header: String,
    rows: BTreeMap<String, String>,
}

impl Summary {
    pub fn new(header: &[String]) -> Summary {
        Summary {
            header: csv_row(header),
            rows: BTreeMap::new(),
        }
    }

    /// Keeps the rows of `names` from the `summary.csv` in `dir` an earlier run wrote
    /// (for `--resume`: the submissions not graded again), as they were.
    pub fn keep_earlier(&mut self, dir: &Path, names: &[&str]) {
        let Ok(text) = untrusted::read_regular(&dir.join("summary.csv"), MAX_SUMMARY) else {
            return;
        };
        let text = String::from_utf8_lossy(&text);
        for name in names {
            let start = format!("{},", csv_cell(name));
            if let Some(line) = text.split("\r\n").skip(1).find(|l| l.starts_with(&start)) {
                self.rows.insert(name.to_string(), format!("{line}\r\n"));
            }
        }
    }

    /// Adds (or replaces) the row of `name`.
    pub fn set(&mut self, name: &str, fields: &[String]) {
        self.rows.insert(name.to_string(), csv_row(fields));
    }

    /// The file: the header, then a row per submission in name order.
    pub fn text(&self) -> String {
        let mut out = self.header.clone();
        for row in self.rows.values() {
            out.push_str(row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_cannot_start_a_formula_or_a_new_line() {
        let row = csv_row(&[
            "=HYPERLINK(\"http://x\")".into(),
            "+1".into(),
            "-2".into(),
            "@SUM(A1)".into(),
            "\tx".into(),
            "\rx".into(),
            "a\nb".into(),
            "ok, fine".into(),
            "50".into(),
        ]);
        assert_eq!(
            row,
            "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-2,'@SUM(A1),'\\tx,'\\rx,a\\nb,\"ok, fine\",50\r\n"
        );
    }

    #[test]
    fn a_link_planted_at_the_name_is_replaced_not_written_through() {
        let out = tempfile::tempdir().unwrap();
        let victim = tempfile::tempdir().unwrap();
        let target = victim.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        std::os::unix::fs::symlink(&target, out.path().join("summary.csv")).unwrap();
        replace_file(out.path(), "summary.csv", b"rows\r\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        let meta = std::fs::symlink_metadata(out.path().join("summary.csv")).unwrap();
        assert!(meta.is_file());
        assert_eq!(
            std::fs::read_to_string(out.path().join("summary.csv")).unwrap(),
            "rows\r\n"
        );
        // No temporary file stays behind.
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);
        // A link is no report, for --resume.
        std::os::unix::fs::symlink(&target, out.path().join("bob.html")).unwrap();
        assert!(!has_report(out.path(), "bob"));
        std::fs::write(out.path().join("alice.html"), "").unwrap();
        assert!(has_report(out.path(), "alice"));
    }

    #[test]
    fn resume_keeps_the_earlier_rows_of_the_submissions_it_skips() {
        let out = tempfile::tempdir().unwrap();
        let header = ["submission".to_string(), "score".to_string()];
        let mut first = Summary::new(&header);
        first.set("alice", &["alice".into(), "100".into()]);
        first.set("=bob", &["=bob".into(), "50".into()]);
        first.set("carol", &["carol".into(), "0".into()]);
        replace_file(out.path(), "summary.csv", first.text().as_bytes()).unwrap();
        let mut second = Summary::new(&header);
        second.keep_earlier(out.path(), &["alice", "=bob", "dave"]);
        second.set("carol", &["carol".into(), "75".into()]);
        assert_eq!(
            second.text(),
            "submission,score\r\n'=bob,50\r\nalice,100\r\ncarol,75\r\n"
        );
    }
}
