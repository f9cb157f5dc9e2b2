"""The rendered book (BOOK_DIR/book): each page parsed once, and where a reference in a page
leads (a file in the book, an element id in it, outside the book, the network).

Both the static link check (links.py) and the browser check (browser.py) ask it."""

import html.parser
import posixpath
import re
import urllib.parse

URL_ATTRS = {"href", "src", "data", "poster", "xlink:href", "action", "formaction", "cite"}


class PageParser(html.parser.HTMLParser):
    """One page: its element ids (and <a name>), every URL it refers to, its <base href>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.duplicate_ids = set()
        self.refs = []  # (line, tag, attr, value)
        self.base = None
        self.link_rels = {}  # line -> rel of a <link> on that line

    def handle_starttag(self, tag, attrs):
        self._tag(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._tag(tag, attrs)

    def _tag(self, tag, attrs):
        line = self.getpos()[0]
        a = dict(attrs)
        for key in ("id",) + (("name",) if tag == "a" else ()):
            value = a.get(key)
            if value:
                if key == "id" and value in self.ids:
                    self.duplicate_ids.add(value)
                self.ids.add(value)
        if tag == "link":
            self.link_rels[line] = self.link_rels.get(line, "") + " " + (a.get("rel") or "").lower()
        if tag == "base" and a.get("href"):
            self.base = a["href"]
            return
        for key, value in attrs:
            if value is None:
                continue
            if key in URL_ATTRS and not (tag == "form" or key == "cite"):
                self.refs.append((line, tag, key, value))
            elif key in ("srcset", "imagesrcset"):
                for candidate in value.split(","):
                    candidate = candidate.strip().split()
                    if candidate:
                        self.refs.append((line, tag, key, candidate[0]))
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            m = re.search(r"url\s*=\s*['\"]?([^'\"]+)", a.get("content") or "", re.I)
            if m:
                self.refs.append((line, tag, "content", m.group(1).strip()))


class RenderedBook:
    """The rendered book: page parses (cached), path resolution, fragment lookups."""

    def __init__(self, out_dir):
        self.out = out_dir.resolve()
        self._pages = {}
        self.dom_ids = {}  # page -> ids seen in the browser (after JavaScript)

    def page(self, relpath):
        if relpath not in self._pages:
            parser = PageParser()
            try:
                parser.feed((self.out / relpath).read_text(encoding="utf-8", errors="replace"))
                parser.close()
            except OSError:
                pass
            self._pages[relpath] = parser
        return self._pages[relpath]

    def html_pages(self):
        return sorted(p.relative_to(self.out).as_posix() for p in self.out.rglob("*.html"))

    def base_dir_of(self, page):
        """The directory relative references in `page` resolve against, or None if unusable."""
        base = self.page(page).base
        if base is None:
            return posixpath.dirname(page)
        parts = urllib.parse.urlsplit(base)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            return None  # an absolute URL base: the hosted site, nothing to check locally
        return parts.path.strip("/")

    def resolve(self, page, value):
        """('skip'|'external'|'ok'|'broken', detail) for a reference found in `page`."""
        value = value.strip()
        if value == "":
            return ("skip", None)
        parts = urllib.parse.urlsplit(value)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https", "mailto", "tel", "ftp") or value.startswith("//"):
            return ("external", value)
        if scheme in ("data", "javascript", "about", "blob"):
            return ("skip", None)
        if scheme:
            return ("broken", f"'{value}': {scheme}: URLs do not work in a published book")
        path = urllib.parse.unquote(parts.path)
        has_base = self.page(page).base is not None
        if path.startswith("/"):
            if not has_base:
                return ("broken", f"'{value}': root-relative, breaks when the book is opened "
                                  "from disk (use a relative path)")
            target = posixpath.normpath(path.lstrip("/")) if path.strip("/") else ""
        else:
            base = self.base_dir_of(page)
            if base is None:
                return ("skip", None)
            if path == "":
                # With a <base href> a browser resolves "#x" against the base, but mdBook's
                # 404.html has them only on its own headings: check them against the page.
                target = page
            else:
                target = posixpath.normpath(posixpath.join(base, path))
        if target in ("", "."):
            target = "index.html"
        if target == ".." or target.startswith("../"):
            return ("broken", f"'{value}': points outside the rendered book")
        full = self.out / target
        if full.is_dir():
            target = posixpath.join(target, "index.html")
            full = self.out / target
        if not full.is_file():
            return ("broken", f"'{value}': no file {target} in the rendered book")
        fragment = urllib.parse.unquote(parts.fragment)
        if fragment and target.endswith(".html") and not self.fragment_ok(target, fragment):
            return ("broken", f"'{value}': no element with id '{fragment}' in {target}")
        return ("ok", target)

    def fragment_ok(self, target, fragment):
        if fragment.lower() == "top" or fragment.startswith(":~:"):
            return True
        return fragment in self.page(target).ids or fragment in self.dom_ids.get(target, ())
