"""Plots, report.md, comparisons and the terminal summary, from runs a real tracker wrote."""

from __future__ import annotations

import csv
import json
import shutil
import sys

import pytest

from hf_tracking.report import (
    ReportError,
    compare_runs,
    key_numbers,
    load_run,
    make_report,
    summary_text,
)
from hf_tracking.report.compare import MAX_DISTINCT, MAX_PLOTTED
from tests.support.reporting import assert_plot_image, make_run

PLOTS = ("loss.png", "learning_rate.png", "throughput.png", "memory.png", "time_ledger.png")


def test_report_of_a_run_directory(tmp_path):
    summary = make_run(tmp_path / "runs", "alpha")
    paths = make_report(tmp_path / "runs" / "alpha")
    names = [path.name for path in paths]
    assert names == [*PLOTS, "report.md"]
    for path in paths[:-1]:
        assert path.parent == tmp_path / "runs" / "alpha" / "plots"
        assert_plot_image(path)
    report = paths[-1].read_text()
    assert report.startswith("# Run alpha")
    assert "| status | finished |" in report
    for plot in PLOTS:
        assert f"](plots/{plot})" in report
    data = json.loads(summary.read_text())
    assert f"{data['totals']['gradient_steps']:,}" in report


def test_report_from_the_summary_file_and_key_numbers(tmp_path):
    summary = make_run(tmp_path, "beta", steps=40)
    run = load_run(summary)
    assert run.name == "beta"
    assert run.run_dir == tmp_path / "beta"
    numbers = key_numbers(run)
    assert numbers["status"] == "finished"
    assert numbers["steps"] == 40
    assert numbers["tokens_seen"] == 40 * 64
    assert numbers["checkpoints"] == 2
    assert numbers["best_val_loss"] == pytest.approx(
        min(run.series("time/gradient_steps", "val/loss")[1])
    )
    assert numbers["final_train_loss"] < 2.0
    assert numbers["parameters"] > 0
    assert len(make_report(summary)) == 6


def test_summary_with_a_relative_run_dir_from_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = make_run("experiments", "gamma")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    run = load_run(tmp_path / summary)
    assert run.run_dir == tmp_path / "experiments" / "gamma"


def test_a_run_without_summary_is_reported_from_its_records(tmp_path):
    summary = make_run(tmp_path, "crashed", track_memory=False)
    summary.unlink()
    with open(tmp_path / "crashed" / "metrics.jsonl", "a") as stream:
        stream.write('{"event": "train", "time/gradient_steps": 99, "train/lo')  # torn line
    run = load_run(tmp_path / "crashed")
    assert run.summary is None
    assert max(record["time/gradient_steps"] for record in run.records) == 40
    numbers = key_numbers(run)
    assert numbers["status"].startswith("no summary")
    assert numbers["best_val_loss"] is not None and numbers["tokens_per_second"] > 0
    paths = make_report(tmp_path / "crashed")
    assert "memory.png" not in [path.name for path in paths]
    assert "time_ledger.png" in [path.name for path in paths]
    with pytest.raises(ReportError, match="no summary"):
        summary_text(run)


def test_plots_dir_can_be_chosen(tmp_path):
    make_run(tmp_path, "delta")
    paths = make_report(tmp_path / "delta", tmp_path / "elsewhere")
    assert all(path.parent == tmp_path / "elsewhere" for path in paths[:-1])
    assert "](../elsewhere/loss.png)" in paths[-1].read_text()


@pytest.mark.parametrize("case", ["missing", "no_metrics", "empty_metrics", "other_file"])
def test_unreadable_runs_are_report_errors(tmp_path, case):
    target = tmp_path / "run"
    if case == "no_metrics":
        target.mkdir()
    elif case == "empty_metrics":
        target.mkdir()
        (target / "metrics.jsonl").write_text("")
    elif case == "other_file":
        target = tmp_path / "notes.txt"
        target.write_text("hello")
    with pytest.raises(ReportError) as caught:
        load_run(target)
    assert "\n" not in str(caught.value)


