//! This process as the other processes sharing the database see it: a fresh
//! random id for every start, the host and pid (to tell at start-up that a process
//! that ran on this machine before is gone), and the heartbeat that keeps it alive
//! in `processes` ([`crate::store::processes`]). The claims a process holds carry
//! its id; when it is dead they are finished at once, by a restart of it or by
//! another process, instead of after their lease.

use std::hash::{BuildHasher, Hasher};

/// How many Socket Mode connections Slack allows one app at a time, counting every
/// process: processes x `PREPBOT_SLACK_CONNECTIONS` must stay within it.
pub const SLACK_CONNECTIONS_PER_APP: u32 = 10;

/// Who this process is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    /// Random, new at every start: a restart is a different process, so the claims
    /// of the one before are recognisably someone else's.
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl ProcessIdentity {
    /// A new identity for this process. The id takes 128 bits from the standard
    /// library's randomly seeded hasher keys, mixed with the time and the pid: unique
    /// among the processes of one database, which is all it has to be (it is not a
    /// secret).
    pub fn fresh() -> Self {
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut halves = [0u64; 2];
        for (i, half) in halves.iter_mut().enumerate() {
            let mut h = std::hash::RandomState::new().build_hasher();
            h.write_u128(nanos);
            h.write_u32(pid);
            h.write_usize(i);
            *half = h.finish();
        }
        ProcessIdentity {
            id: format!("{:016x}{:016x}", halves[0], halves[1]),
            host: host_name(),
            pid,
        }
    }

    /// The first 8 characters of the id: enough to tell processes apart in `status`.
    pub fn short_id(id: &str) -> &str {
        id.get(..8).unwrap_or(id)
    }

    /// Whether a process registered from `host` with `pid` is certainly gone, seen
    /// from this process: same host, and either its pid is ours (a pid names one
    /// running process; a container restart reuses pid 1) or no process has that pid.
    /// Anything else (another host, or a pid that is running, perhaps reused) is left
    /// to the heartbeat.
    pub fn knows_gone(&self, host: &str, pid: u32) -> bool {
        if host != self.host || self.host.is_empty() {
            return false;
        }
        pid == self.pid || !pid_running(pid)
    }
}

/// Why two processes' Discord shard settings ("FIRST-LAST/TOTAL") cannot both run:
/// a different TOTAL (Discord would route a server to different shards in each), or
/// a shard in both ranges (its events would be handled twice). `None` when they fit
/// together, or when either is not a range this parser reads (the adapter checked
/// its own already).
pub fn shard_conflict(mine: &str, theirs: &str) -> Option<String> {
    let (a, b) = (parse_shards(mine)?, parse_shards(theirs)?);
    if a.2 != b.2 {
        return Some(format!(
            "this process has {} shards in total and another has {}: every process must use the same TOTAL",
            a.2, b.2
        ));
    }
    (a.0 <= b.1 && b.0 <= a.1).then(|| {
        format!(
            "shards {}-{} of this process overlap shards {}-{} of another: give every shard to exactly one process",
            a.0, a.1, b.0, b.1
        )
    })
}

fn parse_shards(text: &str) -> Option<(u32, u32, u32)> {
    let (range, total) = text.split_once('/')?;
    let (first, last) = range.split_once('-').unwrap_or((range, range));
    Some((
        first.trim().parse().ok()?,
        last.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

/// The machine's host name, or "" when it cannot be read (then nothing is judged
/// gone by host, only by heartbeat).
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// Whether a process with this pid exists. On Linux, /proc tells; elsewhere assume
/// it does, so only the heartbeat decides.
fn pid_running(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ranges_conflict_when_they_overlap_or_disagree_on_the_total() {
        assert_eq!(shard_conflict("0-1/4", "2-3/4"), None);
        assert_eq!(shard_conflict("3/4", "0-2/4"), None);
        let overlap = shard_conflict("0-2/4", "2-3/4").unwrap();
        assert!(
            overlap.contains("shards 0-2 of this process overlap shards 2-3"),
            "{overlap}"
        );
        assert!(shard_conflict("1/4", "1-1/4").is_some());
        let totals = shard_conflict("0-1/4", "0-1/8").unwrap();
        assert!(
            totals.contains("4 shards in total and another has 8"),
            "{totals}"
        );
        assert_eq!(shard_conflict("nonsense", "0-1/4"), None);
    }

    #[test]
    fn every_start_gets_a_new_id() {
        let (a, b) = (ProcessIdentity::fresh(), ProcessIdentity::fresh());
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 32);
        assert_eq!(a.pid, std::process::id());
    }

    #[test]
    fn a_process_on_this_host_is_gone_when_its_pid_is_ours_or_not_running() {
        let me = ProcessIdentity {
            id: "x".into(),
            host: "box".into(),
            pid: std::process::id(),
        };
        assert!(me.knows_gone("box", me.pid), "our pid, another id: gone");
        // A pid far above any pid_max in use.
        assert!(me.knows_gone("box", 4_000_000_000));
        // pid 1 runs on every Linux machine.
        if std::path::Path::new("/proc/1").exists() {
            assert!(!me.knows_gone("box", 1));
        }
        assert!(
            !me.knows_gone("other-box", 4_000_000_000),
            "another host: heartbeat only"
        );
        let nameless = ProcessIdentity {
            host: String::new(),
            ..me
        };
        assert!(!nameless.knows_gone("", 4_000_000_000));
    }
}
