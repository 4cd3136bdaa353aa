//! Where a figure was measured (the machine, the profile, the pinning, the load) and
//! the arithmetic the scenarios share: percentiles, medians of runs, Markdown tables.

use std::time::Duration;

use crate::Options;

/// The machine, read once before the harness pins itself.
#[derive(Debug, Clone)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub mem_gib: f64,
    pub rustc: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown CPU", |(_, v)| v.trim())
            .to_string();
        let mem_kb = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0);
        let rustc = std::process::Command::new("rustc")
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            mem_gib: mem_kb / 1024.0 / 1024.0,
            rustc,
        }
    }

    /// The lines every table starts with.
    pub fn header(&self, o: &Options, pinned: bool, load_before: &str, load_after: &str) -> String {
        let profile = if cfg!(debug_assertions) {
            "debug (not representative)"
        } else {
            "release (`cargo bench`)"
        };
        let pinning = if pinned {
            format!(
                "bot on CPU {}, fake Discord + driver on CPU {} (taskset)",
                crate::bot::BOT_CPU,
                crate::bot::DRIVER_CPU
            )
        } else {
            "none".to_string()
        };
        format!(
            "Machine: nproc {}, {}, {:.0} GiB RAM, {}. Profile: {profile}; bot binary `{}`. \
             Pinning: {pinning}. Runs: {}{}, each figure the median of the runs. \
             Load average (1 min) {load_before} before, {load_after} after: \
             anything above 0 is other work sharing the machine.",
            self.nproc,
            self.cpu,
            self.mem_gib,
            self.rustc,
            crate::bot::prepbot_bin().display(),
            o.runs,
            if o.quick { " (--quick)" } else { "" },
        )
    }
}

/// The 1-minute load average.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

/// How long, in all, some task on the machine has waited for a CPU since boot
/// (`/proc/pressure/cpu`, the "some" line's total, in µs): over an interval, the
/// share of it that something runnable found no free core. `None` without PSI.
pub fn cpu_waited_us() -> Option<u64> {
    std::fs::read_to_string("/proc/pressure/cpu")
        .ok()?
        .lines()
        .find(|l| l.starts_with("some "))?
        .split_whitespace()
        .find_map(|w| w.strip_prefix("total="))?
        .parse()
        .ok()
}

/// Nearest-rank percentile of sorted samples (`p` in 0..=100).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Events per second over the whole seconds from `from` (at most `until`): with a
/// sliding one-second limit of R, no such count can exceed R per second, where
/// first-to-last over a short span could (the first window may fill at once).
/// `None` when less than a second passed.
pub fn per_second(
    times: &[std::time::Instant],
    from: std::time::Instant,
    until: std::time::Instant,
) -> Option<f64> {
    let secs = until.saturating_duration_since(from).as_secs();
    if secs == 0 {
        return None;
    }
    let end = from + Duration::from_secs(secs);
    let n = times.iter().filter(|t| **t >= from && **t < end).count();
    Some(n as f64 / secs as f64)
}

/// The median (the lower middle for an even count).
pub fn median<T: PartialOrd + Copy>(values: &[T]) -> T {
    assert!(!values.is_empty(), "the median of no runs");
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[(v.len() - 1) / 2]
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// Thousands separators for counts and rates.
pub fn count(n: f64) -> String {
    let s = format!("{:.0}", n.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// One scenario's output: a title, tables and notes.
#[derive(Debug, Default)]
pub struct Section {
    pub title: String,
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
}

impl Section {
    pub fn new(title: impl Into<String>) -> Section {
        Section {
            title: title.into(),
            ..Section::default()
        }
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn render(&self, header: &str) -> String {
        let mut out = format!(
            "### {} ({})\n\n{header}\n\n",
            self.title,
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        );
        for t in &self.tables {
            out.push_str(&t.render());
            out.push('\n');
        }
        for n in &self.notes {
            out.push_str(&format!("- {n}\n"));
        }
        out
    }
}

#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        let rule: Vec<String> = self
            .header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" }.to_string())
            .collect();
        out.push_str(&line(&rule));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// A memory figure of a scenario's runs, in KiB: its label, how to read it from a
/// run, and whether the budget applies to it.
pub type MemoryRow<'a, R> = (&'a str, fn(&R) -> u64, bool);

/// One table row per memory figure: the median of `runs`, each run's, and for the
/// budgeted rows the budget (`budget_kb`) and whether the median is under it.
pub fn memory_rows<R>(t: &mut Table, runs: &[R], rows: &[MemoryRow<'_, R>], budget_kb: u64) {
    for (label, f, budgeted) in rows {
        let values: Vec<u64> = runs.iter().map(f).collect();
        let v = median(&values);
        let each = values.iter().map(|v| mb(*v)).collect::<Vec<_>>().join(", ");
        let (budget, met) = if *budgeted {
            (
                format!("< {} MB", budget_kb / 1024),
                verdict(v < budget_kb).to_string(),
            )
        } else {
            (String::new(), String::new())
        };
        t.row(vec![label.to_string(), mb(v), each, budget, met]);
    }
}
