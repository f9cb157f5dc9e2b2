//! CPU time, from `/proc`: the whole machine's (`/proc/stat`: how busy, and how much the
//! hypervisor took — *steal*), this process's (`/proc/self/stat`) and its threads'
//! (`/proc/self/task/*/stat`), and the load average (`/proc/loadavg`).
//!
//! The measurement lab reads them around every timed window: a CPU-utilisation column shows
//! whether "the machine is the bottleneck" or only said to be, and steal and load in a table's
//! header say how quiet the machine was. All times are in clock ticks, which Linux reports in
//! `USER_HZ` = 100 per second on every architecture it exports to user space (the kernel's own
//! `HZ` may differ; `/proc` converts), so a figure is good to 10 ms.

use crate::ProcError;
use crate::source;

/// Clock ticks per second in `/proc`'s CPU times (`USER_HZ`).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// The machine's CPU time since boot, summed over all cores (the `cpu` line of `/proc/stat`),
/// in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineCpu {
    /// Every state: user, nice, system, idle, iowait, irq, softirq, steal.
    pub total: u64,
    /// Time a virtual machine's cores were ready to run but the hypervisor ran someone else.
    pub steal: u64,
    /// Idle and waiting for I/O.
    pub idle: u64,
}

impl MachineCpu {
    /// Reads the `cpu` line of `/proc/stat`'s text.
    pub fn parse(stat: &str) -> Result<MachineCpu, ProcError> {
        let missing = ProcError::Missing {
            path: "/proc/stat",
            field: "cpu",
        };
        let line = stat
            .lines()
            .find_map(|l| l.strip_prefix("cpu "))
            .ok_or(missing)?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| ProcError::Missing {
                path: "/proc/stat",
                field: "cpu",
            })?;
        if fields.len() < 4 {
            return Err(ProcError::Missing {
                path: "/proc/stat",
                field: "cpu",
            });
        }
        // guest and guest_nice (fields 9 and 10) are already counted in user and nice.
        let counted = &fields[..fields.len().min(8)];
        Ok(MachineCpu {
            total: counted.iter().sum(),
            steal: fields.get(7).copied().unwrap_or(0),
            idle: fields[3] + fields.get(4).copied().unwrap_or(0),
        })
    }

    /// The share of CPU time the hypervisor stole between `self` (earlier) and `later`, in %.
    /// `None` when no tick passed.
    pub fn steal_percent_until(&self, later: &MachineCpu) -> Option<f64> {
        let total = later.total.checked_sub(self.total)?;
        (total > 0).then(|| later.steal.saturating_sub(self.steal) as f64 / total as f64 * 100.0)
    }
}

/// The user + system ticks in a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line, and
/// its command name (what is between the parentheses; a thread's name, cut to 15 bytes).
pub fn parse_stat_ticks(stat: &str) -> Result<(String, u64), ProcError> {
    let missing = ProcError::Missing {
        path: "/proc/self/stat",
        field: "utime",
    };
    // The name may hold spaces and parentheses: it ends at the last ')'.
    let (open, close) = (stat.find('('), stat.rfind(')'));
    let (Some(open), Some(close)) = (open, close) else {
        return Err(missing);
    };
    let name = stat[open + 1..close].to_string();
    // After the name: field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let tick = |i: usize| rest.get(i).and_then(|v| v.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(user), Some(system)) => Ok((name, user + system)),
        _ => Err(missing),
    }
}

/// The machine's CPU time so far.
pub fn machine_cpu() -> Result<MachineCpu, ProcError> {
    MachineCpu::parse(&source::read("/proc/stat")?)
}

/// This process's user + system time so far, every thread included (also those that have
/// ended), in ticks.
pub fn process_cpu_ticks() -> Result<u64, ProcError> {
    parse_stat_ticks(&source::read("/proc/self/stat")?).map(|(_, ticks)| ticks)
}

/// The user + system time so far of another process, by pid (a child: the lab's registry
/// service runs in one, so its CPU is not in this process's), in ticks.
pub fn pid_cpu_ticks(pid: u32) -> Result<u64, ProcError> {
    parse_stat_ticks(&source::read_pid_stat(pid)?).map(|(_, ticks)| ticks)
}

/// The user + system time so far of this process's live threads whose name starts with
/// `prefix` (e.g. a runtime's named workers), in ticks. Threads that have ended are not
/// counted: use it for threads that live across the measurement.
pub fn threads_cpu_ticks(prefix: &str) -> Result<u64, ProcError> {
    let mut ticks = 0;
    for stat in source::read_each("/proc/self/task", "stat")? {
        if let Ok((name, t)) = parse_stat_ticks(&stat)
            && name.starts_with(prefix)
        {
            ticks += t;
        }
    }
    Ok(ticks)
}

/// The one-minute load average (`/proc/loadavg`'s first figure).
pub fn load_average() -> Result<f64, ProcError> {
    parse_load_average(&source::read("/proc/loadavg")?)
}

/// The first figure of `/proc/loadavg`'s text.
pub fn parse_load_average(text: &str) -> Result<f64, ProcError> {
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or(ProcError::Missing {
            path: "/proc/loadavg",
            field: "the one-minute load",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_line_gives_total_idle_and_steal() {
        let stat = "cpu  1092013 11944 268077 422584 14722 0 3446 874 0 0\n\
                    cpu0 546006 5972 134038 211292 7361 0 1723 437 0 0\n";
        let cpu = MachineCpu::parse(stat).unwrap();
        assert_eq!(
            cpu.total,
            1_092_013 + 11_944 + 268_077 + 422_584 + 14_722 + 3_446 + 874
        );
        assert_eq!(cpu.steal, 874);
        assert_eq!(cpu.idle, 422_584 + 14_722);
        let later = MachineCpu {
            total: cpu.total + 1000,
            steal: cpu.steal + 25,
            idle: cpu.idle,
        };
        assert_eq!(cpu.steal_percent_until(&later), Some(2.5));
        assert_eq!(cpu.steal_percent_until(&cpu), None);
        assert!(MachineCpu::parse("intr 1 2 3\n").is_err());
    }

    #[test]
    fn a_stat_line_gives_its_name_and_ticks_even_with_a_parenthesis_in_the_name() {
        let line = "14837 (cat) R 14831 14831 10235 0 -1 4194304 98 0 0 0 7 3 0 0 20 0 1 0";
        assert_eq!(parse_stat_ticks(line).unwrap(), ("cat".to_string(), 10));
        let odd = "1 (a) b) S 0 0 0 0 -1 0 0 0 0 0 40 2 0 0 20 0 1 0";
        assert_eq!(parse_stat_ticks(odd).unwrap(), ("a) b".to_string(), 42));
        assert!(parse_stat_ticks("1 (cut").is_err());
    }

    #[test]
    fn the_load_average_is_the_first_figure() {
        assert_eq!(
            parse_load_average("1.06 7.81 5.83 3/120 14836\n").unwrap(),
            1.06
        );
        assert!(parse_load_average("").is_err());
    }
}
