//! Finding and killing the test's own child processes by a unique argument (the client's
//! folder path), and reading their memory, for crash and soak tests. Only ever signals a pid
//! whose command line carries the caller's unique argument.

/// Pids whose command line has `arg` as one of its arguments.
pub fn pids_with_arg(arg: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// SIGKILL `pid`; true when the signal was sent.
pub fn sigkill(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// True while `pid` exists and is not a fully exited zombie. A killed multi-threaded process
/// shows its leader as a zombie while other threads are still tearing down (and still hold its
/// files and locks), so every thread must be gone.
pub fn alive(pid: u32) -> bool {
    let zombie_leader = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim().to_owned()))
        .map(|rest| rest.starts_with('Z'));
    match zombie_leader {
        None => false,
        Some(false) => true,
        Some(true) => std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.count() > 1)
            .unwrap_or(false),
    }
}

/// SIGKILLs every process running with `arg` and waits until they are gone.
pub fn kill_all_with_arg(arg: &str) {
    // A process spawned a moment ago may not show its final command line yet.
    let mut pids = Vec::new();
    crate::common::wait_until(crate::common::DEADLINE, || {
        pids = pids_with_arg(arg);
        !pids.is_empty()
    });
    if pids.is_empty() {
        let ps = std::process::Command::new("ps")
            .args(["-eo", "pid,stat,args"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ours: Vec<&str> = ps.lines().filter(|l| l.contains(arg)).collect();
        panic!("no process runs with {arg}; ps: {ours:?}");
    }
    for pid in &pids {
        sigkill(*pid);
    }
    assert!(
        crate::common::wait_until(crate::common::DEADLINE, || pids.iter().all(|p| !alive(*p))),
        "killed processes did not die"
    );
}
