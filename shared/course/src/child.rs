//! Child processes by registration.
//!
//! Some measurements must run in a process of their own: a server whose memory is measured
//! alone, a fleet of 10,000 connections that needs its own file descriptors, a queue worker that
//! is killed with SIGKILL mid-batch. The chapter re-launches *the current executable* for that.
//! Instead of knowing the name of one of the binary's subcommands, the chapter registers a
//! [`Child`] (a name it owns and a `main`) in its descriptor, and starts it with
//! [`Child::command`]. The binary calls [`dispatch`] first thing in its `main`: if the
//! environment says it was started as a child, it runs that child's `main` and nothing else.
//!
//! The selection travels in an environment variable, not in the arguments, so that the
//! binary's own command line stays the user's: no hidden subcommand to document or to clash
//! with, and a child's arguments are its own (`--connections 100`, parsed by [`ChildArgs`]).

use std::ffi::OsString;
use std::process::Command;
use std::str::FromStr;

use crate::BoxError;

/// The environment variable that makes the executable run a registered child.
pub const CHILD_VAR: &str = "PIPELINE_WORKSHOP_CHILD";

/// A process a chapter starts as a copy of the current executable.
#[derive(Debug)]
pub struct Child {
    /// Unique across chapters; by convention `chNN-what` (e.g. `ch10-fleet`).
    pub name: &'static str,
    /// What the child does. Its arguments are whatever [`Child::command`]'s caller added.
    pub main: fn(&ChildArgs) -> Result<(), BoxError>,
}

impl Child {
    /// A command that starts the current executable as this child. Add the child's own
    /// arguments, stdin/stdout and environment, then spawn it.
    pub fn command(&self) -> Command {
        let program = std::env::current_exe()
            .map(OsString::from)
            .ok()
            .or_else(|| std::env::args_os().next())
            .unwrap_or_default();
        let mut command = Command::new(program);
        command.env(CHILD_VAR, self.name);
        command
    }
}

/// If this process was started as a child, runs it: `Some(its result)`; else `None`, and the
/// binary goes on with its own command line.
pub fn dispatch<'a>(children: impl IntoIterator<Item = &'a Child>) -> Option<Result<(), BoxError>> {
    let name = std::env::var(CHILD_VAR).ok()?;
    let args = ChildArgs::new(std::env::args().skip(1));
    Some(select(children, &name).and_then(|child| (child.main)(&args)))
}

/// The registered child called `name`, or an error listing the ones there are.
fn select<'a>(
    children: impl IntoIterator<Item = &'a Child>,
    name: &str,
) -> Result<&'a Child, BoxError> {
    let children: Vec<&Child> = children.into_iter().collect();
    children
        .iter()
        .copied()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = children.iter().map(|c| c.name).collect();
            format!(
                "{CHILD_VAR}={name}: no such child process is registered (known: {})",
                known.join(", ")
            )
            .into()
        })
}

/// A child's arguments: `--name value` pairs.
#[derive(Debug, Clone, Default)]
pub struct ChildArgs {
    args: Vec<String>,
}

impl ChildArgs {
    pub fn new(args: impl IntoIterator<Item = String>) -> ChildArgs {
        ChildArgs {
            args: args.into_iter().collect(),
        }
    }

    /// The value after `flag`, parsed.
    pub fn value<T>(&self, flag: &str) -> Result<T, BoxError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let text = self
            .args
            .iter()
            .position(|a| a == flag)
            .and_then(|i| self.args.get(i + 1))
            .ok_or_else(|| format!("the child process needs {flag} VALUE"))?;
        text.parse()
            .map_err(|e| format!("{flag} {text:?}: {e}").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &ChildArgs) -> Result<(), BoxError> {
        Ok(())
    }

    const FLEET: Child = Child {
        name: "ch10-fleet",
        main: ok,
    };
    const WORKER: Child = Child {
        name: "ch13-worker",
        main: ok,
    };

    #[test]
    fn a_child_is_selected_by_its_registered_name() {
        assert_eq!(
            select([&FLEET, &WORKER], "ch13-worker").unwrap().name,
            "ch13-worker"
        );
        let err = select([&FLEET, &WORKER], "fleet").unwrap_err().to_string();
        assert!(err.contains("known: ch10-fleet, ch13-worker"), "{err}");
    }

    #[test]
    fn the_command_names_the_child_in_the_environment_not_in_the_arguments() {
        let command = FLEET.command(); // deadline: built to be read, never started
        assert_eq!(command.get_args().count(), 0);
        let env: Vec<_> = command.get_envs().collect();
        assert_eq!(
            env,
            [(
                std::ffi::OsStr::new(CHILD_VAR),
                Some(std::ffi::OsStr::new("ch10-fleet"))
            )]
        );
    }

    #[test]
    fn arguments_are_parsed_by_flag_and_say_what_is_missing_or_wrong() {
        let args = ChildArgs::new(["--connections", "100", "--connect", "x"].map(String::from));
        assert_eq!(args.value::<usize>("--connections").unwrap(), 100);
        let wrong = args.value::<usize>("--connect").unwrap_err().to_string();
        assert!(wrong.starts_with("--connect \"x\""), "{wrong}");
        let missing = args.value::<u32>("--count").unwrap_err().to_string();
        assert_eq!(missing, "the child process needs --count VALUE");
    }
}
