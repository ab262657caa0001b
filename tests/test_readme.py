"""The README's three ways in (``report_to``, accelerate, a hand-written loop), extracted by their
markers and run exactly as written, each after the shared set-up snippet, with the start-up hook
in place as an install leaves it; its quick start and its links into the documentation.

A snippet that a documentation page holds verbatim (after the same set-up) is run there, by
tests/test_docs.py, with the steps of its run checked; this file runs the others itself."""

from __future__ import annotations

import re

import pytest

from tests.support.runs import metrics_rows, strict_json
from tests.support.snippets import PAGE_RUNS, ROOT, page_running, run_as_installed, snippets_of

README = ROOT / "README.md"
# The gradient steps of each snippet's training rows.
ENTRY_POINTS = {
    "trainer-by-name": [2, 4],
    "accelerate": [1, 2, 3, 4],
    "hand-written-loop": [2, 4],
}


def snippets() -> dict[str, str]:
    return dict(snippets_of(README))


def test_every_entry_point_has_one_snippet():
    found = snippets_of(README)
    assert sorted(name for name, _ in found) == sorted(["setup", *ENTRY_POINTS])
    for name in ("setup", "trainer-by-name", "accelerate"):  # installing is enough
        assert "import hf_tracking" not in snippets()[name]


def test_the_quick_start_is_the_two_scripts():
    text = README.read_text()
    quick = text[text.index("## Quick start") :]
    block = quick[quick.index("```bash\n") : quick.index("```\n", quick.index("```bash\n") + 8)]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:]]
    assert commands == ["bash scripts/run_tiny.sh", "bash scripts/test.sh"]
    assert all((ROOT / command.split()[1]).is_file() for command in commands)


def test_every_link_of_the_readme_reaches_a_file():
    """Relative links, so they work on GitHub as in a clone."""
    links = re.findall(r"\]\(([^)#\s]+)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/") and link.endswith(".md") for link in local)
    assert [link for link in local if not (ROOT / link).exists()] == []


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
