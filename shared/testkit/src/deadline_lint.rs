//! A lint, run as a test: no test runs concurrent code or a child process outside a deadline.
//!
//! A test that hangs does not fail, it just never ends (chapter 4's fix test, made to deadlock
//! on purpose, ran until it was killed). So every test that runs a pipeline variant, spawns a
//! thread or a task, drives a future with `block_on`, or starts a process, does it inside a
//! deadline runner; this lint makes a new call that does not hard to write.
//!
//! # The rule
//!
//! In test code — every `tests/*.rs` file, and every `#[cfg(test)]` item in `src/` — these
//! calls are *risky*:
//!
//! - a pipeline run: `run(…)`, `run_with(…)` (free, by path or as a method), and any name a
//!   `*VARIANTS` table is destructured into (`for (variant, go) in VARIANTS` makes `go(…)` one);
//! - `spawn(…)` of any kind (`thread::spawn`, `s.spawn` in a scope, `tokio::spawn`, an
//!   executor's `spawn`), and `block_on(…)`;
//! - a process: `Command::new(…)`, a registered child's `.command()`, or trybuild's
//!   `TestCases::new()` (which runs cargo);
//! - an async test attribute (`#[tokio::test]`, `#[async_std::test]`): its runtime is outside
//!   any deadline.
//!
//! A risky call is fine when it is written *inside the argument list* of a deadline runner:
//! `run_with_deadline(…)`, `run_with_watchdog(…)`, `run_demo(…)` (the demo runner watches for
//! stalls), or the process helpers [`crate::process::output_within`] and
//! [`crate::process::wait_within`], which kill a child that outlives its deadline. A function of
//! the same file that takes a closure (`impl FnOnce…`, or a `fn(…)`) and calls a runner is a
//! runner too: a
//! test file's own `within_deadline(what, || …)` wrapper. Typically
//! the closure: `run_with_deadline(name, TEST_DEADLINE, move || run(&input, &cfg))`.
//!
//! Anything else needs a reason, in a comment that starts with `deadline:` — on the same line,
//! in the comment lines right above it or above the statement it is part of, or right above
//! the `fn` it is in (which then covers the
//! whole function: a helper that is only ever called under a deadline). `// deadline: the
//! thread only sleeps 10 ms and is joined` is an exception a reviewer can judge; an empty
//! reason is itself a finding.
//!
//! # Why lexical, and what it misses
//!
//! The lint reads tokens, not types (comments and string literals are blanked first), so it
//! cannot know that a `spawn` is harmless, nor see a call made through a helper in another
//! file. It is built to have few false positives on this workspace's style, not to be a proof:
//! a variant handed around under a new name, or a `Command` run by a helper without `new` in
//! the test, slips through. Reviews catch those; the lint catches the common way to forget.

use std::fmt;
use std::path::{Path, PathBuf};

/// Calls that are a deadline runner: risky calls inside their argument list are covered.
pub const RUNNERS: &[&str] = &[
    "run_with_deadline",
    "run_with_watchdog",
    "run_demo",
    "output_within",
    "wait_within",
];

/// The marker of an exception: `// deadline: <why it needs none>`.
pub const ALLOW: &str = "deadline:";

/// One risky call outside a deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based.
    pub line: usize,
    /// What the call does, e.g. "`spawn(…)` starts a thread or task".
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

/// Scans one file's source. `whole_file_is_test` is true for `tests/*.rs`; otherwise only
/// `#[cfg(test)]` items are scanned.
pub fn scan(source: &str, whole_file_is_test: bool) -> Vec<Finding> {
    let cleaned = Cleaned::new(source);
    let tokens = tokenize(&cleaned.code);
    let test_regions = if whole_file_is_test {
        vec![(0, cleaned.code.len())]
    } else {
        cfg_test_regions(&tokens)
    };
    if test_regions.is_empty() {
        return Vec::new();
    }
    let covered = runner_regions(&tokens, &runners(&tokens));
    let allowed_fns = allowed_fn_bodies(&tokens, &cleaned);
    let run_names = run_names(&tokens);
    let inside =
        |regions: &[(usize, usize)], at: usize| regions.iter().any(|&(a, b)| a <= at && at < b);

    let mut findings = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Some(what) = risky(&tokens, i, &run_names) else {
            continue;
        };
        let at = token.start;
        if !inside(&test_regions, at) || inside(&covered, at) || inside(&allowed_fns, at) {
            continue;
        }
        let line = cleaned.line_of(at);
        // The statement the call is in starts after the last `;`, `{` or `}` before it: a
        // comment above that line covers a call on any line of the statement.
        let statement = tokens[..i]
            .iter()
            .rposition(|t| matches!(t.text.as_str(), ";" | "{" | "}"))
            .and_then(|p| tokens.get(p + 1))
            .map_or(line, |t| cleaned.line_of(t.start));
        match cleaned
            .allowance(line)
            .or_else(|| cleaned.allowance(statement))
        {
            Some(reason) if !reason.is_empty() => {}
            Some(_) => findings.push(Finding {
                line,
                what: format!("{what}, and its `// {ALLOW}` comment gives no reason"),
            }),
            None => findings.push(Finding { line, what }),
        }
    }
    // One finding per line is enough to point at it.
    findings.dedup_by(|a, b| a.line == b.line);
    findings
}

