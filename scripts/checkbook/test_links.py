"""rendered.py and links.py: where a reference leads, on a tiny rendered book on disk."""

import pathlib
import tempfile
import unittest

from .links import check_rendered
from .rendered import RenderedBook
from .report import Report

PAGES = {
    "index.html": '<main><h1 id="intro">Intro</h1><a name="old">x</a>'
                  '<link rel="stylesheet" href="css/book.css"></main>',
    "chapter.html": '<h2 id="part">Part</h2>\n'
                    '<a href="index.html#intro">ok</a>\n'
                    '<a href="index.html#nowhere">bad fragment</a>\n'
                    '<a href="missing.html">bad page</a>\n'
                    '<img src="img/none.svg">\n'
                    '<a href="https://example.org/">external</a>\n'
                    '<script src="https://cdn.example.org/x.js"></script>\n'
                    '<a href="/index.html">root-relative</a>\n',
    "sub/index.html": '<a href="../chapter.html#part">up</a><a href="../../out.html">out</a>',
    "404.html": '<base href="/"><a href="/chapter.html">home</a><a href="#top">top</a>',
}


class RenderedBookTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.out = pathlib.Path(tmp.name) / "book"
        for name, text in PAGES.items():
            (self.out / name).parent.mkdir(parents=True, exist_ok=True)
            (self.out / name).write_text(text)
        (self.out / "css").mkdir()
        (self.out / "css" / "book.css").write_text("a { background: url('../img/gone.png') }\n")
        (self.out / "searchindex.js").write_text(
            'window.search = {"doc_urls":["chapter.html#part","chapter.html#gone"]};')
        self.book = RenderedBook(self.out)

    def test_resolve(self):
        cases = [
            ("chapter.html", "index.html#intro", ("ok", "index.html")),
            ("chapter.html", "index.html#old", ("ok", "index.html")),  # <a name>
            ("chapter.html", "#part", ("ok", "chapter.html")),
            ("chapter.html", "index.html#top", ("ok", "index.html")),
            ("chapter.html", "sub/", ("ok", "sub/index.html")),
            ("chapter.html", "", ("skip", None)),
            ("chapter.html", "data:image/png;base64,AA", ("skip", None)),
            ("chapter.html", "https://example.org/", ("external", "https://example.org/")),
            ("sub/index.html", "../chapter.html#part", ("ok", "chapter.html")),
            ("404.html", "/chapter.html", ("ok", "chapter.html")),  # it has a <base href>
        ]
        for page, value, expected in cases:
            with self.subTest(page=page, value=value):
                self.assertEqual(self.book.resolve(page, value), expected)

    def test_broken(self):
        cases = [
            ("chapter.html", "index.html#nowhere", "no element with id 'nowhere' in index.html"),
            ("chapter.html", "missing.html", "no file missing.html in the rendered book"),
            ("chapter.html", "/index.html", "root-relative"),
            ("sub/index.html", "../../out.html", "points outside the rendered book"),
            ("chapter.html", "ftp2:x", "URLs do not work in a published book"),
        ]
        for page, value, fragment in cases:
            with self.subTest(page=page, value=value):
                status, detail = self.book.resolve(page, value)
                self.assertEqual(status, "broken")
                self.assertIn(fragment, detail)

    def test_ids_seen_in_the_browser_count_too(self):
        self.assertEqual(self.book.resolve("chapter.html", "index.html#late")[0], "broken")
        self.book.dom_ids["index.html"] = {"late"}
        self.assertEqual(self.book.resolve("chapter.html", "index.html#late")[0], "ok")

    def test_check_rendered_reports_each_problem_where_it_is(self):
        report = Report()
        externals = check_rendered(report, self.book)
        expected = [
            ("chapter.html:3", "broken link 'index.html#nowhere': no element with id 'nowhere'"),
            ("chapter.html:4", "broken link 'missing.html': no file missing.html"),
            ("chapter.html:5", "missing resource <img src> 'img/none.svg': no file"),
            ("chapter.html:7", "<script src='https://cdn.example.org/x.js'> loads from the network"),
            ("chapter.html:8", "broken link '/index.html': root-relative"),
            ("sub/index.html:1", "broken link '../../out.html': points outside"),
            ("css/book.css:1", "url('../img/gone.png'): no file img/gone.png"),
            ("searchindex.js", "search result 'chapter.html#gone': no element with id 'gone'"),
        ]
        self.assertEqual([where for _, where, _ in report.problems], [w for w, _ in expected])
        for (_, where, what), (_, start) in zip(report.problems, expected):
            self.assertTrue(what.startswith(start), f"{where}: {what}")
        self.assertEqual(sorted(externals),
                         ["https://cdn.example.org/x.js", "https://example.org/"])


if __name__ == "__main__":
    unittest.main()
