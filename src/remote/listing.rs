//! The bounds on one listing (a full listing, or one poll's pages): how many entries, bytes and
//! pages a server may send before `hasMore` ends, and a cursor that must move from page to page.
//! A server that pages forever or repeats itself ends the session with a [`ListingError`]
//! instead of growing the client without bound. It must never read the network itself: the
//! caller hands [`read_pages`] the call that fetches a page.

use std::collections::HashSet;

use hyperclay_protocol::{ChangesResponse, Entry};

use crate::remote::RemoteError;

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

/// Why a listing stopped before its last page.
#[derive(Debug)]
pub enum PageError {
    Remote(RemoteError),
    Listing(ListingError),
}

/// A page and the size of its body, as the call that fetched it reports them.
pub type Page = (ChangesResponse, u64);

/// The one paging loop: reads pages after `cursor` (`None`: a full listing) until `hasMore`
/// ends, each bounded by a [`ListingGuard`], handing every entry to `each`. `first` is a page
/// already in hand (a long-poll's reply); `fetch` asks for the page after a cursor. Returns the
/// cursor to go on from.
pub fn read_pages(
    cursor: Option<&str>,
    mut first: Option<Page>,
    mut fetch: impl FnMut(Option<&str>) -> Result<Page, RemoteError>,
    mut each: impl FnMut(Entry),
) -> Result<String, PageError> {
    let mut guard = ListingGuard::new(cursor);
    let mut at = cursor.map(str::to_owned);
    loop {
        let (page, bytes) = match first.take() {
            Some(page) => page,
            None => fetch(at.as_deref()).map_err(PageError::Remote)?,
        };
        guard.admit(&page, bytes).map_err(PageError::Listing)?;
        page.entries.into_iter().for_each(&mut each);
        if !page.has_more {
            return Ok(page.cursor);
        }
        at = Some(page.cursor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperclay_protocol::{EntryKind, Timestamp};

    #[test]
    fn pages_are_read_from_the_one_in_hand_until_has_more_ends() {
        let mut asked = Vec::new();
        let mut n = 0;
        let end = read_pages(
            Some("c0"),
            Some((page("c1", true, 2), 10)),
            |at| {
                asked.push(at.map(str::to_owned));
                Ok((page("c2", false, 1), 10))
            },
            |_| n += 1,
        )
        .unwrap();
        assert_eq!(end, "c2");
        assert_eq!(asked, [Some("c1".to_owned())]);
        assert_eq!(n, 3);
    }

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