/// Every finding in the test sources under `root` (a workspace): `chapters/*`, `shared/*`,
/// `solutions/*` and `exercises/*`, each `tests/*.rs` and each `src/**.rs`. Files reached twice
/// (a solution's `tests` is a link to its starter's) are scanned once.
pub fn scan_workspace(root: &Path) -> Vec<(PathBuf, Finding)> {
    let mut files = Vec::new();
    for group in ["chapters", "shared", "solutions", "exercises"] {
        for krate in sorted_dir(&root.join(group)) {
            for path in sorted_dir(&krate.join("tests")) {
                if path.extension().is_some_and(|e| e == "rs") {
                    files.push((path, true));
                }
            }
            collect_rs(&krate.join("src"), &mut files);
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (path, whole) in files {
        let Ok(real) = path.canonicalize() else {
            continue;
        };
        if !seen.insert(real) {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(&path) else {
            continue;
        };
        let shown = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        out.extend(scan(&source, whole).into_iter().map(|f| (shown.clone(), f)));
    }
    out
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries
}

fn collect_rs(dir: &Path, out: &mut Vec<(PathBuf, bool)>) {
    for path in sorted_dir(dir) {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path, false));
        }
    }
}

/// What a risky call at token `i` does, if it is one.
fn risky(tokens: &[Token], i: usize, run_names: &[String]) -> Option<String> {
    let token = &tokens[i];
    let punct = |j: usize, p: &str| tokens.get(j).is_some_and(|t| t.text == p);
    let word = |j: usize, w: &str| tokens.get(j).is_some_and(|t| t.text == w);
    // `#[tokio::test]`, `#[async_std::test]`
    if token.text == "#"
        && punct(i + 1, "[")
        && punct(i + 3, "::")
        && word(i + 4, "test")
        && let Some(runtime) = tokens
            .get(i + 2)
            .filter(|t| t.text == "tokio" || t.text == "async_std")
    {
        return Some(format!(
            "`#[{}::test]` runs the test on a runtime no deadline watches (use `#[test]` \
             and `run_with_deadline`)",
            runtime.text
        ));
    }
    if !token.is_ident() || !punct(i + 1, "(") {
        return None;
    }
    let after_path = |name: &str| i >= 2 && punct(i - 1, "::") && word(i - 2, name);
    let method = i >= 1 && punct(i - 1, ".");
    let name = token.text.as_str();
    match name {
        "spawn" => Some("`spawn(…)` starts a thread or task".into()),
        "block_on" => Some("`block_on(…)` drives a future to its end".into()),
        "new" if after_path("Command") => Some("`Command::new(…)` starts a process".into()),
        "command" if method && punct(i + 2, ")") => {
            Some("`.command()` starts a registered child process".into())
        }
        "new" if after_path("TestCases") => {
            Some("`TestCases::new()` runs cargo (trybuild) when it is dropped".into())
        }
        _ if run_names.iter().any(|n| n == name) && !(i >= 1 && word(i - 1, "fn")) => {
            Some(format!("`{name}(…)` runs a pipeline variant"))
        }
        _ => None,
    }
}

