//! The opaque `/changes` cursor: a position in the server's change sequence, never a time.
//!
//! Wire form `{instance}-i{pos}` (incremental: everything after `pos`) or
//! `{instance}-f{pos}-{start}` (a full listing in progress: live entries after `pos`, plus
//! tombstones made after the listing began at `start`). `instance` is random per data dir, so a
//! cursor from another server or a wiped data dir is unknown (410), never silently misread.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Incremental { pos: u64 },
    Full { pos: u64, start: u64 },
}

impl Cursor {
    pub fn encode(self, instance: &str) -> String {
        match self {
            Cursor::Incremental { pos } => format!("{instance}-i{pos}"),
            Cursor::Full { pos, start } => format!("{instance}-f{pos}-{start}"),
        }
    }

    /// Parses a cursor this server handed out. `None` for anything else: garbage, another
    /// instance's cursor, or a position beyond the current change sequence `head`.
    pub fn decode(s: &str, instance: &str, head: u64) -> Option<Cursor> {
        let rest = s.strip_prefix(instance)?.strip_prefix('-')?;
        let cursor = if let Some(pos) = rest.strip_prefix('i') {
            Cursor::Incremental {
                pos: parse_num(pos)?,
            }
        } else {
            let (pos, start) = rest.strip_prefix('f')?.split_once('-')?;
            let (pos, start) = (parse_num(pos)?, parse_num(start)?);
            if pos > start.max(head) {
                return None;
            }
            Cursor::Full { pos, start }
        };
        match cursor {
            Cursor::Incremental { pos } if pos > head => None,
            Cursor::Full { start, .. } if start > head => None,
            c => Some(c),
        }
    }
}

/// Digits only: no sign, no spaces, no leading `+`.
fn parse_num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for c in [
            Cursor::Incremental { pos: 0 },
            Cursor::Incremental { pos: 42 },
            Cursor::Full { pos: 3, start: 40 },
        ] {
            assert_eq!(Cursor::decode(&c.encode("ab12"), "ab12", 42), Some(c));
        }
    }

    #[test]
    fn refuses_garbage_foreign_and_future_cursors() {
        for s in [
            "",
            "garbage",
            "ab12",
            "ab12-",
            "ab12-i",
            "ab12-i-1",
            "ab12-i+1",
            "ab12-i 1",
            "ab12-x1",
            "ab12-f1",
            "ab12-f1-",
            "zz99-i1",
            "ab12-i43",
            "ab12-f1-43",
            "ab12-i99999999999999999999999",
        ] {
            assert_eq!(Cursor::decode(s, "ab12", 42), None, "{s:?}");
        }
    }
}
