"""Problems and notes: collected while checking, printed at the end grouped by part."""

import os

# The parts, in the order they are printed: (part, title). A problem names its part.
PARTS = (
    ("build", "mdbook build"),
    ("sources", "sources (SUMMARY.md, {{#include}})"),
    ("rendered", "rendered book (links, fragments, resources)"),
    ("browser", "headless Chromium (JavaScript errors, failed loads, images, links)"),
)


class Report:
    """Problems as (part, where, what), each once, in the order found; notes never fail."""

    def __init__(self):
        self.problems = []  # (part, where, what)
        self.notes = []
        self._seen = set()

    def problem(self, part, where, what):
        key = (part, where, what)
        if key not in self._seen:
            self._seen.add(key)
            self.problems.append(key)

    def note(self, text):
        self.notes.append(text)

    def fold_print_page(self):
        """print.html repeats every chapter: drop its problems already reported for a chapter."""
        elsewhere = {(part, what) for part, where, what in self.problems
                     if not where.startswith("print.html")}
        kept = [(part, where, what) for part, where, what in self.problems
                if not (where.startswith("print.html") and (part, what) in elsewhere)]
        if len(kept) != len(self.problems):
            self.note(f"{len(self.problems) - len(kept)} problem(s) of print.html not shown: "
                      "the same as in the chapter pages above")
        self.problems = kept


def rel(path, root):
    """A path for messages: relative to the current directory when possible."""
    path = os.path.abspath(path)
    root = os.path.abspath(root)
    if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
        return os.path.relpath(path, root)
    return path


def print_report(report, timings, externals, no_external_list):
    """The problems by part, the external links, the notes, the timings, the verdict."""
    report.fold_print_page()
    for part, title in PARTS:
        rows = [(w, m) for p, w, m in report.problems if p == part]
        if rows:
            print(f"== {title}: {len(rows)} problem{'s' if len(rows) != 1 else ''}")
            for where, what in rows:
                print(f"{where}: {what}")
    if externals and not no_external_list:
        print(f"-- external links (listed, not fetched): {len(externals)}")
        for url, pages in sorted(externals.items()):
            unique = list(dict.fromkeys(pages))
            more = f" (+{len(unique) - 3} more)" if len(unique) > 3 else ""
            print(f"   {url}  <- {', '.join(unique[:3])}{more}")
    for note in report.notes:
        print(f"note: {note}")
    print("-- time: " + ", ".join(f"{name} {secs:.1f} s" for name, secs in timings))
    count = len(report.problems)
    if count:
        print(f"check-book: {count} problem{'s' if count != 1 else ''}")
    else:
        print("check-book: OK, no problem")
