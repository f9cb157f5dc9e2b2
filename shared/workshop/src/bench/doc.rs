//! What the bench writes: markdown tables and SVG plots, each headed by where, when and how it
//! was measured, so a figure in the book can always be traced to a machine and a command.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::conditions::{self, Snapshot};

/// Where and when a run measured, and the exact command: the header of every generated file.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
    pub rustc: String,
    pub date: String,
    pub command: String,
    /// The commit the lab was built from ("unknown" outside a git tree).
    pub commit: String,
    /// The machine when the measurement began (the bench sets it before each group); a file's
    /// header compares it with the machine when the file is written.
    pub before: Option<Snapshot>,
}

impl Provenance {
    /// This machine, today, and the command line this process was started with.
    pub fn here(command: String) -> Provenance {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, name)| name.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
        let os = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
            |_| std::env::consts::OS.to_string(),
            |release| format!("Linux {}", release.trim()),
        );
        let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map_or_else(|| "rustc (unknown)".into(), |v| v.trim().to_string());
        Provenance {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib,
            os,
            rustc,
            date: today(),
            command,
            commit: conditions::commit(Path::new(env!("CARGO_MANIFEST_DIR"))),
            before: None,
        }
    }

    /// One line: "Intel Xeon …, 2 cores, 23.5 GiB, Linux 6.1 · rustc 1.91 · 2026-11-27".
    pub fn machine(&self) -> String {
        format!(
            "{}, {} cores, {:.1} GiB, {} · {} · {}",
            self.cpu, self.cores, self.memory_gib, self.os, self.rustc, self.date
        )
    }
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock (civil-from-days, H. Hinnant).
fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// A markdown table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Table {
        Table {
            columns: columns.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        assert_eq!(
            cells.len(),
            self.columns.len(),
            "a row of {} cells in a table of {} columns",
            cells.len(),
            self.columns.len()
        );
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.columns);
        out.push_str(&line(&vec!["---".to_string(); self.columns.len()]));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// One generated markdown file: a header, then text and tables in order.
pub struct Doc {
    header: Vec<String>,
    body: String,
}

impl Doc {
    /// The header every file starts with. `what` says what was measured, `how` how often. It
    /// also records the commit, and the load and steal from `provenance.before` until now (a
    /// group makes its documents once it has measured).
    pub fn new(provenance: &Provenance, what: &str, how: &str) -> Doc {
        Doc::at(provenance, what, how, &Snapshot::now())
    }

    /// [`Doc::new`], with the machine's state at the end given.
    pub fn at(provenance: &Provenance, what: &str, how: &str, after: &Snapshot) -> Doc {
        let header = vec![
            "<!-- Generated by the measurement lab. Do not edit: run the command below. -->"
                .to_string(),
            format!("> **{what}.** {how}  "),
            format!("> Measured on {}  ", provenance.machine()),
            format!(
                "> {}  ",
                conditions::describe(&provenance.commit, provenance.before.as_ref(), after)
            ),
        ];
        Doc {
            header,
            body: format!("> with `{}`\n\n", provenance.command),
        }
    }

    /// Adds a line to the header, e.g. the lab's own cost in the timed windows.
    pub fn note(&mut self, line: &str) {
        self.header.push(format!("> {line}  "));
    }

    pub fn text(&mut self, text: &str) {
        self.body.push_str(text);
        self.body.push_str("\n\n");
    }

    pub fn table(&mut self, table: &Table) {
        self.body.push_str(&table.markdown());
        self.body.push('\n');
    }

    pub fn into_string(self) -> String {
        let mut out = self.header.join("\n");
        out.push('\n');
        out.push_str(&self.body);
        out
    }
}

/// Checks a generated markdown file: the header is there and every table is well-formed (a
/// header row, a separator row, and every row with as many cells as the header).
pub fn check_markdown(path: &Path) -> anyhow::Result<usize> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    check_header(&text, path)?;
    let mut tables = 0;
    let mut width: Option<usize> = None;
    let mut expect_separator = false;
    for (number, line) in text.lines().enumerate() {
        let cells = |l: &str| l.trim().trim_matches('|').split(" | ").count();
        if line.starts_with('|') {
            match width {
                None => {
                    width = Some(cells(line));
                    expect_separator = true;
                }
                Some(w) => {
                    if expect_separator {
                        if !line
                            .split('|')
                            .all(|c| c.trim().chars().all(|ch| ch == '-'))
                        {
                            bail!(
                                "{}:{}: a table without a separator row",
                                path.display(),
                                number + 1
                            );
                        }
                        expect_separator = false;
                        tables += 1;
                    }
                    if cells(line) != w {
                        bail!(
                            "{}:{}: {} cells in a table of {w} columns",
                            path.display(),
                            number + 1,
                            cells(line)
                        );
                    }
                }
            }
        } else {
            if expect_separator {
                bail!(
                    "{}:{}: a table header without rows",
                    path.display(),
                    number + 1
                );
            }
            width = None;
        }
    }
    if tables == 0 {
        bail!("{}: no table", path.display());
    }
    Ok(tables)
}

