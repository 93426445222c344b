//! Finding and killing the test's own child processes by a unique argument (the client's
//! folder path), and reading their memory, for crash and soak tests. Only ever signals a pid
//! whose command line carries the caller's unique argument.
#![allow(dead_code)]

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

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

/// SIGKILLs every process running with `arg` and waits until they are gone.
pub fn kill_all_with_arg(arg: &str) {
    let pids = pids_with_arg(arg);
    assert!(!pids.is_empty(), "no process runs with {arg}");
    for pid in &pids {
        sigkill(*pid);
    }
    assert!(
        crate::common::wait_until(crate::common::DEADLINE, || pids.iter().all(|p| !alive(*p))),
        "killed processes did not die"
    );
}
