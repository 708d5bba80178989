//! The JUnit XML report (`quick-xml`): one `testcase` per transcript, suite errors
//! as `<error>` cases first. Elsewhere: the counts (`report::score`), the failure
//! text (`report::text`).

use quick_xml::Writer;
use quick_xml::events::BytesText;

use super::score::{Score, Skips};
use super::text::failure_details;
use super::{plain, suite_error_heading};
use crate::grading::suite::transcript::{FormatError, Level};
use crate::grading::verdict::{Outcome, TranscriptResult};

/// XML 1.0 cannot carry most control characters, even escaped.
pub(super) fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c as u32) < 0x20 && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// A JUnit XML report, one `testcase` per transcript (SHOULD failures are
/// reported as passing cases with their failure in `system-out`). A suite error
/// comes first, as a case of class `suite` with an `<error>` (JUnit's "could not
/// run", apart from the failures), counted in `errors` and only there.
pub fn junit(results: &[TranscriptResult], errors: &[FormatError]) -> String {
    let score = Score::of(results);
    let total: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let written = w
        .create_element("testsuite")
        .with_attribute(("name", "wordwire-replay"))
        .with_attribute(("tests", (results.len() + errors.len()).to_string().as_str()))
        .with_attribute(("failures", score.total.failed.to_string().as_str()))
        .with_attribute(("errors", errors.len().to_string().as_str()))
        .with_attribute(("skipped", score.total.skipped.to_string().as_str()))
        .with_attribute(("time", format!("{total:.3}").as_str()))
        .write_inner_content(|w| {
            for e in errors {
                w.create_element("testcase")
                    .with_attribute(("classname", "suite"))
                    .with_attribute(("name", xml_safe(&e.path.display().to_string()).as_str()))
                    .with_attribute(("time", "0.000"))
                    .write_inner_content(|w| {
                        w.create_element("error")
                            .with_attribute(("message", xml_safe(&e.to_string()).as_str()))
                            .with_attribute(("type", "suite error"))
                            .write_text_content(BytesText::new(&suite_error_heading(errors)))?;
                        Ok(())
                    })?;
            }
            for r in results {
                let case = w
                    .create_element("testcase")
                    .with_attribute(("classname", r.category.as_str()))
                    .with_attribute(("name", xml_safe(&r.path.display().to_string()).as_str()))
                    .with_attribute(("time", format!("{:.3}", r.duration.as_secs_f64()).as_str()));
                match (&r.outcome, r.level) {
                    (Outcome::Passed | Outcome::Blessed, _) => {
                        case.write_empty()?;
                    }
                    (Outcome::Skipped(why), _) => {
                        case.write_inner_content(|w| {
                            w.create_element("skipped")
                                .with_attribute(("message", xml_safe(why).as_str()))
                                .write_empty()?;
                            Ok(())
                        })?;
                    }
                    (_, level) => {
                        let message = match (&r.outcome, r.failures.first()) {
                            (Outcome::Broken(why), _) => why.clone(),
                            (_, Some(f)) => format!("line {}: {}", f.line, f.message),
                            _ => "failed".to_string(),
                        };
                        let details = xml_safe(&plain(&failure_details(r)));
                        case.write_inner_content(|w| {
                            if level == Level::Should {
                                w.create_element("system-out").write_text_content(
                                    BytesText::new(&format!("warning (SHOULD): {details}")),
                                )?;
                            } else {
                                w.create_element("failure")
                                    .with_attribute(("message", xml_safe(&message).as_str()))
                                    .write_text_content(BytesText::new(&details))?;
                            }
                            Ok(())
                        })?;
                    }
                }
            }
            // After the cases, as the JUnit schema orders it: why the skipped ones were.
            if let Some(note) = Skips::of(results).note() {
                w.create_element("system-out")
                    .write_text_content(BytesText::new(&xml_safe(&note)))?;
            }
            Ok(())
        });
    written.expect("writing XML into a Vec cannot fail");
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        &String::from_utf8(w.into_inner()).expect("quick-xml writes the UTF-8 it is given"),
    );
    out.push('\n');
    out
}
