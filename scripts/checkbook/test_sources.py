"""summary.py and sources.py: SUMMARY.md's entries and the walk over the pages."""

import pathlib
import tempfile
import unittest

from .report import Report
from .sources import book_src_dir, check_sources
from .summary import chapter_pages

SUMMARY = """\
# Summary

[Introduction](intro.md)
- [Chapter](chapter.md#start)
<!-- - [Hidden](hidden.md) -->
- [Draft]()
- [Gone](gone.md)
- [Elsewhere](https://example.org/)
"""


class SourcesTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.book = pathlib.Path(tmp.name)
        (self.book / "book.toml").write_text('[book]\ntitle = "t"\nsrc = "pages"\n')
        self.src = self.book / "pages"
        (self.src / "generated").mkdir(parents=True)
        (self.src / "SUMMARY.md").write_text(SUMMARY)
        (self.src / "intro.md").write_text("# Intro\n")
        (self.src / "chapter.md").write_text("# Chapter\n\n{{#include generated/used.md}}\n")
        (self.src / "orphan.md").write_text("{{#include nothing.rs:x}}\n")
        (self.src / "generated" / "used.md").write_text("| a |\n")
        (self.src / "generated" / "unused.md").write_text("| b |\n")

    def test_src_dir_from_book_toml(self):
        self.assertEqual(book_src_dir(self.book), self.src)

    def test_chapter_pages_in_summary_order(self):
        heard = []
        pages = chapter_pages(self.src, lambda line, what: heard.append((line, what)))
        self.assertEqual(pages, [(self.src / "intro.md").resolve(),
                                 (self.src / "chapter.md").resolve()])
        self.assertEqual([line for line, _ in heard], [6, 7])
        self.assertIn("[Draft]() is a draft", heard[0][1])
        self.assertIn("[Gone](gone.md): no such file", heard[1][1])

    def test_check_sources(self):
        report = Report()
        check_sources(report, self.book, self.src)
        wheres = [where for _, where, _ in report.problems]
        self.assertEqual(len(wheres), 3, report.problems)
        self.assertTrue(wheres[0].endswith("SUMMARY.md:6"))
        self.assertTrue(wheres[1].endswith("SUMMARY.md:7"))
        self.assertTrue(wheres[2].endswith("orphan.md:1"))  # checked though not rendered
        self.assertEqual(len(report.notes), 2, report.notes)
        self.assertIn("orphan.md: not in SUMMARY.md", report.notes[0])
        self.assertIn("unused.md: generated but not included", report.notes[1])


if __name__ == "__main__":
    unittest.main()
