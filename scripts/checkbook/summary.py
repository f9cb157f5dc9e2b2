"""SUMMARY.md: its `[title](link)` entries, and the pages they link to (the rendered chapters)."""

import os
import re
import urllib.parse

from .report import rel

SUMMARY_LINK_RE = re.compile(r"\[((?:[^\]\\]|\\.)*)\]\(([^)]*)\)")
EXTERNAL_LINK_RE = re.compile(r"^[a-z][a-z0-9+.-]*:")


def blank_html_comments(text):
    """Replace <!-- ... --> by blanks, keeping line numbers."""
    return re.sub(r"<!--.*?-->", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)


def parse_summary(summary):
    """[(line, title, link)] for every [title](link) in SUMMARY.md."""
    entries = []
    text = blank_html_comments(summary.read_text(encoding="utf-8"))
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in SUMMARY_LINK_RE.finditer(line):
            entries.append((lineno, m.group(1), m.group(2).strip()))
    return entries


def chapter_pages(src_dir, problem=lambda lineno, what: None):
    """The pages SUMMARY.md links to, in its order, as resolved paths. External links are
    skipped; `problem(lineno, what)` hears of a draft entry or a link to a missing file."""
    chapters = []
    for lineno, title, link in parse_summary(src_dir / "SUMMARY.md"):
        if link == "":
            problem(lineno, f"[{title}]() is a draft: write the page or drop the entry")
            continue
        if EXTERNAL_LINK_RE.match(link):
            continue
        path = urllib.parse.unquote(link.split("#", 1)[0])
        page = src_dir / path
        if not page.is_file():
            problem(lineno, f"[{title}]({link}): no such file {rel(page, os.getcwd())}")
            continue
        chapters.append(page.resolve())
    return chapters