/// `run`, `run_with`, and the names `*VARIANTS` tables are destructured into in this file:
/// `for (variant, NAME) in …VARIANTS`, `let (variant, NAME) = …VARIANTS…`,
/// `|(variant, NAME)|` or `|&(variant, NAME)|` in a statement that names a `*VARIANTS` table.
/// Not a function this file defines (`fn run(…)`): its body is scanned instead.
fn run_names(tokens: &[Token]) -> Vec<String> {
    let local: Vec<&str> = tokens
        .windows(2)
        .filter(|w| w[0].text == "fn")
        .map(|w| w[1].text.as_str())
        .collect();
    let mut names: Vec<String> = ["run", "run_with"]
        .into_iter()
        .filter(|n| !local.contains(n))
        .map(str::to_owned)
        .collect();
    let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    for i in 0..texts.len() {
        // `( a , NAME )`
        if !(texts[i] == "(" && texts.get(i + 2) == Some(&",") && texts.get(i + 4) == Some(&")")) {
            continue;
        }
        let Some(name) = tokens.get(i + 3).filter(|t| t.is_ident()) else {
            continue;
        };
        let before = if i >= 1 { texts[i - 1] } else { "" };
        let follows = |j: usize| {
            // until the end of the statement or block head
            texts[j..]
                .iter()
                .take_while(|t| **t != ";" && **t != "{")
                .any(|t| t.ends_with("VARIANTS"))
        };
        let statement_names_table = || {
            let start = texts[..i]
                .iter()
                .rposition(|t| *t == ";" || *t == "{" || *t == "}")
                .map_or(0, |p| p + 1);
            texts[start..i].iter().any(|t| t.ends_with("VARIANTS"))
        };
        let bound_from_table = match before {
            "for" | "let" => follows(i + 5),
            "|" | "&" => statement_names_table(),
            _ => false,
        };
        if bound_from_table
            && name.text != "_"
            && !names.contains(&name.text)
            && !local.contains(&name.text.as_str())
        {
            names.push(name.text.clone());
        }
    }
    names
}

/// [`RUNNERS`], and this file's functions that take a closure and hand it to one of them.
fn runners(tokens: &[Token]) -> Vec<String> {
    let mut names: Vec<String> = RUNNERS.iter().map(|r| (*r).to_owned()).collect();
    let known: Vec<String> = names.clone();
    let calls_known = runner_regions(tokens, &known);
    for (i, token) in tokens.iter().enumerate() {
        if token.text != "fn" {
            continue;
        }
        let Some(name) = tokens.get(i + 1).filter(|t| t.is_ident()) else {
            continue;
        };
        let Some(open) =
            (i..tokens.len()).find(|&j| tokens[j].text == "{" || tokens[j].text == ";")
        else {
            continue;
        };
        // `impl FnOnce…`, `F: Fn…`, or a function pointer `fn(…)`
        let takes_closure = tokens[i + 2..open]
            .iter()
            .any(|t| matches!(t.text.as_str(), "FnOnce" | "FnMut" | "Fn" | "fn"));
        let Some(close) = (tokens[open].text == "{")
            .then(|| matching(tokens, open))
            .flatten()
        else {
            continue;
        };
        let (from, to) = (tokens[open].start, tokens[close].start);
        let hands_it_on = calls_known.iter().any(|&(a, _)| from <= a && a < to);
        if takes_closure && hands_it_on && !names.contains(&name.text) {
            names.push(name.text.clone());
        }
    }
    names
}

/// Byte ranges of the argument lists of calls to `runners`.
fn runner_regions(tokens: &[Token], runners: &[String]) -> Vec<(usize, usize)> {
    tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            runners.contains(&t.text) && tokens.get(i + 1).is_some_and(|n| n.text == "(")
        })
        .filter_map(|(i, _)| {
            matching(tokens, i + 1).map(|end| (tokens[i + 1].start, tokens[end].start))
        })
        .collect()
}

/// Byte ranges of the items marked `#[cfg(test)]` (their `{ … }` body).
fn cfg_test_regions(tokens: &[Token]) -> Vec<(usize, usize)> {
    let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    let mut regions = Vec::new();
    for i in 0..texts.len() {
        if texts[i..].starts_with(&["#", "[", "cfg", "(", "test", ")", "]"]) {
            let Some(open) = (i + 7..texts.len()).find(|&j| texts[j] == "{" || texts[j] == ";")
            else {
                continue;
            };
            if texts[open] == "{"
                && let Some(close) = matching(tokens, open)
            {
                regions.push((tokens[open].start, tokens[close].start));
            }
        }
    }
    regions
}

