//! Text that came from the network (a server's error message or code, an account name, a path
//! the client refused), made safe to show before it goes anywhere: a terminal, the log, the
//! report files, the tray. A hostile server (or anyone on plain http) could otherwise put
//! escape sequences, newlines and direction overrides there to forge lines (issue 23, 4).
//!
//! Only the decoding in `remote` and `auth` makes a [`ServerText`]; its `Display` is always one
//! short, inert line. It must never pass a control character (C0, DEL, C1), a bidi control or a
//! zero-width character through, and never show more than [`MAX_CHARS`] characters.

use std::fmt;

/// The longest server text shown, in characters; the rest becomes "…".
pub const MAX_CHARS: usize = 200;

/// Whether `c` would move the cursor, change the terminal, reorder or hide text.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2028}'..='\u{2029}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// `raw` with every unsafe character replaced: white space by a space, the rest by U+FFFD, so
/// the reader can see something was there. No length cap (for names kept and compared).
pub fn neutralise(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if is_unsafe(c) => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// A line of server text, neutralised and capped when made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerText(String);

impl ServerText {
    /// What the network sent, made safe: see the module's doc.
    pub fn from_wire(raw: &str) -> ServerText {
        let mut text = neutralise(raw);
        if let Some((cut, _)) = text.char_indices().nth(MAX_CHARS) {
            text.truncate(cut);
            text.push('\u{2026}');
        }
        ServerText(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ServerText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_newlines_bidi_and_zero_width_never_pass() {
        let raw = "demo\u{1b}]0;owned\u{7}\n[INFO] download FORGED\r\u{9b}2J\u{202E}gnp.exe\u{200B}\u{2066}\u{FEFF}\u{2028}";
        let safe = ServerText::from_wire(raw).to_string();
        assert!(safe.chars().all(|c| !is_unsafe(c)), "{safe:?}");
        assert!(!safe.contains('\n') && !safe.contains('\u{1b}'));
        assert!(
            safe.starts_with("demo\u{FFFD}]0;owned\u{FFFD} [INFO]"),
            "{safe:?}"
        );
        // Ordinary text, accents and scripts pass unchanged.
        assert_eq!(
            ServerText::from_wire("Zoë — 東京 ok").as_str(),
            "Zoë — 東京 ok"
        );
    }

    #[test]
    fn long_text_is_cut_to_one_short_line() {
        let safe = ServerText::from_wire(&"é".repeat(10_000));
        assert_eq!(safe.as_str().chars().count(), MAX_CHARS + 1);
        assert!(safe.as_str().ends_with('\u{2026}'));
        assert_eq!(
            ServerText::from_wire(&"a".repeat(MAX_CHARS)).as_str().len(),
            MAX_CHARS
        );
    }

    proptest::proptest! {
        #[test]
        fn nothing_unsafe_survives(raw in "\\PC*|[\\x00-\\x{10FFFF}]{0,300}") {
            let safe = ServerText::from_wire(&raw);
            proptest::prop_assert!(safe.as_str().chars().all(|c| !is_unsafe(c)));
            proptest::prop_assert!(safe.as_str().chars().count() <= MAX_CHARS + 1);
        }
    }
}
