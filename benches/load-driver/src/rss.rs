//! Memory and CPU time of a process and its descendants, from /proc (Linux only). The
//! descendants count because a server may do its work in child processes (codesync's
//! untrusted-input guard tries every update in worker processes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;

/// Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on every Linux this
/// driver runs on; reading it would take libc's sysconf).
const TICKS_PER_SEC: f64 = 100.0;

/// VmRSS of one process in KiB.
fn own_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The fields of /proc/PID/stat after the command name: (ppid, utime + stime ticks).
fn stat_of(pid: &str) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields are counted after its closing ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of proc(5), so ppid (4) is 1, utime (14) and stime (15)
    // are 11 and 12.
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// `pid` and every process below it.
fn tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(child) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((ppid, _)) = stat_of(&child.to_string()) {
                children.entry(ppid).or_default().push(child);
            }
        }
    }
    let mut all = vec![pid];
    let mut i = 0;
    while let Some(&p) = all.get(i) {
        all.extend(children.get(&p).into_iter().flatten().copied());
        i += 1;
    }
    all
}

/// VmRSS of `pid` and its descendants, in KiB (`None` when `pid` is gone).
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let own = own_rss_kib(pid)?;
    let rest: u64 = tree(pid)
        .iter()
        .skip(1)
        .filter_map(|&p| own_rss_kib(p))
        .sum();
    Some(own + rest)
}

/// User + system CPU seconds used by `pid` ("self" for this process), with the live
/// descendants of a numeric pid (children that already exited are not counted).
pub(crate) fn cpu_secs(pid: &str) -> Option<f64> {
    let (_, own) = stat_of(pid)?;
    let rest: u64 = match pid.parse::<u32>() {
        Ok(p) => tree(p)
            .iter()
            .skip(1)
            .filter_map(|c| stat_of(&c.to_string()).map(|s| s.1))
            .sum(),
        Err(_) => 0,
    };
    Some((own + rest) as f64 / TICKS_PER_SEC)
}

/// RSS over the run, in KiB.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct RssSummary {
    /// First sample, before the clients connect.
    pub(crate) start_kib: u64,
    /// When the load started (every client joined).
    pub(crate) loaded_kib: u64,
    /// Highest sample.
    pub(crate) peak_kib: u64,
    /// When the last delivery completed, before the clients disconnect.
    pub(crate) end_kib: u64,
    /// Samples taken (every 100 ms).
    pub(crate) samples: u64,
}

/// Samples a process's RSS every 100 ms in the background.
#[derive(Debug)]
pub(crate) struct Sampler {
    pid: u32,
    state: Arc<Mutex<RssSummary>>,
    task: JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling `pid`; `None` when it has no readable /proc entry.
    pub(crate) fn spawn(pid: u32) -> Option<Self> {
        let first = rss_kib(pid)?;
        let state = Arc::new(Mutex::new(RssSummary {
            start_kib: first,
            loaded_kib: first,
            peak_kib: first,
            end_kib: first,
            samples: 1,
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                let Some(kib) = rss_kib(pid) else { return };
                let mut s = shared.lock().expect("sampler lock");
                s.peak_kib = s.peak_kib.max(kib);
                s.end_kib = kib;
                s.samples += 1;
            }
        });
        Some(Self { pid, state, task })
    }

    /// Notes the RSS now as the "loaded" figure.
    pub(crate) fn mark_loaded(&self) {
        if let Some(kib) = rss_kib(self.pid) {
            let mut s = self.state.lock().expect("sampler lock");
            s.loaded_kib = kib;
            s.peak_kib = s.peak_kib.max(kib);
        }
    }

    /// Stops sampling, with one last sample as the end figure.
    pub(crate) fn finish(self) -> RssSummary {
        self.task.abort();
        let mut s = *self.state.lock().expect("sampler lock");
        if let Some(kib) = rss_kib(self.pid) {
            s.end_kib = kib;
            s.peak_kib = s.peak_kib.max(kib);
            s.samples += 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_child_processes() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        let me = std::process::id();
        assert!(tree(me).contains(&child.id()));
        assert!(rss_kib(me).expect("rss") > own_rss_kib(me).expect("own rss"));
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(rss_kib(pid).is_some_and(|k| k > 0));
        assert!(cpu_secs("self").is_some());
        assert!(cpu_secs(&pid.to_string()).is_some());
    }
}
