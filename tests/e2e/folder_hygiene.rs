//! End to end: only the user's real files go up, only to the account and server they belong to,
//! and only from the folder that was synced. The real `hyperclay-sync` binary against a real
//! `hyperclay-server`, with the real editors and tools Debian has (scripts/setup.sh test
//! installs them) and exact syscall patterns for the others. Each step asserts exactly which
//! paths the server holds afterwards.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn paths(api: &Api) -> BTreeSet<String> {
    api.paths().into_iter().collect()
}

fn with(set: &BTreeSet<String>, more: &[&str]) -> BTreeSet<String> {
    let mut out = set.clone();
    out.extend(more.iter().map(|s| s.to_string()));
    out
}

/// Proof that the client has looked at the server since now (and so finished any push an
/// earlier local event started): a new remote app, once it is here.
fn round_trip(client: &Client, api: &Api, name: &str) {
    api.marker(name);
    assert!(
        wait_until(DEADLINE, || client.read(&format!("{name}.html")).is_some()),
        "the client never fetched {name}"
    );
}

fn status_error(client: &Client) -> String {
    client.status()["error"].as_str().unwrap_or("").to_owned()
}

#[test]
fn ignored_paths_stay_local_ignored_remote_paths_stay_remote_and_the_ignore_file_is_reread() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    // Planted on the server: a package Node would load from any project in the folder.
    assert_eq!(
        api.put("node_modules/evil/index.js", b"planted", hours_ago(1)),
        200
    );
    let remote_before = paths(&api);

    let mut client = Client::start_stopped(&server.url(), &token);
    client.write("index.html", "<p>home</p>");
    client.write("py/__pycache__/m.cpython-311.pyc", "bytecode");
    client.write("py/m.pyc", "bytecode");
    client.write("#index.html#", "emacs auto-save");
    client.write("build/out.js", "built");
    client.write("notes.txt.orig", "patch leftover");
    client.write("npm-debug.log", "npm");
    client.write("refused/Bad Name.html", "a name the protocol refuses");
    client.write("drafts/plan.txt", "not yet");
    // What Windows and Office leave beside a user's files: Explorer's thumbnail cache and
    // folder settings, Word's owner lock file and its temporary save copy.
    client.write("Thumbs.db", "thumbnails");
    client.write("desktop.ini", "[.ShellClassInfo]");
    client.write("~$x.docx", "owner lock");
    client.write("~WRL0001.tmp", "word temp");
    client.write(".hyperclayignore", "# mine\ndrafts/\n");
    client.spawn();
    client.wait_synced();
    // Files written a moment before the start wait for a quiet moment before they go up.
    assert!(wait_until(DEADLINE, || api.get("index.html").is_some()));
    round_trip(&client, &api, "first");

    assert_eq!(
        paths(&api),
        with(&remote_before, &["index.html", "first.html"])
    );
    assert!(!client.path("node_modules").exists());

    // The user's rules change: the next session lists both sides again under them.
    client.write(".hyperclayignore", "# nothing of mine\n");
    assert!(wait_until(DEADLINE, || api
        .get("drafts/plan.txt")
        .as_deref()
        == Some("not yet")));
    round_trip(&client, &api, "second");
    assert_eq!(
        paths(&api),
        with(
            &remote_before,
            &[
                "index.html",
                "first.html",
                "second.html",
                "drafts",
                "drafts/plan.txt"
            ]
        )
    );

    // A broken rule pauses sync with the line named, rather than syncing everything.
    client.write(".hyperclayignore", "ok.html\n[z-a\n");
    assert!(
        wait_until(DEADLINE, || status_error(&client)
            .contains(".hyperclayignore line 2")),
        "status: {}",
        client.status()
    );
    client.write("later.txt", "written while paused");
    client.write(".hyperclayignore", "drafts/\n");
    assert!(wait_until(DEADLINE, || client.status()["error"].is_null()));
    assert!(wait_until(DEADLINE, || api.get("later.txt").is_some()));
}

