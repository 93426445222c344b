//! The no-data-loss soak: seeded random steps against the real server and the real client —
//! local edits, creates, renames and deletes; remote saves (`POST /save/{app}`) and PUTs;
//! platform deletes; the server killed and restarted; polls failing through a proxy; the client
//! SIGKILLed and restarted. At the end every content that ever existed on either side must be
//! somewhere the user can get it back: the local folder, the remote, local `sites-versions/`,
//! or the server's versions.
//!
//! Reproduce a run with its seed: `SOAK_SEED=1234 SOAK_STEPS=200 cargo test -p hyperclay-sync
//! --test e2e soak_no_data_loss -- --nocapture`. Long run: `SOAK_STEPS=10000` (see
//! docs/reliability.md).

use crate::common;
use crate::hostile;
use crate::processes;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Api, Client, DEADLINE, Proxy, TestServer, wait_until};
use hyperclay_protocol::Timestamp;
use hyperclay_testkit::wait::pause_until;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How long a pause, or a window of failing polls, lasts at most. The client long-polls: a change
/// wakes it within milliseconds, and with nothing to sync its poll is held 25 s, so a wait for
/// "two more polls" with nothing changed ran to its deadline, and 200 steps took 12 minutes of
/// mostly idle waiting. The end of the run still waits the full DEADLINE for the last changes.
const IDLE_WAIT: Duration = Duration::from_secs(2);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The files the soak plays with: a fixed path per app name (two local files for one app name
/// would be a user error the engine rightly refuses to sync), uploads at and below the root.
fn pool(seed: u64) -> Vec<String> {
    let mut p = Vec::new();
    for i in 0..4 {
        p.push(format!("s{seed}a{i}.html"));
    }
    for i in 4..6 {
        p.push(format!("d1/s{seed}a{i}.html"));
    }
    for i in 0..3 {
        p.push(format!("u{i}.txt"));
        p.push(format!("d1/d2/u{i}.txt"));
    }
    p
}

struct Soak {
    rng: StdRng,
    seed: u64,
    server: TestServer,
    proxy: Proxy,
    api: Api,
    client: Client,
    paths: Vec<String>,
    /// Every content ever written, by either side, with where and how it was made.
    written: BTreeMap<String, String>,
    counter: u64,
    log: Vec<String>,
}

impl Soak {
    fn content(&mut self, path: &str, how: &str) -> String {
        self.counter += 1;
        let body = format!(
            "<p>seed {} step {} {how} {path}</p>\n",
            self.seed, self.counter
        );
        self.written.insert(body.clone(), format!("{how} {path}"));
        body
    }

    fn local_versions(&self) -> BTreeSet<String> {
        let dir = self.client.folder.join("sites-versions");
        hostile::files_under(&dir)
            .iter()
            .filter_map(|p| std::fs::read_to_string(dir.join(p)).ok())
            .collect()
    }

    /// The content is somewhere besides the user's working file: on the server (current or a
    /// version) or in a local backup.
    fn settled(&self, path: &str, content: &str) -> bool {
        self.api.get(path).as_deref() == Some(content)
            || self.api.versions(path).iter().any(|v| v == content)
            || self.local_versions().contains(content)
    }

    fn wait_settled(&self, path: &str, content: &str) {
        assert!(
            wait_until(DEADLINE, || self.settled(path, content)),
            "seed {}: {path}'s local content never reached the server or a backup: {content:?}\n\
             steps:\n{}\nclient log:\n{}\nclient stderr:\n{}\nrunning: {:?}",
            self.seed,
            self.log.join("\n"),
            self.client.log(),
            std::fs::read_to_string(self.client.home.path().join("stderr.log")).unwrap_or_default(),
            processes::pids_with_arg(&self.client.folder.to_string_lossy()),
        );
    }

    fn pick(&mut self) -> String {
        let i = self.rng.random_range(0..self.paths.len());
        self.paths[i].clone()
    }

    fn step(&mut self, n: usize) {
        let roll = self.rng.random_range(0..100);
        let path = self.pick();
        let local = self.client.path(&path);
        let what = match roll {
            0..=29 => {
                let how = if local.exists() { "edit" } else { "create" };
                let body = self.content(&path, how);
                if let Some(parent) = local.parent() {
                    std::fs::create_dir_all(parent).expect("folder");
                }
                std::fs::write(&local, &body).expect("local write");
                self.log.push(format!("{n}: local {how} {path}"));
                self.wait_settled(&path, &body);
                format!("local {how}")
            }
            30..=37 => {
                let to = self.pick();
                let target = self.client.path(&to);
                if to == path || !local.exists() || target.exists() {
                    return;
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).expect("folder");
                }
                std::fs::rename(&local, &target).expect("rename");
                format!("local rename -> {to}")
            }
            38..=45 => {
                if std::fs::remove_file(&local).is_err() {
                    return;
                }
                "local delete".into()
            }
            46..=57 => {
                let body = self.content(&path, "remote put");
                let status = self.api.put(&path, body.as_bytes(), Timestamp::now());
                if status != 200 {
                    self.written.remove(&body);
                    format!("remote put refused ({status})")
                } else {
                    "remote put".into()
                }
            }
            58..=67 => {
                let Some(stem) = path
                    .rsplit('/')
                    .next()
                    .and_then(|n| n.strip_suffix(".html"))
                    .map(str::to_owned)
                else {
                    return;
                };
                if self.api.get(&path).is_none() {
                    return;
                }
                let body = self.content(&path, "remote save");
                self.api.save(&stem, &body);
                "remote save".into()
            }
            68..=73 => {
                if self.api.get(&path).is_none() {
                    return;
                }
                self.server.rm("demo", &path);
                "platform delete".into()
            }
            74..=78 => {
                self.server.restart();
                "server restart".into()
            }
            79..=83 => {
                processes::kill_all_with_arg(&self.client.folder.to_string_lossy());
                let starts = |log: String| log.matches("Engine started").count();
                let before = starts(self.client.log());
                self.client.spawn();
                assert!(
                    wait_until(DEADLINE, || starts(self.client.log()) > before),
                    "the restarted client did not start: {}",
                    std::fs::read_to_string(self.client.home.path().join("stderr.log"))
                        .unwrap_or_default()
                );
                "client SIGKILL + restart".into()
            }
            84..=87 => {
                // The connection drops under a few polls (the proxy answers 500 instead of
                // reaching the server): each failed poll is retried at 1-5 s (past the last
                // retry the session ends and a new one reconciles both sides).
                let polls = "GET /api/local-sync/changes";
                let seen = self.proxy.count("GET", "/api/local-sync/changes");
                self.proxy.fail(polls, 500, "internal");
                pause_until(IDLE_WAIT, || {
                    self.proxy.count("GET", "/api/local-sync/changes") >= seen + 2
                });
                self.proxy.heal();
                "polls fail".into()
            }
            _ => {
                self.wait_polls(2, IDLE_WAIT);
                "pause".into()
            }
        };
        self.log.push(format!("{n}: {what} {path}"));
    }

    /// Waits until the client finished `n` more polls (its `lastSync` moved on `n` times), each
    /// for at most `within`.
    fn wait_polls(&self, n: usize, within: Duration) {
        for _ in 0..n {
            let before = self.client.status()["lastSync"].clone();
            pause_until(within, || {
                let now = self.client.status()["lastSync"].clone();
                !now.is_null() && now != before
            });
        }
    }

    /// Everything the user can still get back.
    fn recoverable(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = BTreeSet::new();
        for p in hostile::files_under(&self.client.folder) {
            if let Ok(s) = std::fs::read_to_string(self.client.folder.join(&p)) {
                all.insert(s);
            }
        }
        let mut remote_paths: BTreeSet<String> = self.paths.iter().cloned().collect();
        remote_paths.extend(self.api.paths());
        for p in &remote_paths {
            if let Some(s) = self.api.get(p) {
                all.insert(s);
            }
            all.extend(self.api.versions(p));
        }
        all
    }
}

