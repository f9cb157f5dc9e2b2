"""learning.py: every chapter page's objectives, key takeaways and self-check."""

import pathlib
import tempfile
import unittest

from .learning import check_learning, check_page
from .report import Report


def answer(n):
    return (f"{n}. Question {n}?\n\n   <details><summary>Answer</summary>\n\n"
            f"   Because {n}.\n\n   </details>\n\n")


GOOD = ("# Title\n\n> **Session: 10 minutes.**\n\n## Objectives\n\n- explain a\n- fix b\n"
        "- predict c\n\n## The idea\n\n```toml\n# not a heading\n## Objectives\n```\n\n"
        "## Key takeaways\n\n- one\n- two\n- three\n- four\n- five\n\n## Self-check\n\n"
        + "".join(answer(n) for n in range(1, 6))
        + "## Facilitator notes\n\n- talk\n")


def problems(text):
    return check_page(text, lambda line: f"p.md:{line}")


class LearningTest(unittest.TestCase):
    def test_a_complete_page_passes(self):
        self.assertEqual(problems(GOOD), [])

    def test_missing_sections_are_named(self):
        text = GOOD.replace("## Key takeaways", "## Takeaways").replace("## Self-check", "## Quiz")
        whats = [what for _, what in problems(text)]
        self.assertEqual(whats, ['no "## Key takeaways" section', 'no "## Self-check" section'])

    def test_objectives_must_come_first_and_count_3_to_5(self):
        text = GOOD.replace("## Objectives\n\n- explain a\n- fix b\n- predict c\n",
                            "## Start\n\ntext\n\n## Objectives\n\n- explain a\n- fix b\n")
        found = problems(text)
        self.assertEqual([w for w, _ in found], ["p.md:9", "p.md:9"])
        self.assertIn('first "##" section', found[0][1])
        self.assertIn('not after "## Start"', found[0][1])
        self.assertIn("2 objective(s): want 3 to 5", found[1][1])

    def test_exactly_five_takeaways(self):
        found = problems(GOOD.replace("- five\n", "- five\n- six\n"))
        self.assertEqual(len(found), 1)
        self.assertIn("6 key takeaway(s): want exactly 5", found[0][1])

    def test_every_question_needs_a_folded_answer(self):
        text = GOOD.replace("<details><summary>Answer</summary>\n\n   Because 3.\n\n   </details>",
                            "Because 3.")
        found = problems(text)
        self.assertEqual(len(found), 1)
        where, what = found[0]
        line = GOOD.splitlines().index("3. Question 3?") + 1
        self.assertEqual(where, f"p.md:{line}")
        self.assertIn("without its answer folded away", what)

    def test_an_unclosed_answer_fails(self):
        found = problems(GOOD.replace("Because 5.\n\n   </details>", "Because 5."))
        self.assertEqual(len(found), 1)
        self.assertIn("without its answer", found[0][1])

    def test_at_least_five_questions(self):
        found = problems(GOOD.replace(answer(5), ""))
        self.assertEqual(len(found), 1)
        self.assertIn("4 self-check question(s): want at least 5", found[0][1])

    def test_takeaways_before_self_check_and_each_once(self):
        text = GOOD.replace("## Facilitator notes", "## Objectives\n\n## Facilitator notes")
        self.assertIn('a second "## Objectives" section', problems(text)[0][1])
        start = GOOD.index("## Key takeaways")
        middle = GOOD.index("## Self-check")
        end = GOOD.index("## Facilitator notes")
        swapped = GOOD[:start] + GOOD[middle:end] + GOOD[start:middle] + GOOD[end:]
        found = problems(swapped)
        self.assertEqual(len(found), 1)
        self.assertIn("comes before", found[0][1])

    def test_only_chapter_pages_are_checked(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = pathlib.Path(tmp)
            (src / "ch01-a.md").write_text(GOOD)
            (src / "ch02-b.md").write_text("# B\n")
            (src / "introduction.md").write_text("# Intro\n")
            report = Report()
            check_learning(report, src, src)
            wheres = {where for _, where, _ in report.problems}
            self.assertEqual(len(report.problems), 3, report.problems)
            self.assertEqual({w.rsplit("/", 1)[-1] for w in wheres}, {"ch02-b.md:1"})


if __name__ == "__main__":
    unittest.main()
