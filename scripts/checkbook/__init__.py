"""Check the mdBook: its sources, the rendered HTML, and (with --browser) every page in Chromium.

usage: scripts/check-book [--build] [--browser] [BOOK_DIR]        (BOOK_DIR defaults to book/)

Run `mdbook build BOOK_DIR` first (or pass --build). Python 3 standard library only.

1. Sources (BOOK_DIR/src, BOOK_DIR/book.toml's src):
   - SUMMARY.md: no draft entry (`[Title]()`), every linked page exists.
   - every {{#include}}, {{#rustdoc_include}} and {{#playground}} in the pages (and,
     recursively, in what they include, as mdBook does): the file exists; an anchor
     (`file:name`) has both `ANCHOR: name` and `ANCHOR_END: name`, in that order, and is not
     empty; no line ranges (`file:10:20`, `file:10`, `file::20`): they rot silently when the
     code moves; a whole file only for generated artifacts (under src/generated/, or *.md,
     *.txt), so never a whole .rs file. An unknown {{#directive}} (a typo) is an error too:
     mdBook leaves it in the page as text.
   - every chapter page (chNN-*.md): "## Objectives" first, with 3-5 items; "## Key takeaways"
     with exactly 5; "## Self-check" after them with at least 5 numbered questions, each with
     its answer in <details><summary>Answer</summary> ... </details> (learning.py).
2. Rendered book (BOOK_DIR/book, static, parsed with html.parser):
   every internal href/src/srcset/data in every .html (links, images, scripts, stylesheets,
   <meta refresh>) resolves to a file in the rendered book, and a `#fragment` to an element id
   (or <a name>) in the target page; every url() in the CSS resolves; every entry of the search
   index (searchindex*.js: the targets of search results) resolves. Root-relative links
   (`/x.html`) are errors (they break when the book is opened from disk), except in pages with
   a <base href> (404.html). External links (http, https, mailto) are listed, not fetched.
3. --browser: every rendered page in headless Chromium, driven over its DevTools protocol on a
   pipe (--remote-debugging-pipe), twice: from disk (file://; 404.html is skipped there, it
   needs a web server) and from a throw-away local HTTP server (like `mdbook serve` or a
   host). The network outside this machine is unreachable for the browser (host resolver
   rules). A page fails on: an uncaught JavaScript exception or unhandled rejection,
   console.error, a browser error log entry, a request that fails (missing image/css/js/font,
   including ones loaded from CSS), an HTTP status >= 400, any request that leaves the
   machine (the book must work offline), an <img> that does not display (naturalWidth 0), a
   link in the final DOM (including the ones JavaScript adds: sidebar, search results) that
   does not resolve, a page that does not finish loading within the timeout. Also runs the
   book's search (`index.html?search=TERM`) and fails if it finds nothing.
   Needs Chromium: `chromium` or `chromium-browser` on PATH, or --chromium PATH / $CHROMIUM.

Output: one line per problem, `where: what` (where = BOOK_DIR/src/page.md:LINE for sources,
the page's path in the rendered book for the rest), grouped by part, then a summary line.
Notes (external links, pages not in SUMMARY.md, timings) are printed but never fail.
Exit status: 0 no problem, 1 problems found, 2 cannot run (no rendered book, no Chromium,...).
"""

# One idea per module:
#   report.py    collecting problems and notes, printing them (the output format)
#   summary.py   SUMMARY.md: its entries and the pages it links to
#   includes.py  {{#include}} and friends: anchors, no line ranges, no whole source files
#   sources.py   part 1: SUMMARY.md and every page's directives
#   learning.py  part 1: every chapter page's objectives, key takeaways and self-check
#   rendered.py  the rendered book: parsed pages, how a reference resolves (file, #fragment)
#   links.py     part 2: every reference in the rendered HTML, CSS and search index
#   devtools.py  a minimal Chromium DevTools protocol client over a pipe
#   visit.py     one page in one tab: what went wrong while it loaded, and its final DOM
#   browser.py   part 3: every page, from disk and over local HTTP, plus the search
#   cli.py       the command line: arguments, the order of the parts, exit status
# A new check on the sources (for example: every chapter page has learning objectives) is one
# module with a `check(report, book_dir, src_dir)` function, added to cli.SOURCE_CHECKS.
