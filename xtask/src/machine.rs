//! What the bench learns from /proc: the machine a run happened on (cores, CPU model, RAM, load)
//! and one process's resident memory, CPU time, threads and context switches. Read-only; it
//! must never signal or change a process.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The machine and its load when the run started and ended.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub ram_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram_kib = field_kib(&meminfo, "MemTotal:").unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            ram_gib: ram_kib as f64 / (1024.0 * 1024.0),
            kernel,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"cores": self.cores, "cpu": self.cpu, "ramGiB": (self.ram_gib * 10.0).round() / 10.0,
               "kernel": self.kernel})
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn field_kib(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// One look at a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
    /// Proportional set size: shared library pages split among the processes mapping them.
    pub pss_kib: u64,
    pub threads: u64,
    /// utime + stime, in seconds.
    pub cpu_secs: f64,
    /// Voluntary + involuntary context switches over every thread: each one is a wake-up.
    pub switches: u64,
}

impl ProcSample {
    pub fn read(pid: u32) -> Result<ProcSample> {
        let dir = format!("/proc/{pid}");
        let status = std::fs::read_to_string(format!("{dir}/status"))
            .with_context(|| format!("reading {dir}/status (has the process exited?)"))?;
        let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
        // The command name may hold spaces and parentheses: fields count from the last ')'.
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("unexpected /proc/PID/stat")?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; `after` starts at field 3.
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let hz = clock_ticks();
        Ok(ProcSample {
            rss_kib: field_kib(&status, "VmRSS:").unwrap_or(0),
            hwm_kib: field_kib(&status, "VmHWM:").unwrap_or(0),
            anon_kib: field_kib(&status, "RssAnon:").unwrap_or(0),
            file_kib: field_kib(&status, "RssFile:").unwrap_or(0),
            pss_kib: std::fs::read_to_string(format!("{dir}/smaps_rollup"))
                .ok()
                .and_then(|s| field_kib(&s, "Pss:"))
                .unwrap_or(0),
            threads: field_kib(&status, "Threads:").unwrap_or(0),
            cpu_secs: (ticks(11) + ticks(12)) as f64 / hz,
            switches: thread_switches(Path::new(&dir)),
        })
    }
}

fn thread_switches(dir: &Path) -> u64 {
    let Ok(tasks) = std::fs::read_dir(dir.join("task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|s| {
            field_kib(&s, "voluntary_ctxt_switches:").unwrap_or(0)
                + field_kib(&s, "nonvoluntary_ctxt_switches:").unwrap_or(0)
        })
        .sum()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_can_be_sampled() {
        let s = ProcSample::read(std::process::id()).unwrap();
        assert!(s.rss_kib > 0 && s.threads >= 1 && s.hwm_kib >= s.rss_kib / 2);
        assert!(Machine::read().cores >= 1);
    }
}
