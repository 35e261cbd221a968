//! A swarm's report as JUnit XML, the format CI systems display: one
//! `testsuite` per scenario, one `testcase` per seed that ran. A failed
//! run's `failure` carries its failed checkers with their first violations
//! (or its panic) and the command that replays it.
//!
//! Everything taken from a run (violations quote Redis values, panics quote
//! anything) is escaped, and characters XML 1.0 forbids become U+FFFD.

use std::fmt::Write;

use crate::report::json::SwarmReport;
use crate::report::record::SeedRecord;

/// The report as a JUnit XML document.
pub fn junit_xml(report: &SwarmReport) -> String {
    let summary = report.summary();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"redoubt-sim swarm\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
        summary.runs(),
        summary.failed()
    );
    for scenario in &summary.scenarios {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
            escape(&scenario.scenario),
            scenario.runs,
            scenario.failed
        );
        if let Some(path) = &scenario.path {
            let _ = writeln!(
                out,
                "    <properties><property name=\"scenario_path\" value=\"{}\"/></properties>",
                escape(path)
            );
        }
        let records = report
            .records
            .iter()
            .filter(|r| r.scenario == scenario.scenario);
        for record in records {
            testcase(&mut out, record);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn testcase(out: &mut String, record: &SeedRecord) {
    let _ = write!(
        out,
        "    <testcase classname=\"redoubt-sim.{}\" name=\"seed {}\"",
        escape(&record.scenario),
        record.seed
    );
    if record.passed {
        out.push_str("/>\n");
        return;
    }
    let kind = if record.panic.is_some() {
        "panic"
    } else {
        "checker"
    };
    let _ = writeln!(
        out,
        ">\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n    </testcase>",
        escape(&record.failure_reason()),
        escape(&failure_text(record))
    );
}

/// The body of a failure: each failed checker and its first violation, or
/// the panic, then the replay command.
fn failure_text(record: &SeedRecord) -> String {
    let mut text = String::new();
    if let Some(message) = &record.panic {
        let _ = writeln!(text, "panic: {message}");
    }
    for failed in &record.failed {
        let violation = failed
            .violation
            .as_deref()
            .unwrap_or("(no violation given)");
        let _ = writeln!(text, "{}: {violation}", failed.checker);
    }
    let _ = write!(text, "replay: {}", record.replay);
    text
}

/// `text` escaped for XML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if xml_allows(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Whether XML 1.0 allows `character` in a document (its `Char` rule).
fn xml_allows(character: char) -> bool {
    matches!(character,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markup characters are escaped and characters XML forbids replaced,
    /// so a violation quoting any bytes still makes a well-formed document.
    #[test]
    fn escapes_markup_and_forbidden_characters() {
        assert_eq!(
            escape("<a b=\"c\" d='e'>&</a>"),
            "&lt;a b=&quot;c&quot; d=&apos;e&apos;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(
            escape("x\u{0}y\u{1b}z"),
            "x\u{FFFD}y\u{FFFD}z",
            "NUL and ESC"
        );
        assert_eq!(
            escape("two\nlines"),
            "two&#10;lines",
            "newlines survive attributes"
        );
        assert_eq!(escape("é ✓ 𝄞"), "é ✓ 𝄞", "other Unicode stays");
    }
}
