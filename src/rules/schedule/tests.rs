//! The time rules with a fake clock: every `now` is made up, nothing waits.

use std::time::{Duration, Instant};

use hyperclay_protocol::{Checksum, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::rules::plan::LocalFile;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn key(name: &str) -> Key {
    Key::App(name.to_owned())
}

#[test]
fn a_finished_save_is_read_at_once_and_a_bare_change_after_a_quiet_time() {
    let t0 = Instant::now();
    let mut s = Schedule::default();
    s.saved("a.html".into(), t0);
    s.changed("b.html".into(), t0);
    assert_eq!(s.take_looks(t0), [("a.html".to_owned(), false)]);
    assert_eq!(s.next_wake(t0), Some(t0 + QUIET));
    assert!(s.take_looks(t0 + QUIET - ms(1)).is_empty());
    assert_eq!(s.take_looks(t0 + QUIET), [("b.html".to_owned(), false)]);
    assert_eq!(s.next_wake(t0 + QUIET), None);
}

#[test]
fn an_emptied_file_waits_its_grace_once_and_a_new_event_restarts_the_wait() {
    let t0 = Instant::now();
    let mut s = Schedule::default();
    assert!(waits_for_next_write(true, false, Some(10)));
    s.emptied("a.html".into(), t0);
    assert!(s.take_looks(t0 + EMPTY_GRACE - ms(1)).is_empty());
    // The next write comes: read at once, and the grace is owed again.
    s.saved("a.html".into(), t0 + ms(100));
    assert_eq!(s.take_looks(t0 + ms(100)), [("a.html".to_owned(), false)]);
    s.emptied("a.html".into(), t0);
    assert_eq!(
        s.take_looks(t0 + EMPTY_GRACE),
        [("a.html".to_owned(), true)]
    );
    assert!(
        !waits_for_next_write(true, true, Some(10)),
        "believed after its grace"
    );
    assert!(
        !waits_for_next_write(true, false, None),
        "never synced: nothing to lose"
    );
    assert!(
        !waits_for_next_write(true, false, Some(0)),
        "it was empty before too"
    );
    assert!(!waits_for_next_write(false, false, Some(10)));
}

#[test]
fn a_write_less_than_a_second_old_is_too_fresh_for_a_scan() {
    let now = Timestamp::from_millis(10_000);
    assert!(written_too_recently(Timestamp::from_millis(9_500), now));
    assert!(!written_too_recently(Timestamp::from_millis(9_000), now));
    assert!(!written_too_recently(Timestamp::from_millis(1_000), now));
}

#[test]
fn a_new_folder_gets_a_second_look_after_a_quiet_time() {
    let t0 = Instant::now();
    let mut s = Schedule::default();
    s.folder_appeared(false, t0);
    assert!(
        !s.take_rescan(t0),
        "an empty folder waits for the second look"
    );
    assert_eq!(s.next_wake(t0), Some(t0 + QUIET));
    assert!(s.take_rescan(t0 + QUIET));
    assert!(!s.take_rescan(t0 + QUIET), "once");
    s.folder_appeared(true, t0);
    assert_eq!(
        s.next_wake(t0),
        Some(t0),
        "a folder with files is scanned at once"
    );
    assert!(s.take_rescan(t0));
}

#[test]
fn a_failed_transfer_is_retried_after_1_2_3_4_5_seconds_then_given_up() {
    let mut now = Instant::now();
    let mut s = Schedule::default();
    for wait in 1..=5 {
        let attempt = s.transfer_failed(key("x"), now);
        assert_eq!(attempt, Attempt::RetryAt(now + Duration::from_secs(wait)));
        assert!(s.take_retries(now).is_empty());
        now += Duration::from_secs(wait);
        assert_eq!(s.take_retries(now), [key("x")]);
    }
    assert_eq!(s.transfer_failed(key("x"), now), Attempt::GiveUp);
    // A later change starts the schedule over.
    assert_eq!(
        s.transfer_failed(key("x"), now),
        Attempt::RetryAt(now + Duration::from_secs(1))
    );
    s.transfer_done(&key("x"));
    assert_eq!(s.next_wake(now), None);
}

#[test]
fn one_files_retry_does_not_hold_up_another_files_look() {
    let t0 = Instant::now();
    let mut s = Schedule::default();
    s.transfer_failed(key("x"), t0);
    s.saved("y.html".into(), t0);
    assert_eq!(s.next_wake(t0), Some(t0));
    assert_eq!(s.take_looks(t0), [("y.html".to_owned(), false)]);
    assert!(s.take_retries(t0).is_empty());
}

#[test]
fn a_failed_poll_is_retried_on_the_same_schedule_before_the_session_is_given_up() {
    let mut now = Instant::now();
    let mut s = Schedule::default();
    for wait in 1..=5 {
        assert!(matches!(s.poll_failed(now), Attempt::RetryAt(_)));
        assert!(s.poll_waiting(now));
        assert!(!s.poll_retry_due(now));
        assert_eq!(s.next_wake(now), Some(now + Duration::from_secs(wait)));
        now += Duration::from_secs(wait);
        assert!(s.poll_retry_due(now));
        assert!(!s.poll_waiting(now));
    }
    assert_eq!(s.poll_failed(now), Attempt::GiveUp);
    s.poll_failed(now);
    s.poll_done();
    assert!(!s.poll_waiting(now) && !s.poll_retry_due(now));
}

#[test]
fn folders_that_did_not_go_up_get_a_rescan_on_the_retry_schedule() {
    let mut now = Instant::now();
    let mut s = Schedule::default();
    for wait in 1..=5 {
        assert_eq!(
            s.folder_push_failed(now),
            Attempt::RetryAt(now + Duration::from_secs(wait))
        );
        assert!(!s.take_rescan(now));
        now += Duration::from_secs(wait);
        assert!(s.take_rescan(now));
    }
    assert_eq!(s.folder_push_failed(now), Attempt::GiveUp);
    assert!(!s.take_rescan(now + Duration::from_secs(60)));
    s.folders_pushed();
    assert!(matches!(s.folder_push_failed(now), Attempt::RetryAt(_)));
}

#[test]
fn a_stale_upload_takes_the_servers_copy_over_only_what_it_sent() {
    let sent = Checksum::of(b"local");
    assert_eq!(
        stale_takes("a/x.html", Some("b/x.html"), sent),
        ("b/x.html".to_owned(), Some(sent))
    );
    assert_eq!(
        stale_takes("a/x.html", None, sent),
        ("a/x.html".to_owned(), Some(sent))
    );
}

#[test]
fn only_the_exact_file_our_download_wrote_is_its_echo_and_only_once() {
    let stamp = Stamp {
        size: 3,
        mtime_ns: 5,
        ctime_ns: 6,
        inode: 7,
    };
    let mut e = Echoes::default();
    e.expect("a.html".into(), stamp);
    assert!(e.is_echo("a.html", Some(stamp)));
    assert!(!e.is_echo("a.html", Some(stamp)), "used once");
    e.expect("a.html".into(), stamp);
    let edited = Stamp { size: 4, ..stamp };
    assert!(!e.is_echo("a.html", Some(edited)));
    e.expect("b.html".into(), stamp);
    e.forget_all();
    assert!(!e.is_echo("b.html", Some(stamp)));
}

#[test]
fn a_stalled_transfer_is_not_tried_again_until_what_it_moves_changes() {
    let local = |c: &[u8]| LocalFile {
        path: "x.html".into(),
        size: 1,
        mtime: Timestamp::from_millis(1),
        checksum: Checksum::of(c),
    };
    let upload = |c: &[u8]| Action::Upload {
        key: key("x"),
        local: local(c),
        remote_path: "x.html".into(),
        replaces: None,
    };
    let mut st = Stalls::default();
    st.stalled(key("x"), Stalled::Upload(Checksum::of(b"a")));
    assert!(st.blocks(&upload(b"a")));
    assert!(!st.blocks(&upload(b"b")), "new content goes");
    st.moved(&key("x"));
    assert!(!st.blocks(&upload(b"a")));
}

proptest! {
    /// Whatever is scheduled, the wake-up is never later than the earliest due work, and
    /// nothing is handed out before it is due.
    #[test]
    fn nothing_comes_due_early_and_the_wake_up_is_never_late(
        work in proptest::collection::vec((0..3u8, 0..4u8, 0..3000u64), 0..20),
        at in 0..6000u64,
    ) {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        let mut earliest: Option<Instant> = None;
        for (kind, which, offset) in work {
            let now = t0 + ms(offset);
            let path = format!("f{which}.html");
            let due = match kind {
                0 => { s.saved(path, now); now }
                1 => { s.changed(path, now); now + QUIET }
                _ => match s.transfer_failed(key(&path), now) {
                    Attempt::RetryAt(due) => due,
                    Attempt::GiveUp => continue,
                },
            };
            earliest = Some(earliest.map_or(due, |e: Instant| e.min(due)));
        }
        if let (Some(wake), Some(_)) = (s.next_wake(t0), earliest) {
            prop_assert!(wake <= t0 + ms(3000) + Duration::from_secs(5));
        }
        let now = t0 + ms(at);
        let looks = s.take_looks(now);
        let retries = s.take_retries(now);
        if earliest.is_none_or(|e| e > now) {
            prop_assert!(looks.is_empty() && retries.is_empty());
        }
        if let Some(wake) = s.next_wake(now) {
            prop_assert!(wake > now, "what was due was handed out");
        }
    }
}