/// Bodies of the functions whose doc or comment lines just above say `deadline: <why>`.
fn allowed_fn_bodies(tokens: &[Token], cleaned: &Cleaned) -> Vec<(usize, usize)> {
    let mut regions = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if token.text != "fn" {
            continue;
        }
        // The item starts at its first attribute or doc line; look above that.
        let fn_line = cleaned.line_of(token.start);
        let mut line = fn_line;
        while line > 1 && cleaned.is_attribute_line(line - 1) {
            line -= 1;
        }
        let reasoned =
            (line..=fn_line).any(|l| cleaned.reason_on(l).is_some_and(|why| !why.is_empty()));
        if !reasoned {
            continue;
        }
        let Some(open) =
            (i..tokens.len()).find(|&j| tokens[j].text == "{" || tokens[j].text == ";")
        else {
            continue;
        };
        if tokens[open].text == "{"
            && let Some(close) = matching(tokens, open)
        {
            regions.push((tokens[open].start, tokens[close].start));
        }
    }
    regions
}

/// The index of the bracket that closes the one at `open`.
fn matching(tokens: &[Token], open: usize) -> Option<usize> {
    let (o, c) = match tokens[open].text.as_str() {
        "(" => ("(", ")"),
        "{" => ("{", "}"),
        "[" => ("[", "]"),
        _ => return None,
    };
    let mut depth = 0usize;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        if t.text == o {
            depth += 1;
        } else if t.text == c {
            depth -= 1;
            if depth == 0 {
                return Some(j);
            }
        }
    }
    None
}

#[derive(Debug)]
struct Token {
    text: String,
    start: usize,
}

impl Token {
    fn is_ident(&self) -> bool {
        self.text
            .starts_with(|c: char| c.is_alphabetic() || c == '_')
    }
}

/// Identifiers, `::`, and single punctuation characters, with their byte offsets.
fn tokenize(code: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = start + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token {
                text: code[start..end].to_owned(),
                start,
            });
        } else if c == ':' && chars.peek().is_some_and(|&(_, d)| d == ':') {
            chars.next();
            tokens.push(Token {
                text: "::".into(),
                start,
            });
        } else if !c.is_whitespace() {
            tokens.push(Token {
                text: c.to_string(),
                start,
            });
        }
    }
    tokens
}

/// The source with comments and string and char literals blanked (same length, same lines),
/// and each line's comment text kept apart.
struct Cleaned {
    code: String,
    /// Per line (index 0 = line 1): the text of its comments.
    comments: Vec<String>,
    /// Per line: whether it holds nothing but comments and whitespace.
    comment_only: Vec<bool>,
    /// Per line: its code, trimmed.
    code_lines: Vec<String>,
    line_starts: Vec<usize>,
}

