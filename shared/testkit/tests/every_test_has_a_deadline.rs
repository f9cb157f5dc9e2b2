//! No test in the workspace runs a variant, a thread, a task, a future or a process outside a
//! deadline (the rule, and how to state an exception: `testkit::deadline_lint`).

use std::path::Path;

/// Files this check does not judge yet, and why. Each entry is a debt with an owner.
const NOT_YET: &[(&str, &str)] = &[];

#[test]
fn no_test_runs_concurrent_code_or_a_child_outside_a_deadline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let findings = testkit::deadline_lint::scan_workspace(&root);
    let listed: Vec<String> = findings
        .iter()
        .filter(|(path, _)| !NOT_YET.iter().any(|(file, _)| path == Path::new(file)))
        .map(|(path, finding)| format!("{}:{}: {}", path.display(), finding.line, finding.what))
        .collect();
    assert!(
        listed.is_empty(),
        "{} call(s) outside a deadline. Run it inside `run_with_deadline(…)` (a child process: \
         `testkit::output_within` / `wait_within`, which kill it past the deadline), or say why \
         it needs none in a `// deadline: <why>` comment on or above the line:\n{}",
        listed.len(),
        listed.join("\n")
    );
}
