"""Part 2, the rendered book statically: every reference in the HTML (links, images, scripts,
stylesheets, <meta refresh>), every url() in the CSS, every entry of the search index."""

import json
import os
import posixpath
import re
import urllib.parse

from .report import rel

CSS_URL_RE = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")


def check_rendered(report, book):
    cwd = os.getcwd()
    out = book.out
    pages = book.html_pages()
    if not pages:
        report.problem("rendered", rel(out, cwd), "no .html files: run `mdbook build` first")
        return {}
    externals = {}
    for page in pages:
        parsed = book.page(page)
        for dup in sorted(parsed.duplicate_ids):
            report.problem("rendered", page, f"id '{dup}' appears more than once "
                                             "(a #fragment link to it is ambiguous)")
        for line, tag, attr, value in parsed.refs:
            status, detail = book.resolve(page, value)
            if status == "external":
                externals.setdefault(detail, []).append(page)
                loaded = tag != "a" and not (tag == "link" and attr == "href" and "stylesheet" not in
                                             (parsed.link_rels.get(line, "")))
                if loaded and urllib.parse.urlsplit(value).scheme.lower() not in ("mailto", "tel"):
                    report.problem("rendered", f"{page}:{line}",
                                   f"<{tag} {attr}='{value}'> loads from the network "
                                   "(the book must work offline: ship the file in the book)")
            elif status == "broken":
                kind = "broken link" if tag == "a" else f"missing resource <{tag} {attr}>"
                report.problem("rendered", f"{page}:{line}", f"{kind} {detail}")
    for css in sorted(out.rglob("*.css")):
        css_rel = css.relative_to(out).as_posix()
        text = css.read_text(encoding="utf-8", errors="replace")
        for m in CSS_URL_RE.finditer(text):
            value = m.group(2).strip()
            parts = urllib.parse.urlsplit(value)
            if parts.scheme in ("data",) or value.startswith("#"):
                continue
            if parts.scheme or value.startswith("//"):
                report.problem("rendered", css_rel, f"loads '{value}' from the network "
                                                    "(the book must work offline)")
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(css_rel),
                                                       urllib.parse.unquote(parts.path)))
            if not (out / target).is_file():
                line = text.count("\n", 0, m.start()) + 1
                report.problem("rendered", f"{css_rel}:{line}", f"url('{value}'): no file {target}")
    indexes = sorted(out.glob("searchindex*.js"))
    for index in indexes:
        text = index.read_text(encoding="utf-8", errors="replace")
        m = re.search(r'"doc_urls":(\[.*?\])', text)
        if not m:
            report.problem("rendered", index.name, "no doc_urls in the search index")
            continue
        try:
            urls = json.loads(m.group(1).replace("\\'", "'").replace("\\\\", "\\"))
        except ValueError:
            report.problem("rendered", index.name, "cannot read the search index's doc_urls")
            continue
        for url in urls:
            status, detail = book.resolve("index.html", url)
            if status == "broken":
                report.problem("rendered", index.name, f"search result {detail}")
    if not indexes:
        report.note("no searchindex*.js in the rendered book: search is off")
    return externals
