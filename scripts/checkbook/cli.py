"""The command line: arguments, the order of the parts, the exit status (see __init__.py)."""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

from . import __doc__ as USAGE
from .browser import check_browser, search_term
from .devtools import BROWSER_NAMES, CdpError, find_chromium, install_hint
from .learning import check_learning
from .links import check_rendered
from .rendered import RenderedBook
from .report import Report, print_report
from .sources import book_src_dir, check_sources

# The checks on the sources, in order: each is `check(report, book_dir, src_dir)`. They need
# no rendered book, and run before the rendered book is looked at.
SOURCE_CHECKS = (check_sources, check_learning)


def main():
    """Run the parts in order; the exit status: 0 no problem, 1 problems, 2 cannot run."""
    parser = argparse.ArgumentParser(
        prog="check-book", description=USAGE.split("\n", 2)[0],
        epilog=USAGE.split("\n", 3)[3], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("book_dir", nargs="?", default="book", metavar="BOOK_DIR",
                        help="the mdBook's directory, with book.toml (default: book)")
    parser.add_argument("--build", action="store_true",
                        help="run `mdbook build BOOK_DIR` first; its WARN/ERROR lines are problems")
    parser.add_argument("--browser", action="store_true",
                        help="also open every page in headless Chromium (see 3.)")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM"), metavar="PATH",
                        help="the Chromium executable (default: $CHROMIUM, chromium, chromium-browser)")
    parser.add_argument("--mode", choices=("both", "file", "http"), default="both",
                        help="--browser: open pages from disk, over local HTTP, or both (default)")
    parser.add_argument("--jobs", type=int, default=max(2, min(4, (os.cpu_count() or 2) * 2)),
                        help="--browser: pages open at the same time (default: %(default)s)")
    parser.add_argument("--settle", type=float, default=0.3, metavar="SECONDS",
                        help="--browser: quiet time after the load event before checking (default 0.3)")
    parser.add_argument("--page-timeout", type=float, default=20, metavar="SECONDS",
                        help="--browser: a page that takes longer fails (default 20)")
    parser.add_argument("--search-term", metavar="WORD",
                        help="--browser: the word to search for (default: from the first h1)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="--browser: print each page's load time as it is checked")
    parser.add_argument("--no-external-list", action="store_true",
                        help="do not list the external links")
    args = parser.parse_args()

    book_dir = pathlib.Path(args.book_dir)
    if not (book_dir / "book.toml").is_file():
        print(f"check-book: {book_dir}/book.toml not found (BOOK_DIR is the mdBook's directory)",
              file=sys.stderr)
        return 2
    src_dir = book_src_dir(book_dir)
    out_dir = book_dir / "book"
    report = Report()
    timings = []

    if args.build:
        started = time.monotonic()
        mdbook = shutil.which("mdbook")
        if not mdbook:
            print("check-book: --build: mdbook not on PATH", file=sys.stderr)
            return 2
        run = subprocess.run([mdbook, "build", str(book_dir)], capture_output=True, text=True)
        for line in (run.stdout + run.stderr).splitlines():
            if re.search(r"\b(WARN|ERROR)\b", line):
                report.problem("build", f"mdbook build {book_dir}", line.strip())
        if run.returncode != 0:
            report.problem("build", f"mdbook build {book_dir}", f"exit status {run.returncode}")
        timings.append(("mdbook build", time.monotonic() - started))

    if args.browser:
        chromium = find_chromium(args.chromium)
        if not chromium:
            print(f"check-book: --browser needs Chromium, not found on PATH "
                  f"(looked for {', '.join(BROWSER_NAMES)}); {install_hint()}", file=sys.stderr)
            return 2

    started = time.monotonic()
    for check in SOURCE_CHECKS:
        check(report, book_dir, src_dir)
    timings.append(("sources", time.monotonic() - started))

    if not (out_dir / "index.html").is_file():
        print(f"check-book: no rendered book at {out_dir}/index.html: run "
              f"`mdbook build {book_dir}` first (or pass --build)", file=sys.stderr)
        print_report(report, timings, {}, True)
        return 2
    newest_src = max((p.stat().st_mtime for p in src_dir.rglob("*") if p.is_file()), default=0)
    if newest_src > (out_dir / "index.html").stat().st_mtime:
        report.note(f"{out_dir} is older than {src_dir}: run `mdbook build {book_dir}` first")

    book = RenderedBook(out_dir)
    started = time.monotonic()
    externals = check_rendered(report, book)
    timings.append(("rendered book (static)", time.monotonic() - started))

    if args.browser:
        started = time.monotonic()
        modes = ("file", "http") if args.mode == "both" else (args.mode,)
        term = args.search_term or search_term(book)
        if not term:
            report.note("no word to search for: search not exercised (pass --search-term)")
        try:
            check_browser(report, book, chromium, modes, max(1, args.jobs), args.settle,
                          args.page_timeout, term, args.verbose)
        except (CdpError, OSError) as err:
            print_report(report, timings, externals, args.no_external_list)
            sys.stdout.flush()
            print(f"check-book: cannot drive Chromium: {err}", file=sys.stderr)
            return 2
        pages = len(book.html_pages())
        timings.append((f"browser ({pages} pages x {len(modes)}: {', '.join(modes)}"
                        f"{'; search ' + repr(term) if term else ''})",
                        time.monotonic() - started))

    print_report(report, timings, externals, args.no_external_list)
    return 1 if report.problems else 0
