//! `run`'s output files: checked before any work, written aside, put in place only on success.
//!
//! What a careful user of a data tool expects, and what this gives:
//!
//! - an output that is the input — however spelled: `./x`, a symlink, a hard link — is refused
//!   before anything runs (it used to replace the input with JSON and exit 0);
//! - a typo in a directory costs nothing: the directory is checked first;
//! - a failed run (a missing input, a variant that failed, a full disk) leaves nothing behind,
//!   not a 0-byte file nor half a file, and an existing file at the target is untouched.
//!
//! Each output is written into a staging directory created beside its target (same file
//! system, so the final `rename` is atomic) and moved into place by [`Outputs::commit`].
//! Everything written into the staging directory moves with it, so a file a chapter names after
//! the output (chapter 6's `windows.dead-letters.jsonl`) is staged and committed too. Dropping
//! [`Outputs`] without committing removes the staging directories and what they hold.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tempfile::TempDir;

/// One output path the user gave, with the flag that named it.
pub struct Requested<'a> {
    pub flag: &'static str,
    pub path: &'a Path,
}

/// The run's outputs, staged.
pub struct Outputs {
    staged: Vec<Staged>,
}

struct Staged {
    flag: &'static str,
    /// Where the user wants it.
    target: PathBuf,
    /// The directory the target is in, as the user spelled it (`.` for a bare file name).
    dir: PathBuf,
    staging: TempDir,
}