#[test]
fn no_version_is_ever_lost() {
    let seed = env_u64("SOAK_SEED").unwrap_or_else(|| rand::random::<u32>() as u64);
    let steps = env_u64("SOAK_STEPS").unwrap_or(200) as usize;
    eprintln!("soak: SOAK_SEED={seed} SOAK_STEPS={steps}");
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    // The client talks through a proxy that can fail requests; the test talks to the server.
    let proxy = Proxy::start(&server.url());
    let client = Client::start(&proxy.url, &token);
    client.wait_synced();
    let mut soak = Soak {
        rng: StdRng::seed_from_u64(seed),
        seed,
        server,
        proxy,
        api,
        client,
        paths: pool(seed),
        written: BTreeMap::new(),
        counter: 0,
        log: Vec::new(),
    };
    for n in 0..steps {
        soak.step(n);
    }
    // Let the last changes land before counting.
    let before = soak.client.status()["lastSync"].clone();
    soak.wait_polls(3, DEADLINE);
    assert_ne!(
        soak.client.status()["lastSync"],
        before,
        "the client stopped syncing"
    );
    let recoverable = soak.recoverable();
    let lost: Vec<(&String, &String)> = soak
        .written
        .iter()
        .filter(|(c, _)| !recoverable.contains(*c))
        .collect();
    let written = soak.written.len();
    eprintln!(
        "soak seed {seed}, {steps} steps: versions written {written} / versions recoverable {}",
        written - lost.len()
    );
    assert!(
        lost.is_empty(),
        "seed {seed}: {} of {written} versions lost: {lost:#?}\nsteps:\n{}\nclient log:\n{}",
        lost.len(),
        soak.log.join("\n"),
        soak.client.log()
    );
    assert!(written > 0, "the soak wrote nothing, so it proved nothing");
}
