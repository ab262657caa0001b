"""The README's "Plugging in" snippets, extracted by their markers and run exactly as written,
each after the shared set-up snippet, with the start-up hook in place as an install leaves it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runs import metrics_rows, strict_json

ROOT = Path(__file__).resolve().parents[1]
SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```python\n(.*?)```", re.DOTALL)
# The gradient steps of each snippet's training rows.
ENTRY_POINTS = {
    "trainer-by-name": [2, 4],
    "trainer-callback": [2, 4],
    "accelerate": [1, 2, 3, 4],
    "hand-written-loop": [2, 4],
}
# What site does at start-up with the .pth file an install puts in site-packages.
AS_INSTALLED = (
    "import runpy, site, sys; site.addsitedir(sys.argv[1]); "
    "runpy.run_path(sys.argv[2], run_name='__main__')"
)


def snippets() -> dict[str, str]:
    return dict(SNIPPET.findall((ROOT / "README.md").read_text()))


def test_every_entry_point_has_one_snippet():
    found = SNIPPET.findall((ROOT / "README.md").read_text())
    assert sorted(name for name, _ in found) == sorted(["setup", *ENTRY_POINTS])
    for name in ("setup", "trainer-by-name", "accelerate"):  # installing is enough
        assert "import hf_tracking" not in snippets()[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_snippet_runs_as_written(name, tmp_path):
    code = snippets()
    script = tmp_path / f"snippet_{name.replace('-', '_')}.py"  # not accelerate.py
    script.write_text(code["setup"] + "\n" + code[name])
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    shutil.copy2(ROOT / "hf_tracking_startup.pth", site_dir)
    result = subprocess.run(
        [sys.executable, "-c", AS_INSTALLED, str(site_dir), str(script)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    (summary_path,) = (tmp_path / "experiments").glob("*_summary.json")
    summary = strict_json(summary_path)
    assert summary["status"] == "finished"
    rows = metrics_rows(summary["run_dir"])
    steps = [row["time/gradient_steps"] for row in rows if row["event"] == "train"]
    assert steps == ENTRY_POINTS[name]
    assert all(row["time/tokens_seen"] > 0 for row in rows if row["event"] == "train")
