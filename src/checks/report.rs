//! Check reports: a table for people, JSON with points for scripts, JUnit XML for CI servers
//! and graders (the common schema: testsuites > testsuite > testcase > failure).

use std::fmt::Write;

use super::CheckResult;

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A table and a closing `N passed, M failed` line.
    Table,
    /// JSON: every check with its points, and the totals.
    Json,
    /// JUnit XML.
    Junit,
}

/// Renders results in a format.
pub(crate) fn render(results: &[CheckResult], format: Format) -> String {
    match format {
        Format::Table => table(results),
        Format::Json => json(results),
        Format::Junit => junit(results),
    }
}

fn counts(results: &[CheckResult]) -> (usize, usize) {
    let passed = results.iter().filter(|r| r.passed).count();
    (passed, results.len() - passed)
}

fn table(results: &[CheckResult]) -> String {
    let mut out = String::new();
    let labs = results
        .iter()
        .map(|r| r.lab.as_str())
        .collect::<std::collections::BTreeSet<_>>();
    let with_lab = labs.len() > 1;
    let width = |column: &dyn Fn(&CheckResult) -> usize, title: &str| {
        results.iter().map(column).fold(title.len(), usize::max)
    };
    let (lab_w, check_w, node_w) = (
        width(&|r| r.lab.chars().count(), "LAB"),
        width(&|r| r.name.chars().count(), "CHECK"),
        width(&|r| r.node.chars().count(), "NODE"),
    );
    let lab_cell = |lab: &str| {
        if with_lab {
            format!("{lab:<lab_w$}  ")
        } else {
            String::new()
        }
    };
    let _ = writeln!(
        out,
        "{}{:<check_w$}  {:<node_w$}  {:<6} {:>7}  DETAIL",
        lab_cell("LAB"),
        "CHECK",
        "NODE",
        "RESULT",
        "TIME"
    );
    for r in results {
        let _ = writeln!(
            out,
            "{}{:<check_w$}  {:<node_w$}  {:<6} {:>5}ms  {}",
            lab_cell(&r.lab),
            r.name,
            r.node,
            if r.passed { "pass" } else { "FAIL" },
            r.millis,
            r.detail
        );
    }
    let (passed, failed) = counts(results);
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    out
}

fn json(results: &[CheckResult]) -> String {
    let (passed, failed) = counts(results);
    let points: u32 = results.iter().filter(|r| r.passed).map(|r| r.points).sum();
    let total: u32 = results.iter().map(|r| r.points).sum();
    let value = serde_json::json!({
        "checks": results,
        "passed": passed,
        "failed": failed,
        "points": points,
        "total_points": total,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

fn xml_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => " ".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn junit(results: &[CheckResult]) -> String {
    let mut labs: Vec<&str> = results.iter().map(|r| r.lab.as_str()).collect();
    labs.dedup();
    let (_, failed) = counts(results);
    let seconds = |ms: u128| format!("{:.3}", ms as f64 / 1000.0);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total_ms: u128 = results.iter().map(|r| r.millis).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"lab check\" tests=\"{}\" failures=\"{failed}\" time=\"{}\">",
        results.len(),
        seconds(total_ms)
    );
    for lab in labs {
        let mine: Vec<&CheckResult> = results.iter().filter(|r| r.lab == lab).collect();
        let fails = mine.iter().filter(|r| !r.passed).count();
        let ms: u128 = mine.iter().map(|r| r.millis).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"0\" time=\"{}\">",
            xml_escape(lab),
            mine.len(),
            seconds(ms)
        );
        for r in mine {
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"{}\"",
                xml_escape(&r.lab),
                xml_escape(&r.node),
                xml_escape(&r.name),
                seconds(r.millis)
            );
            if r.passed {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    xml_escape(&r.detail)
                );
            } else {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"check\">{}</failure>\n    </testcase>",
                    xml_escape(&r.detail),
                    xml_escape(&r.detail)
                );
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Vec<CheckResult> {
        vec![
            CheckResult {
                lab: "tp3".into(),
                name: "topic Hello-Kafka".into(),
                node: "-".into(),
                passed: true,
                millis: 12,
                detail: "1 partition".into(),
                points: 2,
            },
            CheckResult {
                lab: "tp3".into(),
                name: "file <out>".into(),
                node: "hadoop-master".into(),
                passed: false,
                millis: 1500,
                detail: "no \"(hello,2)\" & more".into(),
                points: 3,
            },
        ]
    }

    #[test]
    fn the_table_ends_with_the_counts() {
        let t = render(&results(), Format::Table);
        assert!(t.lines().last().unwrap() == "1 passed, 1 failed", "{t}");
        assert!(t.contains("FAIL"), "{t}");
    }

    #[test]
    fn the_table_columns_fit_the_longest_name() {
        let mut r = results();
        r[0].name = "namenode (GET /webhdfs/v1/?op=GETFILESTATUS&user.name=root on 50070)".into();
        let t = render(&r, Format::Table);
        let column = |line: &str, word: &str| line.find(word).map(|i| line[..i].chars().count());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            column(lines[1], " pass "),
            column(lines[2], " FAIL "),
            "{t}"
        );
        assert_eq!(
            column(lines[0], " RESULT"),
            column(lines[1], " pass "),
            "{t}"
        );
    }

    #[test]
    fn json_carries_points_and_totals() {
        let v: serde_json::Value = serde_json::from_str(&render(&results(), Format::Json)).unwrap();
        assert_eq!(v["points"], 2);
        assert_eq!(v["total_points"], 5);
        assert_eq!(v["checks"][1]["points"], 3);
        assert_eq!(v["failed"], 1);
    }

    #[test]
    fn junit_is_escaped_and_counts_failures() {
        let x = render(&results(), Format::Junit);
        assert!(
            x.contains("<testsuites name=\"lab check\" tests=\"2\" failures=\"1\""),
            "{x}"
        );
        assert!(x.contains("name=\"file &lt;out&gt;\""), "{x}");
        assert!(
            x.contains("<failure message=\"no &quot;(hello,2)&quot; &amp; more\""),
            "{x}"
        );
        assert!(x.contains("time=\"1.500\""), "{x}");
    }
}
