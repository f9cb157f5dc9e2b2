//! How quiet the machine was: the load average and the CPU steal (`/proc/stat`, through
//! `procstats`) before and after a group, and the commit the lab was built from. Every table's
//! header carries them, so a skeptical reader can tell a figure measured on a busy or stolen
//! machine from one measured on a quiet one, and which code measured it.

use std::path::Path;

use procstats::MachineCpu;

/// The machine at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    /// The one-minute load average.
    pub load: Option<f64>,
    pub cpu: Option<MachineCpu>,
}

impl Snapshot {
    pub fn now() -> Snapshot {
        Snapshot {
            load: procstats::load_average().ok(),
            cpu: procstats::machine_cpu().ok(),
        }
    }
}

/// The header line for a measurement between `before` and `after`: "Commit `abc1234`; load
/// average 0.52 before, 1.87 after; CPU steal 0.3% during (`/proc/stat`)."
pub fn describe(commit: &str, before: Option<&Snapshot>, after: &Snapshot) -> String {
    let load = |s: Option<&Snapshot>| {
        s.and_then(|s| s.load)
            .map_or_else(|| "unknown".to_string(), |l| format!("{l:.2}"))
    };
    let steal = before
        .and_then(|b| b.cpu)
        .zip(after.cpu)
        .and_then(|(b, a)| b.steal_percent_until(&a))
        .map_or_else(|| "unknown".to_string(), |s| format!("{s:.1}%"));
    format!(
        "Commit `{commit}`; load average {} before, {} after; CPU steal {steal} during \
         (`/proc/stat`)",
        load(before),
        load(Some(after))
    )
}

/// The commit of the tree at `dir` (`git rev-parse --short HEAD`, "+changes" when the tree
/// differs from it), or "unknown" where there is no git or no repository.
pub fn commit(dir: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) if !hash.trim().is_empty() => {
            let changed = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.trim().is_empty());
            format!("{}{}", hash.trim(), if changed { "+changes" } else { "" })
        }
        _ => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_commit_the_load_before_and_after_and_the_steal() {
        let before = Snapshot {
            load: Some(0.5),
            cpu: Some(MachineCpu {
                total: 1000,
                steal: 10,
                idle: 500,
            }),
        };
        let after = Snapshot {
            load: Some(1.25),
            cpu: Some(MachineCpu {
                total: 3000,
                steal: 50,
                idle: 900,
            }),
        };
        assert_eq!(
            describe("abc123", Some(&before), &after),
            "Commit `abc123`; load average 0.50 before, 1.25 after; CPU steal 2.0% during \
             (`/proc/stat`)"
        );
        assert_eq!(
            describe("unknown", None, &Snapshot::default()),
            "Commit `unknown`; load average unknown before, unknown after; CPU steal unknown \
             during (`/proc/stat`)"
        );
    }

    #[test]
    fn outside_a_repository_the_commit_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(commit(dir.path()), "unknown");
        let here = commit(Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(here == "unknown" || here.len() >= 12, "{here}");
    }
}