/// Checks a generated file's header: where, with what command, at which commit, how loaded.
pub fn check_header(text: &str, path: &Path) -> anyhow::Result<()> {
    if !text.contains("> Measured on ") || !text.contains("> with `") {
        bail!("{}: no provenance header", path.display());
    }
    if !text.contains("> Commit `") {
        bail!(
            "{}: no commit, load and steal in the header",
            path.display()
        );
    }
    Ok(())
}

/// Checks a generated SVG: well-formed XML with an `<svg>` root, and the provenance line.
pub fn check_svg(path: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let document = roxmltree::Document::parse(&text)
        .with_context(|| format!("{}: not well-formed XML", path.display()))?;
    if document.root_element().tag_name().name() != "svg" {
        bail!("{}: the root element is not <svg>", path.display());
    }
    if !text.contains("Measured on") {
        bail!("{}: no provenance line", path.display());
    }
    Ok(())
}

/// Formats a rate: 1234567.0 → "1.23 M", 45678.9 → "45.7 k", 312.4 → "312".
pub fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M", per_second / 1e6)
    } else if per_second >= 1e4 {
        format!("{:.1} k", per_second / 1e3)
    } else {
        format!("{per_second:.0}")
    }
}

/// Milliseconds with one decimal.
pub fn millis(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1e3)
}

/// A ratio against the sync variant: "1.00×".
pub fn ratio(value: f64, sync: f64) -> String {
    if sync > 0.0 && value.is_finite() {
        format!("{:.2}×", value / sync)
    } else {
        "—".into()
    }
}

/// Bytes in a readable unit.
pub fn bytes(n: f64) -> String {
    if n >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", n / (1024.0 * 1024.0))
    } else if n >= 10.0 * 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{n:.0} B")
    }
}

/// "One run" or "Median of 3 runs", for a table's header.
pub fn runs(repeats: usize) -> String {
    if repeats == 1 {
        "One run".into()
    } else {
        format!("Median of {repeats} runs")
    }
}

/// The median of some measurements (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_dates() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
        let date = today();
        assert_eq!(date.len(), 10, "{date}");
        assert!(date.starts_with("20"), "{date}");
    }

    #[test]
    fn the_header_records_machine_command_commit_load_steal_and_notes() {
        use procstats::MachineCpu;
        let mut provenance = Provenance::here("cargo run --release -- bench --quick".into());
        provenance.commit = "0123456789ab".into();
        provenance.before = Some(Snapshot {
            load: Some(0.25),
            cpu: Some(MachineCpu {
                total: 0,
                steal: 0,
                idle: 0,
            }),
        });
        let after = Snapshot {
            load: Some(0.75),
            cpu: Some(MachineCpu {
                total: 200,
                steal: 1,
                idle: 100,
            }),
        };
        let mut doc = Doc::at(&provenance, "Fan-out", "Median of 5 runs.", &after);
        doc.note("The lab's own cost: at most 0.4% of a timed window.");
        doc.table(&Table::new(["a"]));
        let text = doc.into_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "> **Fan-out.** Median of 5 runs.  ");
        assert!(lines[2].starts_with("> Measured on "), "{text}");
        assert_eq!(
            lines[3],
            "> Commit `0123456789ab`; load average 0.25 before, 0.75 after; CPU steal 0.5% \
             during (`/proc/stat`)  "
        );
        assert_eq!(
            lines[4],
            "> The lab's own cost: at most 0.4% of a timed window.  "
        );
        assert_eq!(lines[5], "> with `cargo run --release -- bench --quick`");
        assert_eq!(lines[6], "");
    }

    #[test]
    fn a_written_table_passes_the_check_and_a_broken_one_does_not() {
        let dir = std::env::temp_dir().join(format!("bench-doc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let provenance = Provenance::here("cargo run --release -- bench".into());
        let mut table = Table::new(["variant", "records/s"]);
        table.row(["sync", "1.00 M"]);
        table.row(["tokio", "900.0 k"]);
        let mut doc = Doc::new(&provenance, "Throughput", "Median of 3 runs.");
        doc.table(&table);
        let good = dir.join("good.md");
        std::fs::write(&good, doc.into_string()).unwrap();
        assert_eq!(check_markdown(&good).unwrap(), 1);

        let broken = dir.join("broken.md");
        let text = std::fs::read_to_string(&good)
            .unwrap()
            .replace("| tokio | 900.0 k |", "| tokio |");
        std::fs::write(&broken, text).unwrap();
        let error = check_markdown(&broken).unwrap_err().to_string();
        assert!(error.contains("1 cells in a table of 2 columns"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
