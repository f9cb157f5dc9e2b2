"""includes.py: anchors as mdBook reads them, and the includes the book does not allow."""

import pathlib
import tempfile
import textwrap
import unittest

from .includes import anchored_lines, check_includes, parse_range_or_anchor
from .report import Report

CODE = textwrap.dedent("""\
    use std::io;
    // ANCHOR: outer
    fn outer() {
        // ANCHOR: inner
        let x = 1;
        // ANCHOR_END: inner
    }
    // ANCHOR_END: outer
    // ANCHOR: empty
    // ANCHOR_END: empty
    // ANCHOR: open
    fn rest() {}
    """)


class AnchoredLines(unittest.TestCase):
    def test_body_between_the_markers_without_other_anchors_markers(self):
        found, ended, duplicate, body = anchored_lines(CODE, "outer")
        self.assertEqual((found, ended, duplicate), (True, True, False))
        self.assertEqual(body, "fn outer() {\n    let x = 1;\n}")

    def test_nested_anchor(self):
        self.assertEqual(anchored_lines(CODE, "inner"), (True, True, False, "    let x = 1;"))

    def test_missing_end_takes_the_rest_of_the_file(self):
        self.assertEqual(anchored_lines(CODE, "open"), (True, False, False, "fn rest() {}"))

    def test_unknown_and_empty_and_duplicate(self):
        self.assertEqual(anchored_lines(CODE, "nope")[:2], (False, False))
        self.assertEqual(anchored_lines(CODE, "empty"), (True, True, False, ""))
        twice = "// ANCHOR: a\nx\n// ANCHOR_END: a\n// ANCHOR: a\ny\n// ANCHOR_END: a\n"
        self.assertEqual(anchored_lines(twice, "a"), (True, True, True, "x"))

    def test_a_name_is_not_a_prefix_match(self):
        self.assertFalse(anchored_lines("// ANCHOR: outer_more\nx\n", "outer")[0])


class RangeOrAnchor(unittest.TestCase):
    def test_what_mdbook_reads(self):
        cases = {
            None: ("whole", None),
            "name": ("anchor", "name"),
            "10:20": ("range", "10:20"),
            "10": ("range", "10"),
            "10:": ("range", "10:"),
            ":20": ("range", ":20"),
            "": ("whole", None),
            ":": ("whole", None),
        }
        for spec, expected in cases.items():
            with self.subTest(spec=spec):
                self.assertEqual(parse_range_or_anchor(spec), expected)


class CheckIncludes(unittest.TestCase):
    """Directives in a page, against files in a throw-away source tree."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.src = pathlib.Path(tmp.name) / "src"
        (self.src / "generated").mkdir(parents=True)
        (self.src / "code.rs").write_text(CODE)
        (self.src / "generated" / "table.md").write_text("| a |\n")
        (self.src / "notes.txt").write_text("text\n")
        (self.src / "part.md").write_text("{{#include code.rs:nope}}\n")

    def check(self, page_text):
        report, included = Report(), set()
        check_includes(report, page_text, self.src, lambda line: f"page.md:{line}", self.src, 0,
                       included)
        return [(where, what) for _, where, what in report.problems], included

    def assertOneProblem(self, page_text, *fragments, where="page.md:1"):
        problems, _ = self.check(page_text)
        self.assertEqual(len(problems), 1, problems)
        self.assertEqual(problems[0][0], where)
        for fragment in fragments:
            self.assertIn(fragment, problems[0][1])

    def test_good_includes_are_quiet(self):
        problems, included = self.check(
            "{{#include code.rs:outer}}\n{{#rustdoc_include code.rs:inner}}\n"
            "{{#include generated/table.md}}\n{{#include notes.txt}}\n"
            "\\{{#include code.rs:10:20}} is escaped\n{{#title A title}}\n")
        self.assertEqual(problems, [])
        self.assertIn((self.src / "generated" / "table.md").resolve(), included)

    def test_line_ranges_are_rejected(self):
        for spec in ("10:20", "10", ":20", "3:"):
            with self.subTest(spec=spec):
                self.assertOneProblem(f"{{{{#include code.rs:{spec}}}}}",
                                      f"line range '{spec}'", "ANCHOR: name")

    def test_a_whole_source_file_is_rejected(self):
        self.assertOneProblem("{{#include code.rs}}", "includes a whole .rs file")
        self.assertOneProblem("{{#playground code.rs}}", "includes a whole .rs file")

    def test_anchor_problems(self):
        self.assertOneProblem("x\n{{#include code.rs:nope}}", "no `ANCHOR: nope`",
                              where="page.md:2")
        self.assertOneProblem("{{#include code.rs:empty}}", "anchor 'empty' is empty")
        self.assertOneProblem("{{#include code.rs:open}}", "has no `ANCHOR_END: open`")

    def test_missing_file_and_unknown_directive(self):
        self.assertOneProblem("{{#include gone.rs:outer}}", "no such file")
        self.assertOneProblem("{{#inclde code.rs:outer}}", "unknown directive")

    def test_problems_inside_included_pages_name_the_way_in(self):
        self.assertOneProblem("{{#include part.md}}", "no `ANCHOR: nope`",
                              where=f"page.md:1 (via {self.src / 'part.md'}:1)")


if __name__ == "__main__":
    unittest.main()
