//! Crash safety: the client SIGKILLed in the middle of a download, the server killed in the
//! middle of a PUT, a full local disk (a 1 MiB tmpfs) and read-only files and folders. In every
//! case each file holds a whole version (old or new, never a mix or a prefix), nothing known is
//! lost, stray temp files never get uploaded, and refusals are logged without endless retries.

use crate::common;
use crate::hostile;
use crate::processes;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Api, Client, DEADLINE, Proxy, ServerOptions, TestServer, wait_until};
use hostile::*;
use hyperclay_protocol::Timestamp;

const TOKEN: &str = "crash-test-token";

fn set_old_mtime(p: &Path) {
    let old = filetime::FileTime::from_unix_time(1_600_000_000, 0);
    filetime::set_file_mtime(p, old).expect("mtime");
}

fn temp_files(folder: &Path) -> Vec<String> {
    files_under(folder)
        .into_iter()
        .filter(|p| p.contains(".hyperclay-sync-") || p.ends_with(".tmp"))
        .collect()
}

fn backups_with(folder: &Path, content: &[u8]) -> usize {
    let dir = folder.join("sites-versions");
    files_under(&dir)
        .iter()
        .filter(|p| !p.contains(".hyperclay-sync-"))
        .filter(|p| std::fs::read(dir.join(p)).is_ok_and(|b| b == content))
        .count()
}

/// Where to SIGKILL the client during one download.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// When this share (percent) of the body has been sent.
    MidBody(usize),
    /// This many ms after the whole body was sent: while the client checks, backs up, writes,
    /// fsyncs and renames. A fault-injection point, not a wait for a condition.
    AfterBody(u64),
    /// As soon as a client temp file exists (true: the download's own, in the folder; false:
    /// the backup's, under sites-versions): mid-write, for certain.
    TempFileSeen(bool),
}

