"""``hf-tracking scaling`` over a grid of tiny runs really trained here, and over a CSV."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from hf_tracking.cli import main
from tests.support.reporting import assert_plot_image
from tests.support.scaling_grid import BUDGETS, WIDTHS, train_grid


@pytest.fixture(scope="module")
def grid_runs(tmp_path_factory):
    return train_grid(tmp_path_factory.mktemp("grid") / "experiments")


def test_scaling_over_trained_runs_gives_a_fit_and_plots(grid_runs, tmp_path, capsys):
    out, plots = tmp_path / "fit.json", tmp_path / "plots"
    code = main(
        [
            "scaling",
            *map(str, grid_runs),
            "--grid",
            "coarse",
            "--budget",
            "1e10",
            "--json",
            str(out),
            "--plot",
            str(plots),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    result = json.loads(out.read_text())
    three = result["approach3"]
    assert {"A", "B", "E", "alpha", "beta", "a", "b", "objective", "n_points"} <= set(three)
    assert three["n_points"] == len(WIDTHS) * len(BUDGETS)
    assert (
        three["E"]
        < min(
            json.loads(p.with_name(p.name + "_summary.json").read_text())["final"]["train/loss"]
            for p in grid_runs
        )
        + 1.0
    )
    assert "budget" in three and three["budget"]["n_opt"] > 0
    # Three budgets of three sizes each: Approach 2 is fitted or says why not.
    assert "approach2" in result or "approach2" in result["skipped"]
    if "approach2" in result:
        assert {"compute", "n_opt"} <= set(result["approach2"]["budgets"][0])
    assert "Approach 3" in printed.out
    for name in ("isoflop.png", "frontier.png", "loss_vs_compute.png"):
        assert_plot_image(plots / name)


def test_the_runs_compute_is_tokens_times_their_flops_per_token(grid_runs):
    from hf_tracking import scaling

    points = scaling.points_from_runs(grid_runs)
    six = scaling.points_from_runs(grid_runs, convention="6nd")
    assert np.all(points.c > six.c)  # attention and the output head on top of 6N
    assert np.allclose(six.c, 6 * six.n * six.d)
    bare = scaling.points_from_runs(grid_runs, parameters="non_embedding", loss="best_val")
    assert np.all(bare.n < points.n) and np.allclose(bare.d, points.d)
    labels = {round(float(np.log10(c)), 1) for c in points.c}
    assert len(labels) >= len(BUDGETS)


def test_csv_with_compute_only_takes_tokens_as_c_over_6n(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "runs.csv"
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["params", "flops", "final_loss"])
        for compute in (1e18, 4e18, 1.6e19):
            for n in np.geomspace(2e7, 2e9, 7):
                d = compute / (6 * n)
                loss = 1.7 + 400 / n**0.34 + 1200 / d**0.3 + 0.002 * rng.standard_normal()
                writer.writerow([n, compute, loss])
    out = tmp_path / "fit.json"
    code = main(
        [
            "scaling",
            "--csv",
            str(path),
            "--n",
            "params",
            "--c",
            "flops",
            "--loss",
            "final_loss",
            "--grid",
            "coarse",
            "--json",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["approach3"]["alpha"] == pytest.approx(0.34, abs=0.03)
    assert result["approach2"]["a"] == pytest.approx(0.30 / 0.64, abs=0.05)
    assert result["approach2"]["budget_rule"] == "tolerance"  # a CSV has no curves
    assert [b["compute"] for b in result["approach2"]["budgets"]] == pytest.approx(
        [1e18, 4e18, 1.6e19]
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--n", "params", "--loss", "loss", "--d", "tokens"], "no column 'tokens'"),
        (["--n", "params", "--loss", "loss"], "a token column (--d) or a compute column (--c)"),
        (["--n", "params", "--loss", "loss", "--c", "flops", "--approach", "3"], "at least 6 runs"),
        (
            ["--n", "params", "--loss", "loss", "--c", "flops", "--approach", "2"],
            "at least 2 budgets",
        ),
    ],
)
def test_bad_csv_input_is_one_error_line(tmp_path, capsys, arguments, message):
    path = tmp_path / "runs.csv"
    path.write_text("params,flops,loss\n1e6,1e15,3.1\n2e6,1e15,3.0\n4e6,1e15,3.05\n")
    assert main(["scaling", "--csv", str(path), *arguments]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1, error


def test_the_console_command_prints_no_traceback_for_bad_input(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("params,flops,loss\n1e6,1e15,3.1\n2e6,1e15,3.0\n4e6,1e15,3.05\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hf_tracking.cli",
            "scaling",
            "--csv",
            str(path),
            "--n",
            "params",
            "--loss",
            "loss",
            "--c",
            "flops",
            "--approach",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "at least 2 budgets" in result.stderr and "Traceback" not in result.stderr


def test_non_positive_values_and_missing_runs_are_errors(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    path.write_text(
        "params,flops,loss\n"
        + "".join(f"{n},1e15,{3 - n / 1e7}\n" for n in (1e6, 2e6, 0, 4e6, 5e6, 6e6))
    )
    assert (
        main(["scaling", "--csv", str(path), "--n", "params", "--c", "flops", "--loss", "loss"])
        == 1
    )
    assert "column 'params' must be finite and > 0" in capsys.readouterr().err
    assert main(["scaling", str(tmp_path / "nothing")]) == 1
    assert "no such run" in capsys.readouterr().err
    assert main(["scaling"]) == 1
    assert "give run directories" in capsys.readouterr().err


def test_import_hf_tracking_and_its_command_line_load_no_scipy():
    code = (
        "import sys, hf_tracking, hf_tracking.cli; "
        "print(sorted(m for m in ('scipy', 'threadpoolctl', 'hf_tracking.scaling') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def _reference_smoothed_train(run_dir, compute, tau=0.1):
    """A run's training loss at ``compute`` from its metrics.jsonl: the defining integral of the
    time-weighted EMA over ln(compute) (a fine trapezoid rule), read linearly in ln(compute)."""
    summary = json.loads(run_dir.with_name(run_dir.name + "_summary.json").read_text())
    per_token = summary["flops"]["flops_per_token"]["total"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r.get("event") == "train" and r.get("train/loss") is not None]
    x = np.log([r["time/tokens_seen"] * per_token for r in rows])
    y = np.array([r["train/loss"] for r in rows])
    if not x[0] <= np.log(compute) <= x[-1]:
        return None
    smoothed = [y[0]]
    for end in range(1, len(x)):
        t = np.linspace(x[0], x[end], 20_001)
        weights = np.exp(-(x[end] - t) / tau)
        values = np.interp(t, x[: end + 1], y[: end + 1]) * weights
        smoothed.append(np.trapezoid(values, t) / np.trapezoid(weights, t))
    return float(np.interp(np.log(compute), x, smoothed))


def test_smoothed_training_loss_at_a_compute_matches_the_rows(grid_runs):
    from hf_tracking import scaling

    compute = 1.5e8
    points = scaling.points_from_runs(grid_runs, loss="smoothed_train", at_compute=compute)
    expected = {p.name: _reference_smoothed_train(p, compute) for p in grid_runs}
    reached = {name: value for name, value in expected.items() if value is not None}
    assert 3 <= len(reached) < len(grid_runs)  # the shortest runs stop before 1.5e8 FLOPs
    assert dict(zip(points.names, points.loss, strict=True)) == pytest.approx(reached, rel=1e-6)
    assert np.all(points.c == compute)
    assert len(points.left_out) == len(grid_runs) - len(reached)
    assert all(reason.endswith("FLOPs, not 1.5e+08") for reason in points.left_out)


def test_approach2_reads_every_runs_curve_at_each_budget(grid_runs, tmp_path, capsys):
    from hf_tracking import scaling
    from hf_tracking.analysis.loss_curves import budget_groups
    from hf_tracking.analysis.points import budget_values

    points = scaling.points_from_runs(grid_runs, loss="smoothed_train")
    labels, budgets = budget_values(points.c, 0.1)
    interpolated = [len(group[1]) for group in budget_groups(points.n, points.curves, budgets, 0.1)]
    final = [int((labels == k).sum()) for k in range(len(budgets))]
    assert all(i >= f for i, f in zip(interpolated, final, strict=True)) and interpolated != final
    assert interpolated[0] == len(grid_runs)  # every run passed the smallest budget
    rules = {}
    for rule in ("auto", "tolerance"):
        out = tmp_path / f"{rule}.json"
        arguments = ["--run-loss", "smoothed_train", "--budget-rule", rule, "--grid", "coarse"]
        assert main(["scaling", *map(str, grid_runs), *arguments, "--json", str(out)]) == 0
        result = json.loads(out.read_text())
        rules[rule] = result["points"]["budget_rule"]
        # These runs are too short for an IsoFLOP minimum; the reason counts each budget's runs.
        counts = interpolated if rule == "auto" else final
        assert f"{budgets[0]:.3g} FLOPs: {counts[0]} run(s)" in result["skipped"]["approach2"]
    assert rules == {"auto": "interpolate", "tolerance": "tolerance"}
    assert "IsoFLOP budgets: each run's curve read at every budget it reached" in (
        capsys.readouterr().out
    )


def test_bad_compute_input_is_one_error_line(grid_runs, tmp_path, capsys):
    # At one compute every run sits on one IsoFLOP line: neither fit can be made.
    smoothed = ["--run-loss", "smoothed_train"]
    assert main(["scaling", *map(str, grid_runs), *smoothed, "--at-compute", "1.5e8"]) == 1
    assert "Approach 3) needs runs at 2 or more computes" in capsys.readouterr().err
    assert main(["scaling", *map(str, grid_runs), "--at-compute", "1e15"]) == 1
    error = capsys.readouterr().err
    assert (
        error.startswith("error: no run's loss curve covers 1e+15 FLOPs") and error.count("\n") == 1
    ), error
    # A run whose rows carry no tokens seen has no compute axis.
    copies = []
    for run in grid_runs[:3]:
        copy = tmp_path / run.name
        copy.mkdir()
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        (copy / "metrics.jsonl").write_text(
            "".join(
                json.dumps({k: v for k, v in r.items() if k != "time/tokens_seen"}) + "\n"
                for r in rows
            )
        )
        summary = run.with_name(run.name + "_summary.json")
        copy.with_name(summary.name).write_text(summary.read_text())
        copies.append(str(copy))
    for arguments, message in (
        (["--run-loss", "smoothed_train"], "no train/loss rows with time/tokens_seen"),
        (["--budget-rule", "interpolate"], "budget_rule 'interpolate' needs each run's loss"),
    ):
        assert main(["scaling", *copies, *arguments]) == 1
        error = capsys.readouterr().err
        assert error.startswith("error: ") and message in error and error.count("\n") == 1, error


def test_curves_read_at_several_computes_make_a_point_each(grid_runs, tmp_path):
    out = tmp_path / "fit.json"
    computes = ["5e7", "1e8", "2e8"]
    arguments = ["--run-loss", "smoothed_train", "--at-compute", *computes, "--grid", "coarse"]
    assert main(["scaling", *map(str, grid_runs), *arguments, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    left_out = result["points"]["left_out"]
    assert result["points"]["n_points"] + len(left_out) == len(grid_runs) * len(computes)
    assert all(reason.endswith("FLOPs, not 2e+08") for reason in left_out)
    assert result["approach3"]["n_points"] == result["points"]["n_points"]
    # Each run counts once per budget however many of its points were read off its curve.
    assert f"5e+07 FLOPs: {len(grid_runs)} run(s)" in result["skipped"]["approach2"]
    from hf_tracking import scaling

    points = scaling.points_from_runs(grid_runs, loss="smoothed_train", at_compute=[5e7, 1e8])
    assert {f"{p.name}@{c}" for p in grid_runs for c in ("5e+07", "1e+08")} == set(points.names)
    assert len({id(curve) for curve in points.curves}) == len(grid_runs)
