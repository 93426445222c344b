//! The bounds on one listing (a full listing, or one poll's pages): how many entries, bytes and
//! pages a server may send before `hasMore` ends, and a cursor that must move from page to page.
//! A server that pages forever or repeats itself ends the session with a [`ListingError`]
//! instead of growing the client without bound. It must never read the network itself: the
//! session feeds it each page as it arrives.

use std::collections::HashSet;

use hyperclay_protocol::ChangesResponse;

/// The most entries one listing may carry: far above any real folder (a 100,000-file listing
/// is tested), low enough that the client's memory stays bounded.
pub const MAX_LISTING_ENTRIES: usize = 250_000;
/// The most JSON bytes one listing may carry (a page alone is capped at 64 MiB).
pub const MAX_LISTING_BYTES: u64 = 256 * 1024 * 1024;
/// The most pages one listing may take: at the client's 1,000 entries a page, far more than
/// [`MAX_LISTING_ENTRIES`] needs; it stops a server sending empty pages forever.
pub const MAX_LISTING_PAGES: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error("the server's listing has more than {MAX_LISTING_ENTRIES} entries; sync stopped")]
    TooManyEntries,
    #[error("the server's listing is larger than {} MiB; sync stopped", MAX_LISTING_BYTES >> 20)]
    TooManyBytes,
    #[error("the server's listing takes more than {MAX_LISTING_PAGES} pages; sync stopped")]
    TooManyPages,
    #[error("the server repeated a listing cursor instead of moving on; sync stopped")]
    CursorRepeated,
}

/// Counts one listing's pages as they arrive.
#[derive(Debug, Default)]
pub struct ListingGuard {
    entries: usize,
    bytes: u64,
    pages: usize,
    /// Every cursor this listing started from or was handed: paging must never come back.
    cursors: HashSet<String>,
}

impl ListingGuard {
    /// A listing that starts from `cursor` (`None`: a full listing).
    pub fn new(cursor: Option<&str>) -> ListingGuard {
        ListingGuard {
            cursors: cursor.map(str::to_owned).into_iter().collect(),
            ..ListingGuard::default()
        }
    }

    /// Admits `page` (whose body had `bytes` bytes), or says why the listing must stop.
    pub fn admit(&mut self, page: &ChangesResponse, bytes: u64) -> Result<(), ListingError> {
        self.pages += 1;
        self.entries = self.entries.saturating_add(page.entries.len());
        self.bytes = self.bytes.saturating_add(bytes);
        if self.entries > MAX_LISTING_ENTRIES {
            return Err(ListingError::TooManyEntries);
        }
        if self.bytes > MAX_LISTING_BYTES {
            return Err(ListingError::TooManyBytes);
        }
        // The last page may hand back the cursor it was asked with (nothing new); a page with
        // more to come must name a place this listing has not been.
        if page.has_more {
            if self.pages >= MAX_LISTING_PAGES {
                return Err(ListingError::TooManyPages);
            }
            if !self.cursors.insert(page.cursor.clone()) {
                return Err(ListingError::CursorRepeated);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperclay_protocol::{Entry, EntryKind, Timestamp};

    fn page(cursor: &str, has_more: bool, n: usize) -> ChangesResponse {
        let entry = Entry {
            path: "a.txt".into(),
            kind: EntryKind::Upload,
            size: Some(1),
            modified_at: Timestamp::from_millis(0),
            checksum: None,
            deleted: false,
        };
        ChangesResponse {
            server_time: Timestamp::from_millis(0),
            cursor: cursor.into(),
            has_more,
            entries: vec![entry; n],
            wait: None,
        }
    }

    #[test]
    fn a_moving_cursor_within_the_bounds_is_admitted() {
        let mut g = ListingGuard::new(Some("c0"));
        for i in 1..10 {
            g.admit(&page(&format!("c{i}"), true, 1000), 100_000)
                .unwrap();
        }
        // The end of a poll may hand back the cursor it started from.
        let mut idle = ListingGuard::new(Some("c0"));
        idle.admit(&page("c0", false, 0), 100).unwrap();
    }

    #[test]
    fn a_repeated_or_returning_cursor_is_refused() {
        let mut g = ListingGuard::new(None);
        g.admit(&page("a", true, 1), 10).unwrap();
        assert_eq!(
            g.admit(&page("a", true, 1), 10),
            Err(ListingError::CursorRepeated)
        );
        let mut g = ListingGuard::new(Some("start"));
        assert_eq!(
            g.admit(&page("start", true, 0), 10),
            Err(ListingError::CursorRepeated)
        );
        let mut g = ListingGuard::new(None);
        g.admit(&page("a", true, 1), 10).unwrap();
        g.admit(&page("b", true, 1), 10).unwrap();
        assert_eq!(
            g.admit(&page("a", true, 1), 10),
            Err(ListingError::CursorRepeated)
        );
    }

    #[test]
    fn entries_bytes_and_pages_are_capped() {
        let mut g = ListingGuard::new(None);
        let mut result = Ok(());
        for i in 0..MAX_LISTING_ENTRIES / 5000 + 1 {
            result = g.admit(&page(&format!("c{i}"), true, 5000), 1);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(ListingError::TooManyEntries));

        let mut g = ListingGuard::new(None);
        assert_eq!(
            g.admit(&page("c", false, 1), MAX_LISTING_BYTES + 1),
            Err(ListingError::TooManyBytes)
        );

        let mut g = ListingGuard::new(None);
        let mut result = Ok(());
        for i in 0..=MAX_LISTING_PAGES {
            result = g.admit(&page(&format!("c{i}"), true, 0), 10);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(ListingError::TooManyPages));
    }
}
