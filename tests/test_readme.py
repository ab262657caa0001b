"""The README's "Plugging in" snippets, extracted by their markers and run exactly as written,
each after the shared set-up snippet, with the start-up hook in place as an install leaves it.

A snippet that a documentation page holds verbatim (after the same set-up) is run there, by
tests/test_docs.py, with the steps of its run checked; this file runs the others itself."""

from __future__ import annotations

import pytest

from tests.support.runs import metrics_rows, strict_json
from tests.support.snippets import PAGE_RUNS, ROOT, page_running, run_as_installed, snippets_of

# The gradient steps of each snippet's training rows.
ENTRY_POINTS = {
    "trainer-by-name": [2, 4],
    "trainer-callback": [2, 4],
    "accelerate": [1, 2, 3, 4],
    "hand-written-loop": [2, 4],
}


def snippets() -> dict[str, str]:
    return dict(snippets_of(ROOT / "README.md"))


def test_every_entry_point_has_one_snippet():
    found = snippets_of(ROOT / "README.md")
    assert sorted(name for name, _ in found) == sorted(["setup", *ENTRY_POINTS])
    for name in ("setup", "trainer-by-name", "accelerate"):  # installing is enough
        assert "import hf_tracking" not in snippets()[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_snippet_runs_as_written(name, tmp_path):
    code = snippets()
    page = page_running(code["setup"], code[name])
    if page is not None:
        assert ENTRY_POINTS[name] in PAGE_RUNS[page]
        return
    result = run_as_installed(code["setup"] + "\n" + code[name], tmp_path, name)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    (summary_path,) = (tmp_path / "experiments").glob("*_summary.json")
    summary = strict_json(summary_path)
    assert summary["status"] == "finished"
    rows = metrics_rows(summary["run_dir"])
    steps = [row["time/gradient_steps"] for row in rows if row["event"] == "train"]
    assert steps == ENTRY_POINTS[name]
    assert all(row["time/tokens_seen"] > 0 for row in rows if row["event"] == "train")