impl Cleaned {
    fn new(source: &str) -> Cleaned {
        let bytes = source.as_bytes();
        let mut code = Vec::with_capacity(bytes.len());
        let mut comment = Vec::with_capacity(bytes.len());
        let mut i = 0;
        let blank = |b: u8| if b == b'\n' { b'\n' } else { b' ' };
        while i < bytes.len() {
            let rest = &bytes[i..];
            if rest.starts_with(b"//") {
                while i < bytes.len() && bytes[i] != b'\n' {
                    code.push(b' ');
                    comment.push(bytes[i]);
                    i += 1;
                }
            } else if rest.starts_with(b"/*") {
                let mut depth = 0;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        depth += 1;
                    } else if bytes[i..].starts_with(b"*/") {
                        depth -= 1;
                        if depth == 0 {
                            code.extend([b' ', b' ']);
                            comment.extend(b"*/");
                            i += 2;
                            break;
                        }
                    }
                    code.push(blank(bytes[i]));
                    comment.push(bytes[i]);
                    i += 1;
                }
            } else if let Some(len) = string_literal_len(rest) {
                let literal = &rest[..len];
                // keep the quotes' places, blank the inside
                code.extend(literal.iter().map(|&b| blank(b)));
                comment.extend(literal.iter().map(|&b| blank(b)));
                i += len;
            } else if let Some(len) = char_literal_len(rest) {
                code.extend(rest[..len].iter().map(|&b| blank(b)));
                comment.extend(rest[..len].iter().map(|&b| blank(b)));
                i += len;
            } else if rest[0].is_ascii_alphanumeric() || rest[0] == b'_' {
                // a whole identifier, so that `br"…"` is only a literal at a word's start
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    code.push(bytes[i]);
                    comment.push(blank(bytes[i]));
                    i += 1;
                }
            } else {
                code.push(bytes[i]);
                comment.push(blank(bytes[i]));
                i += 1;
            }
        }
        // Only ASCII was replaced, byte for byte: still UTF-8.
        let code = String::from_utf8_lossy(&code).into_owned();
        let comment = String::from_utf8_lossy(&comment).into_owned();
        let mut line_starts = vec![0];
        line_starts.extend(code.match_indices('\n').map(|(i, _)| i + 1));
        let code_lines: Vec<String> = code.lines().map(|l| l.trim().to_owned()).collect();
        let comments: Vec<String> = comment.lines().map(|l| l.trim().to_owned()).collect();
        let comment_only = code_lines
            .iter()
            .zip(&comments)
            .map(|(c, m)| c.is_empty() && !m.is_empty())
            .collect();
        Cleaned {
            code,
            comments,
            comment_only,
            code_lines,
            line_starts,
        }
    }

    fn line_of(&self, at: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= at)
    }

    fn comment(&self, line: usize) -> &str {
        self.comments.get(line - 1).map_or("", String::as_str)
    }

    fn is_attribute_line(&self, line: usize) -> bool {
        self.comment_only.get(line - 1).copied().unwrap_or(false)
            || self
                .code_lines
                .get(line - 1)
                .is_some_and(|c| c.starts_with("#[") || c.starts_with("#!["))
    }

    /// The reason given by a `deadline:` comment on `line` or in the comment lines right above
    /// it; `None` if there is none.
    fn allowance(&self, line: usize) -> Option<String> {
        if let Some(why) = self.reason_on(line) {
            return Some(why);
        }
        let mut above = line - 1;
        while above >= 1 && self.comment_only[above - 1] {
            if let Some(why) = self.reason_on(above) {
                return Some(why);
            }
            above -= 1;
        }
        None
    }

    /// The reason in a `deadline:` comment on `line` itself.
    fn reason_on(&self, line: usize) -> Option<String> {
        let text = self.comment(line);
        text.find(ALLOW).map(|at| {
            text[at + ALLOW.len()..]
                .trim()
                .trim_end_matches("*/")
                .trim()
                .to_owned()
        })
    }
}

/// The length of a string literal (`"…"`, `b"…"`, `r#"…"#`, `br"…"`, `c"…"`) at the start of
/// `rest`, if one starts there.
fn string_literal_len(rest: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < rest.len() && i < 2 && matches!(rest[i], b'b' | b'r' | b'c') {
        i += 1;
    }
    let raw = rest[..i].contains(&b'r');
    let mut hashes = 0;
    if raw {
        while rest.get(i) == Some(&b'#') {
            hashes += 1;
            i += 1;
        }
    }
    if rest.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    while i < rest.len() {
        match rest[i] {
            b'\\' if !raw => i += 2,
            b'"' if rest[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&b| b == b'#')
                .count()
                == hashes =>
            {
                return Some(i + 1 + hashes);
            }
            _ => i += 1,
        }
    }
    Some(rest.len())
}