/// Syncs `mine.txt` and `shared.txt` as the first identity, then points the same folder at
/// `next` (another account, or another server): a first sync, last write wins with backups.
fn a_new_identity_is_a_first_sync(mut client: Client, first: &Api, next: &Api) {
    client.spawn();
    client.wait_synced();
    client.write("mine.txt", "mine");
    client.write("shared.txt", "shared, newest here");
    assert!(wait_until(DEADLINE, || first.get("mine.txt").is_some()
        && first.get("shared.txt").is_some()));
    client.stop();

    assert_eq!(next.put("shared.txt", b"theirs, older", hours_ago(2)), 200);
    assert_eq!(next.put("newer.txt", b"theirs, newer", hours_ago(0)), 200);
    client.write("newer.txt", "ours, older");
    set_mtime(&client.path("newer.txt"), hours_ago(3));
    client.set_login(&next.url, &next.token);
    client.spawn();
    client.wait_synced();

    // Synced with the first identity is not "deleted remotely" for this one: it goes up.
    assert!(wait_until(DEADLINE, || next.get("mine.txt").as_deref() == Some("mine")));
    assert!(wait_until(DEADLINE, || next.get("shared.txt").as_deref()
        == Some("shared, newest here")));
    assert_eq!(next.versions("shared.txt"), ["theirs, older"]);
    assert_eq!(client.read("newer.txt").as_deref(), Some("theirs, newer"));
    assert_eq!(client.versions("newer"), ["ours, older"]);
    // The first identity's state is kept apart, not destroyed.
    let states = std::fs::read_dir(client.home.path().join("state"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".sqlite"))
        .count();
    assert_eq!(states, 2);
}

#[test]
fn another_account_on_the_same_folder_gets_a_first_sync_not_the_old_base() {
    let server = TestServer::start();
    server.add_user("bob", "bob-password", true, 50);
    let demo = Api::new(&server.url(), &server.token("demo"));
    let bob = Api::new(&server.url(), &server.token("bob"));
    let client = Client::start_stopped(&demo.url, &demo.token);
    a_new_identity_is_a_first_sync(client, &demo, &bob);
}

#[test]
fn another_server_for_the_same_folder_gets_a_first_sync_not_the_old_base() {
    let local = TestServer::start();
    let hosted = TestServer::start();
    let first = Api::new(&local.url(), &local.token("demo"));
    let next = Api::new(&hosted.url(), &hosted.token("demo"));
    let client = Client::start_stopped(&first.url, &first.token);
    a_new_identity_is_a_first_sync(client, &first, &next);
}

#[test]
fn a_folder_that_vanishes_pauses_sync_is_never_recreated_and_resumes_when_back() {
    let rig = Rig::synced_through_proxy(&[("a.html", "<p>a</p>")]);
    let (api, client, proxy) = (&rig.api, &rig.client, rig.proxy());
    assert!(wait_until(DEADLINE, || api.get("a.html").is_some()));
    let away = client.folder.with_extension("away");

    // Unmounted, or moved away: the folder is gone while the app runs.
    std::fs::rename(&client.folder, &away).unwrap();
    assert!(
        wait_until(DEADLINE, || status_error(client).contains("is missing")),
        "status: {}",
        client.status()
    );
    let calls = proxy.seen.lock().unwrap().len();
    api.marker("while-away");
    std::fs::write(away.join("b.html"), "<p>written while away</p>").unwrap();
    // Several probe intervals pass: no call at all, and no folder recreated in its place.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(proxy.seen.lock().unwrap().len(), calls);
    assert!(!client.folder.exists());

    // An empty folder in its place (an empty mount point) is not the synced folder either.
    std::fs::create_dir(&client.folder).unwrap();
    assert!(wait_until(DEADLINE, || status_error(client).contains("not the one")));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(std::fs::read_dir(&client.folder).unwrap().count(), 0);
    assert_eq!(proxy.seen.lock().unwrap().len(), calls);
    std::fs::remove_dir(&client.folder).unwrap();

    // Back: sync resumes by itself, both ways, and nothing was taken as deleted.
    std::fs::rename(&away, &client.folder).unwrap();
    assert!(wait_until(DEADLINE, || client
        .read("while-away.html")
        .is_some()));
    assert!(wait_until(DEADLINE, || api.get("b.html").as_deref()
        == Some("<p>written while away</p>")));
    assert!(client.status()["error"].is_null());
    assert_eq!(client.read("a.html").as_deref(), Some("<p>a</p>"));
    assert_eq!(
        paths(api),
        BTreeSet::from(["a.html".into(), "b.html".into(), "while-away.html".into()])
    );
}