def test_compare_two_runs(tmp_path):
    first = make_run(tmp_path, "fast", learning_rate=3e-3)
    second = make_run(tmp_path, "slow", learning_rate=1e-3)
    result = compare_runs([first, tmp_path / "slow"], tmp_path / "compare")
    plot, markdown, table = result["paths"]
    assert_plot_image(plot)
    text = markdown.read_text()
    assert "| fast |" in text and "| slow |" in text
    assert "`learning_rate`: 0.003 | 0.001" in text
    rows = list(csv.DictReader(table.open()))
    assert [row["name"] for row in rows] == ["fast", "slow"]
    assert float(rows[0]["final_train_loss"]) < float(rows[1]["final_train_loss"])
    assert set(rows[0]) >= {"best_val_loss", "tokens_per_second", "wallclock_hours", "parameters"}
    assert ("learning_rate", [0.003, 0.001]) in result["differences"]
    assert second.is_file()


def test_summary_text_is_aligned_sections(tmp_path):
    text = summary_text(load_run(make_run(tmp_path, "epsilon")))
    lines = text.splitlines()
    for section in ("run", "progress", "loss", "time ledger", "throughput", "model"):
        assert section in lines
    assert "  name:" in text and "epsilon" in text
    progress = lines[lines.index("progress") + 1 : lines.index("loss")]
    assert len(progress) >= 4
    value_columns = {len(line) - len(line.split(":", 1)[1].lstrip()) for line in progress}
    assert len(value_columns) == 1, progress
    assert all(line.startswith("  ") for line in progress)


def test_importing_hf_tracking_does_not_import_matplotlib():
    import subprocess

    code = "import hf_tracking, hf_tracking.report, hf_tracking.cli, sys; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_a_long_run_is_read_thinned_with_every_validation_kept(tmp_path):
    from hf_tracking.jsonio import dumps_line
    from hf_tracking.report import read_records

    path = tmp_path / "metrics.jsonl"
    lines = []
    for step in range(1, 100_001):
        lines.append(dumps_line({"event": "train", "time/gradient_steps": step, "train/loss": 1.0}))
        if step % 1000 == 0:
            lines.append(dumps_line({"event": "val", "time/gradient_steps": step, "val/loss": 1.0}))
    path.write_text("".join(lines))
    records = read_records(path, max_train_rows=500)
    train = [r["time/gradient_steps"] for r in records if r["event"] == "train"]
    val = [r["time/gradient_steps"] for r in records if r["event"] == "val"]
    assert len(train) <= 501 and train[0] == 1 and train[-1] == 100_000
    assert train == sorted(train)
    assert val == list(range(1000, 100_001, 1000))
    steps = [r["time/gradient_steps"] for r in records]
    assert steps == sorted(steps)  # file order kept


def test_compare_of_many_runs_reads_only_the_rows_it_draws(tmp_path):
    """Past the runs whose curves are drawn, a run with a summary is taken from it alone: its
    metrics.jsonl is not read (here it holds no record at all, which reading would refuse)."""
    summary = json.loads(make_run(tmp_path, "base").read_text())
    paths = []
    for number in range(MAX_PLOTTED + 5):
        name = f"run{number:02d}"
        shutil.copytree(tmp_path / "base", tmp_path / name)
        if number >= MAX_PLOTTED:
            (tmp_path / name / "metrics.jsonl").write_text("not a record\n")
        copy = {**summary, "experiment_name": name, "run_dir": str(tmp_path / name)}
        copy["config"] = {**summary["config"], "learning_rate": number / 1000}
        paths.append(tmp_path / f"{name}_summary.json")
        paths[-1].write_text(json.dumps(copy))
    result = compare_runs(paths, tmp_path / "compare")
    assert [row["name"] for row in result["rows"]] == [f"run{n:02d}" for n in range(len(paths))]
    assert len(list(csv.DictReader(result["paths"][2].open()))) == len(paths)
    text = result["paths"][1].read_text()
    assert f"{len(paths)} runs: the first {len(paths)} below" in text
    assert f"`learning_rate`: {MAX_DISTINCT}+ distinct values: 0.0 | 0.001" in text
