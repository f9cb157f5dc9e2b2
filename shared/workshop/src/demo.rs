//! `demo`: a pitfall, live, for a session. The broken pipeline runs under a watchdog that
//! watches from another thread and says what it sees in plain words; `--fixed` runs the fix.

use std::time::Duration;

use anyhow::bail;
use pipeline::{Config, DatasetSpec, Input, Variant, run_sequential};
use testkit::{Verdict, run_demo};

use crate::chapters::{all_demos, find_demo};
use crate::text::group_digits;

pub struct DemoOptions {
    pub name: Option<String>,
    pub variant: Variant,
    pub fixed: bool,
    pub stall: Duration,
}

pub fn demo(options: &DemoOptions) -> anyhow::Result<()> {
    let Some(name) = &options.name else {
        list();
        return Ok(());
    };
    let demo = find_demo(name)?;
    let case = demo.case(options.variant);
    let (kind, run) = if options.fixed {
        ("fixed", case.fixed)
    } else {
        ("broken", case.broken)
    };
    let Some(run) = run else {
        bail!(
            "the {} variant has no `{}` demo: {} cannot happen there (see chapter {})",
            options.variant,
            demo.name,
            demo.title,
            demo.chapter
        );
    };

    let input = Input::generated(&DatasetSpec::default());
    println!(
        "chapter {} — {} ({}, {kind})",
        demo.chapter, demo.title, options.variant
    );
    println!(
        "running on the default dataset ({} lines); stuck means no progress for {:?} …",
        group_digits(input.line_count()),
        options.stall
    );
    let cfg = Config::default();
    let verdict = run_demo(run, demo.locks, &input, &cfg, options.stall);
    match (&verdict, options.fixed) {
        (Verdict::Stalled { .. }, false) => {
            println!("STUCK, as the book says: {verdict}");
            println!("why: {}.", demo.diagnosis);
            println!(
                "the fix: cargo run --release -- demo {} --variant {} --fixed",
                demo.name, options.variant
            );
            // A broken demo that misbehaves exits non-zero, like the broken program would.
            bail!(
                "the broken pipeline deadlocked (see chapter {})",
                demo.chapter
            )
        }
        (Verdict::Finished(report), true) => {
            let reference = run_sequential(&input, &Config::default())?;
            let same = report.text() == reference.text();
            println!("{verdict}");
            println!(
                "report {} the reference (the stages run one after the other on one thread)",
                if same { "identical to" } else { "DIFFERS from" }
            );
            if !same {
                bail!("the fixed pipeline's report differs from the reference");
            }
            Ok(())
        }
        _ => bail!("unexpected for a {kind} demo: {verdict}"),
    }
}

fn list() {
    println!("Live demos: cargo run --release -- demo <name> --variant <variant> [--fixed]");
    for demo in all_demos() {
        let variants: Vec<&str> = demo
            .cases
            .iter()
            .filter(|c| c.broken.is_some())
            .map(|c| c.variant.name())
            .collect();
        println!(
            "  {:<20} chapter {:>2}: {} [{}]",
            demo.name,
            demo.chapter,
            demo.title,
            variants.join(", ")
        );
    }
}
