"""The hf-tracking command: report, compare, summary, and clear one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hf_tracking import __version__
from hf_tracking.cli import main
from tests.support.reporting import assert_plot_image, make_run


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("report", "compare", "summary"):
        assert command in out


def test_report_prints_the_paths(tmp_path, capsys):
    make_run(tmp_path, "one")
    assert main(["report", str(tmp_path / "one")]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[-1].endswith("report.md")
    for path in printed[:-1]:
        assert_plot_image(path)


def test_compare_writes_to_the_output_dir(tmp_path, capsys):
    make_run(tmp_path, "one", learning_rate=3e-3)
    make_run(tmp_path, "two", learning_rate=1e-3)
    runs = [str(tmp_path / "one_summary.json"), str(tmp_path / "two")]
    assert main(["compare", *runs, "--output", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "| one |" in out and "| two |" in out
    assert "differs: learning_rate" in out
    for name in ("compare_loss.png", "comparison.md", "comparison.csv"):
        assert (tmp_path / "cmp" / name).is_file()


def test_compare_default_output_dir(tmp_path, capsys):
    make_run("experiments", "one")
    make_run("experiments", "two")
    assert main(["compare", "experiments/one", "experiments/two"]) == 0
    assert (tmp_path / "experiments" / "compare" / "comparison.md").is_file()


def test_summary_prints_sections(tmp_path, capsys):
    make_run(tmp_path, "one")
    assert main(["summary", str(tmp_path / "one_summary.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run\n")
    assert "  status:" in out and "finished" in out
    assert "gradient steps:" in out and "40 / 40" in out


@pytest.mark.parametrize("command", ["report", "summary", "compare"])
def test_a_missing_run_is_a_one_line_error(tmp_path, capsys, command):
    assert main([command, str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no such run") and err.count("\n") == 1


def test_a_run_without_metrics_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err.startswith("error: no metrics in")


def test_console_module_runs(tmp_path):
    make_run(tmp_path, "one")
    result = subprocess.run(
        [sys.executable, "-m", "hf_tracking.cli", "summary", str(tmp_path / "one")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "one" in result.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "hf_tracking.cli", "report", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("error:") and "Traceback" not in missing.stderr