impl Outputs {
    /// Checks every output before the run: none is the input or another output, each one's
    /// directory exists and takes a new file, none is a directory. `others` are paths the run
    /// may write that are not staged (chapter 7's checkpoint): they must not be the input either.
    pub fn plan(
        input: Option<&Path>,
        requested: &[Requested<'_>],
        others: &[Requested<'_>],
    ) -> anyhow::Result<Outputs> {
        for (i, out) in requested.iter().chain(others).enumerate() {
            if let Some(input) = input.filter(|input| same_place(out.path, input)) {
                bail!(
                    "{} {} is the input file {}: refusing to overwrite the input (nothing was run)",
                    out.flag,
                    out.path.display(),
                    input.display()
                );
            }
            for earlier in requested.iter().chain(others).take(i) {
                if same_place(out.path, earlier.path) {
                    bail!(
                        "{} {} and {} {} are the same file: give each output its own path",
                        earlier.flag,
                        earlier.path.display(),
                        out.flag,
                        out.path.display()
                    );
                }
            }
        }
        let staged = requested
            .iter()
            .map(|out| Staged::new(out.flag, out.path))
            .collect::<anyhow::Result<_>>()?;
        Ok(Outputs { staged })
    }

    /// Where the run writes the output `flag` names, until [`Outputs::commit`]; `None` if that
    /// flag was not given.
    pub fn staged(&self, flag: &str) -> Option<PathBuf> {
        self.staged
            .iter()
            .find(|s| s.flag == flag)
            .map(|s| s.staging.path().join(file_name(&s.target)))
    }

    /// `text` with every staging directory replaced by the directory its files will be moved
    /// to, for the messages a chapter wrote about a staged file ("dead letters written to …").
    pub fn final_names(&self, text: &str) -> String {
        self.staged.iter().fold(text.to_owned(), |text, s| {
            text.replace(
                &s.staging.path().display().to_string(),
                &s.dir.display().to_string(),
            )
        })
    }

    /// Moves every staged file into place (replacing what was there), then removes the staging
    /// directories.
    pub fn commit(self) -> anyhow::Result<()> {
        for staged in &self.staged {
            let entries = std::fs::read_dir(staged.staging.path())
                .with_context(|| format!("cannot list {}", staged.staging.path().display()))?;
            for entry in entries {
                let from = entry?.path();
                let to = staged.dir.join(file_name(&from));
                std::fs::rename(&from, &to)
                    .with_context(|| format!("cannot write {} {}", staged.flag, to.display()))?;
            }
        }
        Ok(())
    }
}

impl Staged {
    fn new(flag: &'static str, target: &Path) -> anyhow::Result<Staged> {
        let cannot = || format!("cannot write {flag} {}", target.display());
        if target.is_dir() {
            bail!("{}: it is a directory", cannot());
        }
        if target.file_name().is_none() {
            bail!("{}: not a file name", cannot());
        }
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Creating the staging directory is the check that the target's directory exists and
        // takes new files; the target itself is not created until the run succeeded.
        let staging = tempfile::Builder::new()
            .prefix(".workshop-staging-")
            .tempdir_in(&dir)
            .map_err(|e| anyhow::anyhow!("{}: {}", cannot(), without_staging_name(&e)))?;
        Ok(Staged {
            flag,
            target: target.to_path_buf(),
            dir,
            staging,
        })
    }
}

/// The OS's words for a failed staging directory, without the random name `tempfile` adds
/// (`… at path "/x/.workshop-staging-au8X6I"`), which is no business of the user's.
/// (Its error keeps the OS's error only as text, so the suffix is cut from the text.)
fn without_staging_name(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.split_once(" at path \"") {
        Some((os, _)) => os.to_owned(),
        None => text,
    }
}

fn file_name(path: &Path) -> &std::ffi::OsStr {
    path.file_name().unwrap_or(path.as_os_str())
}

/// Whether two paths name the same file: the same device and inode when both exist (which sees
/// through symlinks, hard links and any spelling), else the same name in the same directory
/// once the directory is resolved (`./w.json` and `w.json`, neither written yet).
fn same_place(a: &Path, b: &Path) -> bool {
    if let Ok(same) = same_file::is_same_file(a, b) {
        return same;
    }
    let resolved = |p: &Path| -> Option<PathBuf> {
        let dir = match p.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Some(std::fs::canonicalize(dir).ok()?.join(p.file_name()?))
    };
    match (resolved(a), resolved(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn the_same_file_is_recognised_however_it_is_spelled() {
        let dir = scratch();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "x\n").unwrap();
        let dotted = dir.path().join(".").join("in.csv");
        let linked = dir.path().join("hard.csv");
        std::fs::hard_link(&input, &linked).unwrap();
        assert!(same_place(&input, &dotted));
        assert!(same_place(&input, &linked));
        #[cfg(unix)]
        {
            let symlink = dir.path().join("sym.csv");
            std::os::unix::fs::symlink(&input, &symlink).unwrap();
            assert!(same_place(&symlink, &input));
        }
        assert!(!same_place(&input, &dir.path().join("other.csv")));
        // Neither exists yet: the same name in the same directory is still the same place.
        assert!(same_place(
            &dir.path().join("w.json"),
            &dir.path().join(".").join("w.json")
        ));
    }

    #[test]
    fn an_output_that_is_the_input_is_refused_before_anything_is_created() {
        let dir = scratch();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "x\n").unwrap();
        let err = Outputs::plan(
            Some(&input),
            &[Requested {
                flag: "--report",
                path: &dir.path().join(".").join("in.csv"),
            }],
            &[],
        )
        .err()
        .unwrap();
        assert!(err.to_string().starts_with("--report "), "{err}");
        assert!(err.to_string().contains("is the input file"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn nothing_is_left_behind_unless_committed_and_then_only_the_target() {
        let dir = scratch();
        let input = dir.path().join("in.csv");
        let target = dir.path().join("w.jsonl");
        std::fs::write(&input, "x\n").unwrap();
        let plan = || {
            Outputs::plan(
                Some(&input),
                &[Requested {
                    flag: "--output",
                    path: &target,
                }],
                &[],
            )
            .unwrap()
        };
        let outputs = plan();
        std::fs::write(outputs.staged("--output").unwrap(), "half").unwrap();
        drop(outputs);
        let names = || -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(), ["in.csv"]);

        let outputs = plan();
        let staged = outputs.staged("--output").unwrap();
        std::fs::write(&staged, "done").unwrap();
        std::fs::write(staged.with_extension("dead-letters.jsonl"), "d").unwrap();
        let said = outputs.final_names(&format!("written to {}", staged.display()));
        assert_eq!(said, format!("written to {}", target.display()));
        outputs.commit().unwrap();
        assert_eq!(names(), ["in.csv", "w.dead-letters.jsonl", "w.jsonl"]);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "done");
    }
}
