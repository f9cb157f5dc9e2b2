"""Part 1, the sources: SUMMARY.md, and every directive in every page (see includes.py)."""

import os
import re

from .includes import GENERATED_DIR, check_includes
from .report import rel
from .summary import chapter_pages


def book_src_dir(book_dir):
    """book.toml's [book] src (default "src"), read without a TOML parser for Python < 3.11."""
    toml = book_dir / "book.toml"
    src = "src"
    if toml.is_file():
        section = None
        for line in toml.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[] ")
            elif section == "book":
                m = re.match(r'src\s*=\s*"([^"]*)"', line)
                if m:
                    src = m.group(1)
    return book_dir / src


def check_sources(report, book_dir, src_dir):
    """SUMMARY.md's entries; then every page, in SUMMARY order, then the others in src/."""
    cwd = os.getcwd()
    summary = src_dir / "SUMMARY.md"
    if not summary.is_file():
        report.problem("sources", rel(summary, cwd), "missing")
        return
    where = rel(summary, cwd)
    chapters = chapter_pages(
        src_dir, lambda lineno, what: report.problem("sources", f"{where}:{lineno}", what))
    pages = list(dict.fromkeys(chapters + sorted(p.resolve() for p in src_dir.glob("*.md"))))
    included = set()
    for page in pages:
        if page.name == "SUMMARY.md":
            continue
        if page not in chapters:
            report.note(f"{rel(page, cwd)}: not in SUMMARY.md, so not rendered (checked anyway)")
        text = page.read_text(encoding="utf-8", errors="replace")
        where_page = rel(page, cwd)
        check_includes(report, text, page.parent, lambda line, w=where_page: f"{w}:{line}",
                       src_dir, 0, included)
    generated = src_dir / GENERATED_DIR
    if generated.is_dir():
        for f in sorted(generated.rglob("*.md")):
            if f.resolve() not in included:
                report.note(f"{rel(f, cwd)}: generated but not included by any page")
