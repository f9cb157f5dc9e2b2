"""Part 1, the learning layer: every chapter page (chNN-*.md) has objectives, takeaways, a self-check.

A reader alone has only the page to know what to learn and to check that they did, so every
chapter page carries three sections, in this order and once each:

- `## Objectives`, the page's first `##` heading (right after the title and the session plan),
  with 3 to 5 list items;
- `## Key takeaways`, with exactly 5 list items;
- `## Self-check`, after the takeaways, with at least 5 numbered questions, each followed
  (before the next question) by an answer folded away: `<details>` with
  `<summary>Answer</summary>`, closed by `</details>`.

Headings and items inside fenced code blocks do not count (chapter 4 shows a clippy.toml whose
`# comment` would read as a heading). Every message names the page and the line.
"""

import os
import re

from .report import rel

CHAPTER_PAGE_RE = re.compile(r"^ch\d\d-.*\.md$")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ITEM_RE = re.compile(r"^(?:[-*+]|\d+[.)])\s+\S")
QUESTION_RE = re.compile(r"^\d+[.)]\s+\S")
FENCE_RE = re.compile(r"^\s*(```|~~~)")

OBJECTIVES = "Objectives"
TAKEAWAYS = "Key takeaways"
SELF_CHECK = "Self-check"
OBJECTIVES_RANGE = (3, 5)
TAKEAWAYS_COUNT = 5
QUESTIONS_MIN = 5


def chapter_pages(src_dir):
    """The chapter pages, chNN-*.md, in name order."""
    return sorted(p for p in src_dir.glob("*.md") if CHAPTER_PAGE_RE.match(p.name))


def outside_fences(text):
    """[(line number, line)] for every line that is not inside a fenced code block."""
    lines = []
    fence = None
    for lineno, line in enumerate(text.splitlines(), 1):
        m = FENCE_RE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1) == fence:
                fence = None
            continue
        if fence is None:
            lines.append((lineno, line))
    return lines


def sections(lines):
    """{title: [(heading line, [(line number, line) of its body])]} for every `##` heading."""
    found = {}
    current = None
    for lineno, line in lines:
        m = HEADING_RE.match(line)
        if m and len(m.group(1)) <= 2:
            current = []
            found.setdefault(m.group(2), []).append((lineno, current))
        elif current is not None:
            current.append((lineno, line))
    return found


def check_page(text, where):
    """[(where, what)]: the problems of one chapter page; `where(line)` names a line."""
    problems = []
    lines = outside_fences(text)
    found = sections(lines)
    headings = [(n, HEADING_RE.match(l).group(2)) for n, l in lines
                if HEADING_RE.match(l) and len(HEADING_RE.match(l).group(1)) == 2]

    def one(title):
        entries = found.get(title, [])
        if not entries:
            problems.append((where(1), f'no "## {title}" section'))
            return None
        for lineno, _ in entries[1:]:
            problems.append((where(lineno), f'a second "## {title}" section'))
        return entries[0]

    objectives = one(OBJECTIVES)
    if objectives:
        lineno, body = objectives
        if headings[0][0] != lineno:
            problems.append((where(lineno), f'"## {OBJECTIVES}" must be the first "##" section '
                             f'(right after the title and the session plan), not after '
                             f'"## {headings[0][1]}"'))
        items = [n for n, l in body if ITEM_RE.match(l)]
        low, high = OBJECTIVES_RANGE
        if not low <= len(items) <= high:
            problems.append((where(lineno), f"{len(items)} objective(s): want {low} to {high} "
                             "list items"))

    takeaways = one(TAKEAWAYS)
    if takeaways:
        lineno, body = takeaways
        items = [n for n, l in body if ITEM_RE.match(l)]
        if len(items) != TAKEAWAYS_COUNT:
            problems.append((where(lineno), f"{len(items)} key takeaway(s): want exactly "
                             f"{TAKEAWAYS_COUNT} list items"))

    check = one(SELF_CHECK)
    if check:
        lineno, body = check
        if takeaways and takeaways[0] > lineno:
            problems.append((where(lineno), f'"## {SELF_CHECK}" comes before '
                             f'"## {TAKEAWAYS}": want the takeaways first'))
        questions = []  # [line, saw <details>, saw <summary>Answer, saw </details>]
        for n, line in body:
            if QUESTION_RE.match(line):
                questions.append([n, False, False, False])
            elif questions:
                q = questions[-1]
                if "<details>" in line:
                    q[1] = True
                if re.search(r"<summary>\s*Answer\s*</summary>", line):
                    q[2] = True
                if "</details>" in line and q[1]:
                    q[3] = True
        for n, details, summary, closed in questions:
            if not (details and summary and closed):
                problems.append((where(n), "a self-check question without its answer folded "
                                 "away: want <details><summary>Answer</summary> … </details> "
                                 "before the next question"))
        if len(questions) < QUESTIONS_MIN:
            problems.append((where(lineno), f"{len(questions)} self-check question(s): want at "
                             f"least {QUESTIONS_MIN} (numbered list items)"))
    return problems


def check_learning(report, book_dir, src_dir):
    """Every chapter page's objectives, takeaways and self-check (see the module's doc)."""
    cwd = os.getcwd()
    for page in chapter_pages(src_dir):
        where_page = rel(page, cwd)
        text = page.read_text(encoding="utf-8", errors="replace")
        for where, what in check_page(text, lambda line, w=where_page: f"{w}:{line}"):
            report.problem("sources", where, what)
