"""The upload plan the Submit dialog shows: ignore files, totals, limits, links out of the folder."""

from __future__ import annotations

import os
from pathlib import Path

from studio.core.snapshot import plan_snapshot


def test_amlignore_wins_over_gitignore_and_the_summary_says_so(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.bin").write_bytes(b"x" * 5000)
    (tmp_path / ".gitignore").write_text("*.py\n")
    (tmp_path / ".amlignore").write_text("data/\n")
    plan = plan_snapshot(tmp_path)
    assert sorted(rel for _, rel in plan.files) == [".amlignore", ".gitignore", "train.py"]
    assert plan.ignore_file == ".amlignore" and not plan.problem
    assert plan.summary.startswith("3 files, ") and plan.summary.endswith("(after .amlignore)")


def test_a_limit_stops_the_walk_with_a_sentence(tmp_path: Path) -> None:
    for k in range(5):
        (tmp_path / f"f{k}.txt").write_bytes(b"y" * 1000)
    by_count = plan_snapshot(tmp_path, max_files=3)
    assert not by_count.complete and "more than 3 files" in by_count.problem and ".amlignore" in by_count.problem
    by_size = plan_snapshot(tmp_path, max_bytes=2500)
    assert not by_size.complete and "more than 2.4 KB" in by_size.problem
    assert by_size.summary.startswith("3+ files")


def test_missing_folder_and_links_outside_are_handled(tmp_path: Path) -> None:
    assert "does not exist" in plan_snapshot(tmp_path / "nope").problem
    outside = tmp_path / "secret.txt"
    outside.write_text("s")
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("")
    os.symlink(outside, project / "link.txt")
    assert [rel for _, rel in plan_snapshot(project).files] == ["train.py"]