fn kill_during_download(at: KillAt) {
    let app = format!("big-{:08x}.html", rand::random::<u32>());
    let old: Vec<u8> = b"<p>old</p>".repeat(100_000);
    let new: Vec<u8> = (0..8 << 20).map(|i| b'a' + (i % 23) as u8).collect();
    let mut script = Script::serving(&[]);
    script.full = Reply::json(&changes(vec![entry(&app, &new)], "c1"));
    script.files.insert(
        url_tail(&app),
        Reply::file(&new).with_body(Body::Slow {
            bytes: new.clone(),
            pause_ms: 4,
        }),
    );
    let server = HostileServer::start(script);
    let mut client = Client::start_stopped(&server.url, TOKEN);
    let target = client.path(&app);
    std::fs::write(&target, &old).expect("old");
    set_old_mtime(&target);
    client.spawn();
    let folder_arg = client.folder.to_string_lossy().into_owned();
    let total = new.len();
    let reached = if let KillAt::TempFileSeen(own) = at {
        // Polled tightly: the write lasts only milliseconds.
        let end = std::time::Instant::now() + hyperclay_testkit::wait::scaled(DEADLINE);
        loop {
            if temp_files(&client.folder)
                .iter()
                .any(|p| p.starts_with("sites-versions/") != own)
            {
                break true;
            }
            if std::time::Instant::now() > end {
                break false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    } else {
        wait_until(DEADLINE, || {
            let sent = server.sent.load(Ordering::SeqCst);
            match at {
                KillAt::MidBody(pct) => sent * 100 >= total * pct,
                _ => sent >= total,
            }
        })
    };
    assert!(
        reached,
        "{at:?}: the download never got there; log:\n{}",
        client.log()
    );
    if let KillAt::AfterBody(ms) = at {
        std::thread::sleep(Duration::from_millis(ms));
    }
    processes::kill_all_with_arg(&folder_arg);

    let now = std::fs::read(&target).expect("the file is still there");
    assert!(
        now == old || now == new,
        "{at:?}: a partial file of {} bytes",
        now.len()
    );
    if now == new {
        assert!(
            backups_with(&client.folder, &old) >= 1,
            "{at:?}: replaced without a backup"
        );
    }
    let strays = temp_files(&client.folder);
    eprintln!(
        "{at:?}: after the kill the file was {}, stray temp files: {strays:?}",
        if now == new { "new" } else { "old" }
    );

    // Restart against a server that now answers at once.
    server.edit(|s| {
        s.files.insert(url_tail(&app), Reply::file(&new));
    });
    let polls = server.polls();
    client.spawn();
    assert!(
        wait_until(DEADLINE, || std::fs::read(&target).is_ok_and(|b| b == new)),
        "{at:?}: the new version never arrived after the restart; log:\n{}",
        client.log()
    );
    assert!(
        wait_until(DEADLINE, || server.polls() >= polls + 3),
        "{at:?}: the restarted client does not poll"
    );
    assert!(
        backups_with(&client.folder, &old) >= 1,
        "{at:?}: the old version is lost"
    );
    let puts: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.target)
        .collect();
    assert!(
        puts.iter()
            .all(|p| !p.contains("hyperclay-sync-") && !p.contains(".tmp")),
        "{at:?}: a temp file was uploaded: {puts:?}"
    );
    assert!(puts.is_empty(), "{at:?}: unexpected uploads: {puts:?}");
}

#[test]
fn a_client_killed_mid_body_keeps_the_old_file() {
    kill_during_download(KillAt::MidBody(50));
}

#[test]
fn a_client_killed_with_a_temp_file_half_written_keeps_the_old_file() {
    kill_during_download(KillAt::TempFileSeen(false));
    kill_during_download(KillAt::TempFileSeen(true));
}

#[test]
fn a_client_killed_while_writing_leaves_old_or_new_never_partial() {
    for ms in [0, 10, 40, 160, 320, 640, 1280, 2560] {
        kill_during_download(KillAt::AfterBody(ms));
    }
}

// ---------------------------------------------------------------- the server dies mid-PUT

/// Writes a PUT of `body` on a raw connection, counting bytes into `sent`; ignores errors (the
/// server is being killed under it).
fn raw_put(addr: String, token: String, path: String, body: Vec<u8>, sent: Arc<AtomicUsize>) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return;
    };
    let head = format!(
        "PUT /api/local-sync/files/{path} HTTP/1.1\r\nHost: x\r\nUser-Agent: hyperclay-sync/0.1.0\r\nAuthorization: Bearer {token}\r\n\
         X-Modified-At: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        Timestamp::now().to_rfc3339(),
        body.len()
    );
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    for piece in body.chunks(256 * 1024) {
        if s.write_all(piece).is_err() {
            return;
        }
        sent.fetch_add(piece.len(), Ordering::SeqCst);
    }
    let _ = std::io::Read::read_to_end(&mut s, &mut Vec::new());
}

#[test]
fn a_server_killed_during_a_put_keeps_a_whole_version() {
    let mut server = TestServer::start();
    let token = server.token("demo");
    let path = "crash/big.bin";
    let mut current: Vec<u8> = vec![b'0'; 4 << 20];
    let api = Api::new(&server.url(), &token);
    assert_eq!(api.put(path, &current, Timestamp::now()), 200);
    let mut known = vec![current.clone()];
    // Kill points: part of the body sent, all of it sent, and shortly after (inside the save).
    let points: [(usize, u64); 6] = [(25, 0), (100, 0), (100, 1), (100, 5), (100, 20), (100, 60)];
    for (i, (pct, after_ms)) in points.into_iter().enumerate() {
        let next: Vec<u8> = vec![b'a' + i as u8; 4 << 20];
        let sent = Arc::new(AtomicUsize::new(0));
        let addr = server.url().trim_start_matches("http://").to_owned();
        let (t, p, b, s) = (token.clone(), path.to_owned(), next.clone(), sent.clone());
        let writer = std::thread::spawn(move || raw_put(addr, t, p, b, s));
        let total = next.len();
        assert!(
            wait_until(DEADLINE, || sent.load(Ordering::SeqCst) * 100
                >= total * pct),
            "the PUT body never got to {pct}%"
        );
        // A fault-injection point, not a wait for a condition.
        std::thread::sleep(Duration::from_millis(after_ms));
        server.stop();
        let _ = writer.join();
        server.restart();
        let got = api.get(path).expect("the file survives");
        let got = got.into_bytes();
        assert!(
            got == current || got == next,
            "kill at {pct}% +{after_ms} ms: GET returned {} bytes of neither version",
            got.len()
        );
        if got == next {
            known.push(next.clone());
            current = next;
        }
        // Every version the server lists is whole (its bytes hash to its checksum), and the
        // previous content is among current + versions.
        let versions = api.versions(path);
        assert!(
            versions
                .iter()
                .all(|v| known.iter().any(|k| k.as_slice() == v.as_bytes())),
            "kill at {pct}% +{after_ms} ms: a version is not one that was written"
        );
        for k in &known {
            assert!(
                k == &current || versions.iter().any(|v| v.as_bytes() == k.as_slice()),
                "kill at {pct}% +{after_ms} ms: a written version was lost"
            );
        }
    }
}

