"""The runnable examples of the README and the documentation, and how they are run.

A fenced ``python`` block right after a ``<!-- snippet: NAME -->`` line is runnable: the tests
run it exactly as written, in a fresh directory, with the start-up hook in place as an install
leaves it (so ``report_to="hf_tracking"`` works without ``import hf_tracking``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```python\n(.*?)```", re.DOTALL)
# What site does at start-up with the .pth file an install puts in site-packages.
AS_INSTALLED = (
    "import runpy, site, sys; site.addsitedir(sys.argv[1]); "
    "runpy.run_path(sys.argv[2], run_name='__main__')"
)


def snippets_of(path: Path) -> list[tuple[str, str]]:
    """(name, code) of every runnable block of a Markdown file, in order."""
    return SNIPPET.findall(path.read_text())


def run_as_installed(code: str, directory: Path, name: str) -> subprocess.CompletedProcess:
    """Run ``code`` as a script in ``directory``, as an installed hf_tracking would see it."""
    script = directory / f"snippet_{name.replace('-', '_')}.py"  # never accelerate.py
    script.write_text(code)
    site_dir = directory / "site"
    site_dir.mkdir()
    shutil.copy2(ROOT / "hf_tracking_startup.pth", site_dir)
    return subprocess.run(
        [sys.executable, "-c", AS_INSTALLED, str(site_dir), str(script)],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"},
        capture_output=True,
        text=True,
        timeout=300,
    )


DOCS = ROOT / "docs"
# The gradient steps of the training rows of each run a page's examples make, sorted: what
# tests/test_docs.py checks after running the page.
PAGE_RUNS = {
    "guides/trainer.md": [[2, 4], [2, 4]],
    "guides/accelerate.md": [[1, 2, 3, 4]],
    "guides/hand-written-loop.md": [[1, 2, 3, 4], [2, 4], [2, 4], [2, 4]],
    "guides/config.md": [],
}


def docs_pages_with_snippets() -> list[Path]:
    return sorted(page for page in DOCS.rglob("*.md") if snippets_of(page))


def page_running(*codes: str) -> str | None:
    """The docs page (``guides/x.md``) whose examples include each of ``codes`` verbatim, in
    that order; its examples run in tests/test_docs.py."""
    for page in docs_pages_with_snippets():
        found = [code for _, code in snippets_of(page)]
        positions = [found.index(code) for code in codes if code in found]
        if len(positions) == len(codes) and positions == sorted(positions):
            return page.relative_to(DOCS).as_posix()
    return None