#[test]
fn an_edit_made_while_closed_is_uploaded_even_with_its_mtime_put_back() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let mut client = Client::with_files(&server.url(), &token, &[("x.html", "<p>one</p>")]);
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api.get("x.html").is_some()));
    client.stop();
    // Like `cp -p` or `rsync -t` from elsewhere: same size, the old mtime.
    let file = client.path("x.html");
    let mtime = filetime::FileTime::from_last_modification_time(&file.metadata().unwrap());
    std::fs::write(&file, "<p>two</p>").unwrap();
    filetime::set_file_mtime(&file, mtime).unwrap();
    client.spawn();
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api.get("x.html").as_deref()
        == Some("<p>two</p>")));
}

/// A program run to completion in `dir`; fails the test when it is missing or fails.
fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} cannot run ({e}); scripts/setup.sh test installs it")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An interactive terminal program driven through tmux on its own server socket.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(dir: &Path, command: &str) -> Tmux {
        let socket = format!("hyperclay-test-{}", std::process::id());
        let t = Tmux { socket };
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "100",
            "-y",
            "30",
            "-c",
        ])
        .arg(dir)
        .arg(command)
        .status()
        .expect("tmux cannot run; scripts/setup.sh test installs it");
        t
    }

    fn tmux(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        c
    }

    fn keys(&self, keys: &[&str]) {
        let ok = self
            .tmux(&["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn screen(&self) -> String {
        let out = self
            .tmux(&["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the program exited (its session is gone).
    fn wait_exit(&self) -> bool {
        wait_until(DEADLINE, || {
            !self
                .tmux(&["has-session", "-t", "t"])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .tmux(&["kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn real_editors_and_tools_leave_only_the_users_files_on_the_server() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let client = Client::with_files(
        &server.url(),
        &token,
        &[
            ("vim.html", "<p>v1</p>\n"),
            ("nano.txt", "one\n"),
            ("sed.txt", "colour\n"),
            ("py.txt", "py v1\n"),
            ("node.txt", "node v1\n"),
        ],
    );
    client.wait_synced();
    let dir = client.folder.clone();
    let mut want: BTreeSet<String> = ["vim.html", "nano.txt", "sed.txt", "py.txt", "node.txt"]
        .map(String::from)
        .into();
    assert!(wait_until(DEADLINE, || paths(&api) == want));
    let mut step = 0;
    let mut settle = |want: &mut BTreeSet<String>| {
        step += 1;
        let name = format!("step{step}");
        round_trip(&client, &api, &name);
        want.insert(format!("{name}.html"));
        assert_eq!(paths(&api), *want);
    };

    // vim, writing a backup by renaming the file away (x~, the 4913 probe, .x.swp).
    let vim = Tmux::start(
        &dir,
        "vim -u NONE -N -c 'set backup backupcopy=no' vim.html",
    );
    assert!(wait_until(DEADLINE, || vim.screen().contains("v1")));
    vim.keys(&["ggdG", "i<p>v2</p>", "Escape", ":wq", "Enter"]);
    assert!(vim.wait_exit(), "vim did not exit: {}", vim.screen());
    drop(vim);
    assert!(wait_until(DEADLINE, || api.get("vim.html").as_deref()
        == Some("<p>v2</p>\n")));
    settle(&mut want);

    // nano with backups and lock files.
    let nano = Tmux::start(&dir, "nano --backup --locking nano.txt");
    assert!(wait_until(DEADLINE, || nano.screen().contains("one")));
    nano.keys(&["two ", "C-o"]);
    assert!(wait_until(DEADLINE, || nano
        .screen()
        .contains("File Name to Write")));
    nano.keys(&["Enter"]);
    assert!(wait_until(DEADLINE, || nano.screen().contains("Wrote")));
    nano.keys(&["C-x"]);
    assert!(nano.wait_exit(), "nano did not exit: {}", nano.screen());
    drop(nano);
    assert!(wait_until(DEADLINE, || api.get("nano.txt").as_deref()
        == Some("two one\n")));
    settle(&mut want);

    // GNU sed -i: a sedXXXXXX temp renamed over the file.
    run(&dir, "sed", &["-i", "s/colour/color/", "sed.txt"], &[]);
    assert!(wait_until(DEADLINE, || api.get("sed.txt").as_deref()
        == Some("color\n")));
    settle(&mut want);

    // Python: NamedTemporaryFile in the folder, then os.replace.
    run(
        &dir,
        "python3",
        &[
            "-c",
            "import os, tempfile\n\
             for i in range(5):\n\
             \x20   with tempfile.NamedTemporaryFile('w', dir='.', delete=False) as t:\n\
             \x20       t.write('py v%d\\n' % (i + 2))\n\
             \x20   os.replace(t.name, 'py.txt')\n",
        ],
        &[],
    );
    assert!(wait_until(DEADLINE, || api.get("py.txt").as_deref() == Some("py v6\n")));
    settle(&mut want);

    // Node with npm's write-file-atomic (x.<murmur hash> renamed into place).
    run(
        &dir,
        "node",
        &[
            "-e",
            "const w = require('write-file-atomic');\
             for (let i = 2; i <= 6; i++) w.sync('node.txt', `node v${i}\\n`);",
        ],
        &[("NODE_PATH", "/usr/share/nodejs")],
    );
    assert!(wait_until(DEADLINE, || api.get("node.txt").as_deref()
        == Some("node v6\n")));
    settle(&mut want);

    // git: a repository in the folder; its .git/ never goes up, its work tree does.
    let git = |args: &[&str]| {
        run(
            &dir,
            "git",
            args,
            &[
                ("GIT_AUTHOR_NAME", "t"),
                ("GIT_AUTHOR_EMAIL", "t@example.com"),
                ("GIT_COMMITTER_NAME", "t"),
                ("GIT_COMMITTER_EMAIL", "t@example.com"),
            ],
        )
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "vim.html"]);
    git(&["commit", "-q", "-m", "one"]);
    git(&["checkout", "-q", "-b", "topic"]);
    std::fs::write(dir.join("vim.html"), "<p>topic</p>\n").unwrap();
    git(&["commit", "-q", "-am", "two"]);
    git(&["checkout", "-q", "main"]);
    assert!(wait_until(DEADLINE, || api.get("vim.html").as_deref()
        == Some("<p>v2</p>\n")));
    settle(&mut want);
}

#[test]
fn save_patterns_of_other_editors_upload_only_the_saved_file() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let client = Client::with_files(
        &server.url(),
        &token,
        &[
            ("jb.html", "<p>jb v1</p>"),
            ("chrome.html", "<p>chrome v1</p>"),
            ("emacs.html", "<p>emacs v1</p>"),
            ("gedit.txt", "gedit v1"),
        ],
    );
    client.wait_synced();
    let dir = client.folder.clone();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let mv = |from: &str, to: &str| std::fs::rename(dir.join(from), dir.join(to)).unwrap();

    // JetBrains safe write: x___jb_tmp___ written, x renamed to x___jb_old___, the temp
    // renamed to x, the old one deleted.
    write("jb.html___jb_tmp___", "<p>jb v2</p>");
    mv("jb.html", "jb.html___jb_old___");
    mv("jb.html___jb_tmp___", "jb.html");
    std::fs::remove_file(dir.join("jb.html___jb_old___")).unwrap();
    // Chrome's File System Access save: x.crswap written, renamed over x.
    write("chrome.html.crswap", "<p>chrome v2</p>");
    mv("chrome.html.crswap", "chrome.html");
    // Emacs: a lock symlink .#x, an auto-save #x#, the backup x~ by rename, then the save.
    #[cfg(unix)]
    std::os::unix::fs::symlink("user@host.1234:1", dir.join(".#emacs.html")).unwrap();
    write("#emacs.html#", "<p>emacs autosave</p>");
    mv("emacs.html", "emacs.html~");
    write("emacs.html", "<p>emacs v2</p>");
    std::fs::remove_file(dir.join("#emacs.html#")).unwrap();
    let _ = std::fs::remove_file(dir.join(".#emacs.html"));
    // gedit: .goutputstream-XXXXXX renamed over the file.
    write(".goutputstream-AB12CD", "gedit v2");
    mv(".goutputstream-AB12CD", "gedit.txt");

    for (path, text) in [
        ("jb.html", "<p>jb v2</p>"),
        ("chrome.html", "<p>chrome v2</p>"),
        ("emacs.html", "<p>emacs v2</p>"),
        ("gedit.txt", "gedit v2"),
    ] {
        assert!(
            wait_until(DEADLINE, || api.get(path).as_deref() == Some(text)),
            "{path}"
        );
    }
    round_trip(&client, &api, "done");
    assert_eq!(
        paths(&api),
        BTreeSet::from(
            [
                "jb.html",
                "chrome.html",
                "emacs.html",
                "gedit.txt",
                "done.html"
            ]
            .map(String::from)
        )
    );
}

/// A folder made while the app runs and at once filled with nothing but ignored files never goes
/// up as an empty folder; a folder left empty does (an empty folder is the user's too).
#[test]
fn a_folder_made_and_filled_with_ignored_files_at_once_is_not_created_remotely() {
    let rig = Rig::synced(&[]);
    let (api, client) = (&rig.api, &rig.client);
    // Made, then filled a moment later, as a tool does (well inside the 200 ms second look).
    std::fs::create_dir(client.path("cache")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(client.path("cache/m.pyc"), "bytecode").unwrap();
    std::fs::create_dir(client.path("keep")).unwrap();
    assert!(
        wait_until(DEADLINE, || paths(api).contains("keep")),
        "the empty folder never went up"
    );
    // Nothing to wait for when nothing should happen: well past the second look (200 ms).
    std::thread::sleep(std::time::Duration::from_secs(1));
    round_trip(client, api, "later");
    assert!(!paths(api).contains("cache"), "{:?}", paths(api));
}

/// Two local names that Windows or macOS could not tell apart (made on Linux) would both be kept
/// on the server for good: only the first goes up, at the start and on a live save alike, and the
/// other is logged once with what to do.
#[test]
fn local_names_that_differ_only_in_case_or_unicode_form_go_up_once() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let mut client = Client::start_stopped(&server.url(), &token);
    client.write("img/Photo.png", "first");
    client.write("img/photo.png", "second");
    client.write("caf\u{e9}.txt", "composed");
    client.write("cafe\u{301}.txt", "decomposed");
    client.spawn();
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api.get("img/Photo.png").is_some()));
    client.write("img/PHOTO.png", "a live save of a third spelling");
    client.write("live.txt", "after it");
    assert!(wait_until(DEADLINE, || api.get("live.txt").is_some()));
    round_trip(&client, &api, "done");
    let on_server = paths(&api);
    let want: BTreeSet<String> = [
        "img",
        "img/Photo.png",
        "cafe\u{301}.txt",
        "live.txt",
        "done.html",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(on_server, want);
    let log = client.log();
    for skipped in ["img/photo.png", "img/PHOTO.png", "caf\u{e9}.txt"] {
        assert_eq!(
            log.matches(&format!("skip {skipped:?}")).count(),
            1,
            "{skipped} not logged once:\n{log}"
        );
    }
}