// ---------------------------------------------------------------- a full local disk

/// A 1 MiB tmpfs, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_is_logged_and_loses_nothing() {
    let Some(disk) = SmallDisk::mount() else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here (needs root)");
        return;
    };
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let tag = format!("{:08x}", rand::random::<u32>());
    let app = format!("disk-{tag}.html");
    let big = format!("big-{tag}.bin");
    let old_app = b"<p>old</p>".repeat(20_000);
    let new_app = b"<p>new</p>".repeat(20_000);
    let big_bytes = vec![b'B'; 2 << 20];
    let t_new = Timestamp::now();
    assert_eq!(api.put(&app, &new_app, t_new), 200);
    assert_eq!(api.put(&big, &big_bytes, t_new), 200);
    let smalls: Vec<String> = (0..3).map(|i| format!("small{i}-{tag}.txt")).collect();
    for s in &smalls {
        assert_eq!(api.put(s, s.as_bytes(), t_new), 200);
    }

    let mut client = Client::start_stopped(&server.url(), &token);
    client.folder = disk.path();
    let mine = format!("mine-{tag}.txt");
    std::fs::write(client.path(&app), &old_app).expect("old app");
    set_old_mtime(&client.path(&app));
    std::fs::write(client.path(&mine), b"made here").expect("mine");
    client.spawn();

    assert!(
        wait_until(DEADLINE, || {
            let log = client.log();
            log.lines()
                .any(|l| l.contains(&big) && l.contains("No space left"))
        }),
        "no clear 'No space left' error naming {big}; log:\n{}",
        client.log()
    );
    // It blocks syncing that file, so `status` (and the tray) say so too.
    assert!(
        wait_until(DEADLINE, || client.status()["error"].as_str().is_some_and(
            |e| e.contains("Can't write into the sync folder") && e.contains("No space left")
        )),
        "status does not show the full disk: {}",
        client.status()
    );
    for s in &smalls {
        assert!(
            wait_until(DEADLINE, || client.read(s).as_deref() == Some(s.as_str())),
            "{s} never arrived; log:\n{}",
            client.log()
        );
    }
    assert!(
        wait_until(DEADLINE, || api.get(&mine).as_deref() == Some("made here")),
        "a local file never went up"
    );
    // Nothing lost: the app is old, or new with the old one backed up; the big file is whole
    // on the server and absent (not truncated) here; no temp file is left taking the space.
    let now = std::fs::read(client.path(&app)).expect("the app");
    assert!(now == old_app || now == new_app, "a partial app");
    if now == new_app {
        assert_eq!(
            backups_with(&client.folder, &old_app),
            1,
            "replaced without a backup"
        );
    }
    assert!(!client.path(&big).exists(), "a partial big file");
    assert_eq!(api.get(&big).map(String::into_bytes), Some(big_bytes));
    assert!(
        temp_files(&client.folder).is_empty(),
        "{:?}",
        temp_files(&client.folder)
    );
    // Still running: a change made on the server afterwards arrives.
    api.marker(&format!("after-{tag}"));
    assert!(
        wait_until(DEADLINE, || client
            .path(&format!("after-{tag}.html"))
            .exists()),
        "the client stopped after the full disk; log:\n{}",
        client.log()
    );
    client.stop();
}

// ---------------------------------------------------------------- read-only files and folders

/// Makes `p` unwritable even for root (`chattr +i`; plain permissions bind only non-root),
/// and undoes it on drop so the temp dir can be removed.
struct Locked(PathBuf);

