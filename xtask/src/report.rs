//! The bench's results: one row per figure of issue 5 (measured, target, verdict), free-form
//! notes, and every raw number as JSON. Written to `report.md` and `report.json` and printed.
//! A verdict compares a figure with its target; it is a reading, never an assertion.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// A figure the issue asks for without a target (or a comparison figure).
    Info,
}

impl Verdict {
    pub fn of(met: bool) -> Verdict {
        if met { Verdict::Met } else { Verdict::Missed }
    }

    fn mark(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::Info => "",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub figure: String,
    pub measured: String,
    pub target: String,
    pub verdict: Verdict,
}

#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    json: Map<String, Value>,
}

impl Report {
    pub fn row(&mut self, figure: &str, measured: String, target: &str, verdict: Verdict) {
        self.rows.push(Row {
            figure: figure.to_owned(),
            measured,
            target: target.to_owned(),
            verdict,
        });
    }

    pub fn note(&mut self, text: String) {
        self.notes.push(text);
    }

    pub fn set(&mut self, key: &str, value: Value) {
        self.json.insert(key.to_owned(), value);
    }

    pub fn missed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Missed)
            .count()
    }

    /// The table and the notes, under a header naming the run.
    pub fn markdown(&self, header: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{header}");
        let _ = writeln!(out, "| Figure | Measured | Target | |");
        let _ = writeln!(out, "|---|---|---|---|");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.figure,
                r.measured,
                r.target,
                r.verdict.mark()
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    pub fn write(&self, dir: &Path, header: &str) -> Result<String> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let md = self.markdown(header);
        std::fs::write(dir.join("report.md"), &md)?;
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "figure": r.figure, "measured": r.measured, "target": r.target,
                    "verdict": match r.verdict { Verdict::Met => "met", Verdict::Missed => "missed",
                                                 Verdict::Info => "info" },
                })
            })
            .collect();
        let mut json = self.json.clone();
        json.insert("rows".into(), Value::Array(rows));
        json.insert("notes".into(), serde_json::json!(self.notes));
        std::fs::write(
            dir.join("report.json"),
            serde_json::to_vec_pretty(&Value::Object(json))?,
        )?;
        Ok(md)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_every_row_and_marks_misses() {
        let mut r = Report::default();
        r.row("Push p50", "3 ms".into(), "≤ 10 ms", Verdict::Met);
        r.row("Start-up", "2 s".into(), "≤ 1 s", Verdict::Missed);
        r.row("Floor", "1 ms".into(), "", Verdict::Info);
        r.note("load 0.1".into());
        let md = r.markdown("# t");
        assert!(md.contains("| Push p50 | 3 ms | ≤ 10 ms | met |"));
        assert!(md.contains("| Start-up | 2 s | ≤ 1 s | **missed** |"));
        assert!(md.contains("- load 0.1"));
        assert_eq!(r.missed(), 1);
    }
}
