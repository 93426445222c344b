//! A version against the current content, as a unified text diff (the `similar` crate), or for
//! bytes that are not text, how they differ in size. Every line shown is escaped: a version's
//! bytes may come from the server and must never act on the terminal.

use similar::{ChangeTag, TextDiff};

use super::escape;

/// Whether `bytes` read as text: UTF-8 without NUL bytes.
fn as_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.contains('\0'))
}

/// The diff from `old` (labelled `old_label`) to `new` (`new_label`); "" when they are equal.
pub fn render(old: &[u8], new: &[u8], old_label: &str, new_label: &str) -> String {
    if old == new {
        return String::new();
    }
    let (Some(a), Some(b)) = (as_text(old), as_text(new)) else {
        let delta = new.len() as i64 - old.len() as i64;
        return format!(
            "Binary files differ: {} is {} bytes, {} is {} bytes ({delta:+} bytes)\n",
            escape(old_label),
            old.len(),
            escape(new_label),
            new.len()
        );
    };
    let diff = TextDiff::from_lines(a, b);
    let mut out = format!("--- {}\n+++ {}\n", escape(old_label), escape(new_label));
    for group in diff.grouped_ops(3) {
        let (first, last) = (&group[0], &group[group.len() - 1]);
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            old_range.start + 1,
            old_range.len(),
            new_range.start + 1,
            new_range.len()
        ));
        for op in &group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                let line = change.value();
                let (body, newline) = match line.strip_suffix('\n') {
                    Some(body) => (body, true),
                    None => (line, false),
                };
                out.push(sign);
                out.push_str(&escape(body.strip_suffix('\r').unwrap_or(body)));
                out.push('\n');
                if !newline {
                    out.push_str("\\ No newline at end of file\n");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_versions_show_a_unified_diff() {
        let d = render(
            b"<p>a</p>\n<p>b</p>\n",
            b"<p>a</p>\n<p>c</p>\n",
            "version 1",
            "current",
        );
        assert!(
            d.starts_with("--- version 1\n+++ current\n@@ -1,2 +1,2 @@\n"),
            "{d}"
        );
        assert!(d.contains("\n-<p>b</p>\n+<p>c</p>\n"), "{d}");
        assert_eq!(render(b"same", b"same", "a", "b"), "");
    }

    #[test]
    fn binary_versions_say_they_differ_and_by_how_much() {
        let d = render(&[0, 1, 2], &[0, 1, 2, 3, 4], "version 1", "current");
        assert_eq!(
            d,
            "Binary files differ: version 1 is 3 bytes, current is 5 bytes (+2 bytes)\n"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let d = render(b"a\n", b"\x1b]0;owned\x07\n", "v", "c");
        assert!(!d.contains('\x1b') && !d.contains('\x07'), "{d:?}");
        assert!(d.contains("+\\u{1b}]0;owned\\u{7}"), "{d:?}");
    }
}