impl Locked {
    fn new(p: &Path) -> Locked {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let ok = if root {
            std::process::Command::new("chattr")
                .arg("+i")
                .arg(p)
                .status()
                .is_ok_and(|s| s.success())
        } else {
            use std::os::unix::fs::PermissionsExt;
            let mode = if p.is_dir() { 0o555 } else { 0o444 };
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).is_ok()
        };
        assert!(ok, "cannot make {} read-only", p.display());
        Locked(p.to_path_buf())
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn read_only_files_and_folders_are_reported_not_retried_forever() {
    // Retries are counted against polls, so this client must poll on its clock (every 0.2 s)
    // rather than long-poll (a request per 25 s when nothing changes).
    let server = TestServer::start_with(ServerOptions {
        demo: true,
        no_long_poll: true,
        ..ServerOptions::default()
    });
    let token = server.token("demo");
    let proxy = Proxy::start(&server.url());
    let api = Api::new(&server.url(), &token);
    let tag = format!("{:08x}", rand::random::<u32>());
    let dir = format!("ro{tag}");
    let in_dir = format!("{dir}/new.txt");
    let file = format!("locked-{tag}.html");
    let t = Timestamp::now();
    assert_eq!(api.put(&in_dir, b"remote new", t), 200);
    assert_eq!(api.put(&file, b"<p>remote newer</p>", t), 200);

    let mut client = Client::start_stopped(&proxy.url, &token);
    std::fs::create_dir_all(client.path(&dir)).expect("dir");
    std::fs::write(client.path(&file), "<p>local old</p>").expect("file");
    set_old_mtime(&client.path(&file));
    let _d = Locked::new(&client.path(&dir));
    let _f = Locked::new(&client.path(&file));
    client.spawn();

    for p in [&in_dir, &file] {
        assert!(
            wait_until(DEADLINE, || client.log().lines().any(|l| l
                .contains(p.as_str())
                && (l.contains("ERROR")
                    || l.contains("WARN")
                    || l.contains("skip")))),
            "no refusal logged for {p}; log:\n{}",
            client.log()
        );
    }
    assert!(
        wait_until(DEADLINE, || client.status()["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Can't write into the sync folder"))),
        "status does not show the refused write: {}",
        client.status()
    );
    let gets = |p: &str| proxy.count("GET", &format!("/api/local-sync/files/{p}"));
    let polls = || proxy.count("GET", "/api/local-sync/changes?");
    // The first session may try a few times (its own rescans); after that, polls go on and
    // the downloads must not.
    let settle = polls();
    assert!(
        wait_until(DEADLINE, || polls() >= settle + 10),
        "the client stopped polling"
    );
    let mid = (gets(&in_dir), gets(&file));
    let start = polls();
    assert!(
        wait_until(DEADLINE, || polls() >= start + 15),
        "the client stopped polling"
    );
    let later = (gets(&in_dir), gets(&file));
    assert!(
        later.0 <= 6 && later.1 <= 6,
        "retried without end: {later:?} downloads over {} polls",
        polls()
    );
    assert_eq!(mid, later, "downloads keep being retried at every poll");
    // Nothing lost: the local file is untouched, the server keeps its copy.
    assert_eq!(client.read(&file).as_deref(), Some("<p>local old</p>"));
    assert_eq!(api.get(&file).as_deref(), Some("<p>remote newer</p>"));
    assert!(!client.path(&in_dir).exists());
    client.stop();
}

#[test]
fn stray_temp_files_of_a_killed_client_are_removed_on_restart() {
    let good = format!("good-{:08x}.html", rand::random::<u32>());
    let server = HostileServer::start(Script::serving(&[(&good, b"<p>good</p>")]));
    let mut client = Client::start_stopped(&server.url, TOKEN);
    // Exactly what a kill mid-write leaves (see the kill tests above).
    std::fs::write(
        client.path(".hyperclay-sync-AbC123.tmp"),
        vec![b'x'; 1 << 20],
    )
    .expect("tmp");
    let versions = client.path("sites-versions/good");
    std::fs::create_dir_all(&versions).expect("versions");
    std::fs::write(
        versions.join(".hyperclay-sync-XyZ789.tmp"),
        b"half a backup",
    )
    .expect("tmp");
    client.spawn();
    assert!(
        wait_until(DEADLINE, || client.read(&good).is_some()),
        "never synced"
    );
    assert!(
        wait_until(DEADLINE, || temp_files(&client.folder).is_empty()),
        "stray temp files stay: {:?}",
        temp_files(&client.folder)
    );
}
