"""Tests of scripts/check-wrong-fixes' pure parts: the patch header, the count of the checks
that ran, and the scratch copy's reset, whose mtimes decide what cargo rebuilds."""

import importlib.machinery
import importlib.util
import os
import tempfile
import time
import unittest
from pathlib import Path

_PATH = Path(__file__).resolve().parent / "check-wrong-fixes"
_LOADER = importlib.machinery.SourceFileLoader("check_wrong_fixes", str(_PATH))
_SPEC = importlib.util.spec_from_loader("check_wrong_fixes", _LOADER)
cwf = importlib.util.module_from_spec(_SPEC)
_LOADER.exec_module(cwf)


class HeaderTest(unittest.TestCase):
    def patch_file(self, text: str) -> Path:
        folder = Path(tempfile.mkdtemp()) / "04"
        folder.mkdir()
        path = folder / "try-lock.patch"
        path.write_text(text)
        return path

    def test_the_header_gives_kind_description_and_every_expect(self):
        patch = cwf.Patch(self.patch_file(
            "# wrong fix: keeps the guard\n# expect: across an .await\n# expect: hint 04\n"
            "diff --git a/x b/x\n# expect: not header\n"
        ))
        self.assertEqual((patch.kind, patch.description), ("wrong fix", "keeps the guard"))
        self.assertEqual(patch.expect, ["across an .await", "hint 04"])
        self.assertEqual(patch.name, "04/try-lock")

    def test_a_cheat_is_a_kind_too(self):
        patch = cwf.Patch(self.patch_file("# cheat: no checks\n# expect: only 0 of\n"))
        self.assertEqual(patch.kind, "cheat")

    def test_a_patch_without_expect_is_refused(self):
        with self.assertRaises(SystemExit):
            cwf.Patch(self.patch_file("# wrong fix: x\ndiff --git a/x b/x\n"))


class CountTest(unittest.TestCase):
    def test_only_the_checks_modules_tests_that_ran_count(self):
        output = (
            "test checks::tokio_a ... ok\n"
            "test checks::smol_a ... FAILED\n"
            "test checks::smol_b ... ignored\n"
            "test other::x ... ok\n"
        )
        self.assertEqual(cwf.checks_that_ran(output), 2)


class SyncTest(unittest.TestCase):
    def test_only_changed_files_are_rewritten_and_extra_files_go(self):
        root, scratch = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        (root / "src").mkdir()
        (root / "src/lib.rs").write_text("fn a() {}\n")
        (root / "Cargo.toml").write_text("[package]\n")
        os.symlink("src", root / "link")
        files = ["Cargo.toml", "link", "src/lib.rs"]
        cwf.sync(root, scratch, files)
        self.assertEqual((scratch / "src/lib.rs").read_text(), "fn a() {}\n")
        self.assertEqual(os.readlink(scratch / "link"), "src")

        old = time.time() - 3600
        for f in ("Cargo.toml", "src/lib.rs"):
            os.utime(scratch / f, (old, old))
        (scratch / "src/lib.rs").write_text("fn patched() {}\n")  # what a patch does
        os.utime(scratch / "src/lib.rs", (old, old))  # even with an old mtime
        (scratch / "src/new.rs").write_text("")  # a file the patch added
        cwf.sync(root, scratch, files)

        self.assertEqual((scratch / "src/lib.rs").read_text(), "fn a() {}\n")
        self.assertGreater((scratch / "src/lib.rs").stat().st_mtime, old + 60, "rewritten: new mtime")
        self.assertEqual((scratch / "Cargo.toml").stat().st_mtime, old, "untouched: cargo keeps its build")
        self.assertFalse((scratch / "src/new.rs").exists())


if __name__ == "__main__":
    unittest.main()
