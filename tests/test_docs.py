"""The documentation site: it builds with ``mkdocs build --strict`` (a broken link, a missing
page or an unresolved API reference fails it), its generated pages say exactly what the code
says, and every runnable example of a page runs as written, the page's examples in order as one
script, as a reader would run them."""

from __future__ import annotations

import dataclasses
import html
import os
import subprocess
import sys

import pytest

from hf_tracking import catalog
from hf_tracking.config import ExperimentConfig
from hf_tracking.config_fields import FIELD_DOCS
from tests.support.docs_site import generated_pages, table_names
from tests.support.runs import metrics_rows, strict_json
from tests.support.snippets import (
    DOCS,
    PAGE_RUNS,
    ROOT,
    docs_pages_with_snippets,
    run_as_installed,
    snippets_of,
)

PAGES_WITH_EXAMPLES = docs_pages_with_snippets()


def test_every_config_field_is_documented_beside_the_fields():
    fields = {field.name for field in dataclasses.fields(ExperimentConfig)}
    undocumented, unknown = sorted(fields - set(FIELD_DOCS)), sorted(set(FIELD_DOCS) - fields)
    message = f"hf_tracking/config_fields.py: add {undocumented}, remove {unknown}"
    assert not undocumented and not unknown, message
    assert all(text.strip() for text in FIELD_DOCS.values())


def test_the_generated_pages_follow_the_code():
    pages = generated_pages()
    assert table_names(pages["reference/metrics.md"]) == list(catalog.CATALOG)
    config_rows = table_names(pages["reference/config.md"])
    assert config_rows == [field.name for field in dataclasses.fields(ExperimentConfig)]
    cli = pages["reference/cli.md"]
    for command in ("report", "compare", "summary", "serve"):
        assert f"### hf-tracking {command}" in cli
    for flag in ("--memory-mb", "--plots-dir", "--offline", "--set KEY=VALUE"):
        assert flag in cli


def test_no_generated_page_is_committed():
    for path in generated_pages():
        assert not (DOCS / path).exists(), f"docs/{path} is generated at build time"


@pytest.mark.slow
def test_the_site_builds_strict(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's banner about its successor
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    metrics = (site / "reference" / "metrics" / "index.html").read_text()
    assert all(html.escape(name, quote=False) in metrics for name in catalog.CATALOG)
    api = (site / "reference" / "api" / "index.html").read_text()
    for name in ("log_train_step", "TrackingCallback", "AccelerateTracker", "register_backend"):
        assert name in api


def test_every_page_with_examples_says_what_its_runs_are():
    assert sorted(page.relative_to(DOCS).as_posix() for page in PAGES_WITH_EXAMPLES) == sorted(
        PAGE_RUNS
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", PAGES_WITH_EXAMPLES, ids=lambda page: page.relative_to(DOCS).as_posix()
)
def test_a_pages_examples_run_as_written(page, tmp_path):
    code = "\n".join(code for _, code in snippets_of(page))
    result = run_as_installed(code, tmp_path, page.stem)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    runs = []
    for summary_path in (tmp_path / "experiments").glob("*_summary.json"):
        summary = strict_json(summary_path)
        assert summary["status"] == "finished", summary_path
        rows = [row for row in metrics_rows(summary["run_dir"]) if row["event"] == "train"]
        assert all(row["time/tokens_seen"] > 0 for row in rows)
        runs.append([row["time/gradient_steps"] for row in rows])
    assert sorted(runs) == PAGE_RUNS[page.relative_to(DOCS).as_posix()]