/// The length of a char literal (`'x'`, `'\n'`, `'\u{…}'`, `b'x'`) at the start of `rest`; a
/// lifetime (`'a`) is not one.
fn char_literal_len(rest: &[u8]) -> Option<usize> {
    let quote = if rest.first() == Some(&b'b') { 1 } else { 0 };
    if rest.get(quote) != Some(&b'\'') {
        return None;
    }
    let body = &rest[quote + 1..];
    if body.first() == Some(&b'\\') {
        let close = body.iter().skip(1).position(|&b| b == b'\'')? + 1;
        return Some(quote + 1 + close + 1);
    }
    // one (possibly multi-byte) character, then a quote
    let width = match body.first()? {
        b if *b < 0x80 => 1,
        b if *b >= 0xf0 => 4,
        b if *b >= 0xe0 => 3,
        _ => 2,
    };
    (body.get(width) == Some(&b'\'')).then_some(quote + 1 + width + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(source: &str) -> Vec<usize> {
        scan(source, true).into_iter().map(|f| f.line).collect()
    }

    #[test]
    fn a_planted_undeadlined_run_is_named_by_line() {
        let source = r#"
use testkit::{run_with_deadline, TEST_DEADLINE};

#[test]
fn every_variant_agrees() {
    for (variant, run) in VARIANTS {
        let report = run(&input, &Config::default()).unwrap();
    }
}
"#;
        let findings = scan(source, true);
        assert_eq!(
            findings,
            vec![Finding {
                line: 7,
                what: "`run(…)` runs a pipeline variant".into()
            }]
        );
    }

    #[test]
    fn a_call_inside_the_runner_is_covered() {
        let source = r#"
fn t() {
    for (variant, run) in VARIANTS {
        let input = input.clone();
        run_with_deadline(variant.name(), TEST_DEADLINE, move || {
            run(&input, &Config::default())
        })
        .expect_finished("x");
    }
}
"#;
        assert_eq!(lines(source), Vec::<usize>::new());
    }

    #[test]
    fn a_local_wrapper_that_hands_a_closure_to_a_runner_is_a_runner() {
        let source = r#"
fn within<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    run_with_deadline(what, TEST_DEADLINE, work).expect_finished(what)
}
fn not_a_runner(work: impl FnOnce()) { work() }
fn t() {
    within("x", || run(&input));
    not_a_runner(|| run(&input));
}
"#;
        assert_eq!(lines(source), vec![8]);
    }

    #[test]
    fn names_a_variants_table_is_destructured_into_are_runs() {
        let source = r#"
fn t() {
    for (variant, go) in ch01::FIX_VARIANTS {
        go(&input);
    }
    let (_, pipeline) = ch01_baseline::VARIANTS[0];
    pipeline(&input);
    VARIANTS.iter().map(|&(v, each)| each(&input)).count();
    helper(&input); // not a run
}
"#;
        assert_eq!(lines(source), vec![4, 7, 8]);
    }

    #[test]
    fn threads_tasks_futures_processes_and_async_tests_are_risky() {
        let source = r#"
#[tokio::test]
async fn a() {}
fn b() {
    let h = std::thread::spawn(|| 1);
    thread::scope(|s| { s.spawn(|| 2); });
    tokio::spawn(async {});
    rt.block_on(async {});
    let out = Command::new("cargo").output();
    let child = SERVER.command().spawn();
}
"#;
        assert_eq!(lines(source), vec![2, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn comments_and_strings_are_not_code() {
        let source = r##"
// thread::spawn(|| 1) in a comment
/* block_on(x) in a /* nested */ block comment */
fn t() {
    let s = "run(&input) in a string";
    let r = r#"Command::new("x")"#;
    let c = '"'; let l: &'static str = "x"; spawn_blocking(|| 1);
}
"##;
        assert_eq!(lines(source), Vec::<usize>::new());
    }

    #[test]
    fn a_reasoned_comment_allows_a_line_or_a_function() {
        let source = r#"
fn t() {
    // deadline: joined at once, it only sleeps 10 ms
    let h = thread::spawn(|| sleep(ms(10)));
    let g = thread::spawn(|| 1); // deadline: returns at once
    let k = thread::spawn(|| 1); // deadline:
    // deadline: a statement over several lines
    let child = Command::new("sleep")
        .arg("1")
        .spawn();
}

/// Called only inside `run_with_deadline`.
// deadline: every caller runs it under TEST_DEADLINE
#[allow(dead_code)]
fn helper() {
    run(&input, &cfg);
}
"#;
        let findings = scan(source, true);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].line, 6);
        assert!(
            findings[0].what.contains("gives no reason"),
            "{}",
            findings[0]
        );
    }

    #[test]
    fn in_src_only_cfg_test_items_are_scanned() {
        let source = r#"
pub fn start() {
    thread::spawn(|| 1);
}

#[cfg(test)]
mod tests {
    #[test]
    fn t() {
        thread::spawn(|| 2);
    }
}
"#;
        let findings: Vec<usize> = scan(source, false).into_iter().map(|f| f.line).collect();
        assert_eq!(findings, vec![10]);
    }

    #[test]
    fn a_run_this_file_defines_is_judged_by_its_body() {
        let source = r#"
fn run(what: &str) -> Report {
    run_with_deadline(what, TEST_DEADLINE, move || serve(&cfg)).expect_finished(what)
}
fn t() {
    run("a");
    run_with(&input);
}
"#;
        assert_eq!(lines(source), vec![7]);
    }

    #[test]
    fn defining_a_run_is_not_calling_one() {
        let source = "fn run(input: &Input) {}\nfn t() { fn run_with(x: u8) {} }\n";
        assert_eq!(lines(source), Vec::<usize>::new());
    }
}
