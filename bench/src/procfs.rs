//! What `/proc` says about a process: resident memory and CPU time; and the machine's load,
//! printed so that numbers from a busy (shared) machine can be recognised as such.

use anyhow::Context;

/// `/proc` reports CPU time in USER_HZ ticks, fixed at 100 per second on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

/// The resident set size (`VmRSS`) of `pid` (`"self"` for this process), in KiB.
pub fn rss_kib(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in {path}"))
}

/// User plus system CPU time of `pid` so far, in seconds.
pub fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let times = cpu_times(pid)?;
    Ok(times.user + times.system)
}

/// CPU time of a process so far, split by mode, in seconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuTimes {
    pub user: f64,
    pub system: f64,
}

/// User and system CPU time of `pid` (all its threads) so far.
pub fn cpu_times(pid: &str) -> anyhow::Result<CpuTimes> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    // Fields after the command name (which may contain spaces) start at field 3 (`state`);
    // `utime` and `stime` are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .with_context(|| format!("short {path}"))?
            .parse::<f64>()?)
    };
    Ok(CpuTimes {
        user: ticks(11)? / TICKS_PER_SECOND,
        system: ticks(12)? / TICKS_PER_SECOND,
    })
}

/// Context switches (voluntary plus involuntary) of every live thread of `pid` so far. A
/// thread that blocks (waits for a socket, parks for work) counts one voluntary switch each
/// time, so the growth per request says how often a request put a thread to sleep and woke it.
pub fn context_switches(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter_map(|line| {
                    let rest = line
                        .strip_prefix("voluntary_ctxt_switches:")
                        .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))?;
                    rest.trim().parse::<u64>().ok()
                })
                .sum::<u64>()
        })
        .sum()
}

/// User plus system CPU time so far of each process whose command is `name` (e.g. all of
/// PostgreSQL's backends and helpers), by pid, in seconds.
pub fn cpu_seconds_by_pid(name: &str) -> std::collections::HashMap<u32, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return std::collections::HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(|pid| Some((pid, cpu_seconds(&pid.to_string()).ok()?)))
        .collect()
}

/// CPU seconds the processes named `name` spent since `before` (a [`cpu_seconds_by_pid`]
/// reading): the growth of those still running plus all of those started since. Processes
/// that ended in between are left out, so this is a lower bound.
pub fn cpu_seconds_since(name: &str, before: &std::collections::HashMap<u32, f64>) -> f64 {
    cpu_seconds_by_pid(name)
        .into_iter()
        .map(|(pid, now)| now - before.get(&pid).copied().unwrap_or(0.0))
        .filter(|spent| *spent > 0.0)
        .sum()
}

/// The 1-minute load average and the number of cores, e.g. for "load 1.9 on 2 cores".
pub fn load() -> String {
    let average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("load average {average} on {cores} cores")
}
