"""How fast the dashboard (``hf-tracking serve``) is on a million-row run and on 200 runs.

    .venv/bin/python scripts/benchmark_dashboard.py            # 1,000,000 rows, 200 runs
    .venv/bin/python scripts/benchmark_dashboard.py --quick    # 20,000 rows, 20 runs (smoke test)

The data is made in a temporary directory: the rows of a real tracker run (its keys, the local
store's format) repeated with a decaying loss to ``--rows`` train rows, with a validation row
every 1,000 steps and a checkpoint every 10,000; a finished summary beside it; and ``--runs``
finished runs of 500 rows each plus one run still being written (no summary). The server runs in
this process on a free port. Measured:

- ``index``: reading the million rows into the server's index (done once, on the first request
  or in the background when ``hf-tracking serve`` starts), its size and the RSS it added;
- ``series``: the API's downsampled loss curve of that run, whole and zoomed;
- ``runs_api``: ``/api/runs`` over the 200 runs, first and second call;
- in headless Chromium (``--no-browser`` to skip), from navigation to the dashboard's address
  (the million-row run, the only one there, is selected as the newest): ``first paint``, a
  frame with its loss curve drawn (sketch.js's canvas, before plotly.js is loaded), and
  ``interactive``, plotly's plot drawn (hover, zoom). Each of ``--profiles`` fresh browser
  profiles makes a first visit (plotly.min.js compiled for the first time) and a returning one;
  the medians and maxima are reported, and each visit's stages (HTML, scripts, ``/api/runs``,
  ``/api/series``, plotly.min.js fetched) from the page's Resource Timing go to the JSON. Then
  the 200-run table shown (first visit of that address), and a row appended to a running run
  until it is in the plot.

The load average is recorded with the figures: on a shared machine it explains most of their
spread.

Then the workspace: every panel of the big run on screen (sketched on a canvas until plotly is
loaded, then drawn by plotly), and the row appended to the running run until every panel that
draws one of its names shows it.

Targets: the first panel (the chart, on a first visit) on screen < 1.5 s, the whole workspace
drawn < 3 s, 200 runs listed < 1 s, a new row shown in every panel < 2 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_overhead import git_state, machine, print_table, versions  # noqa: E402
from dashboard_browser import browser_figures  # noqa: E402


def template_run(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A real tracker run's train row and summary, to copy keys and shape from."""
    import hf_tracking
    from hf_tracking.backends.local import LocalRunStore
    from hf_tracking.jsonio import iter_jsonl, read_json
    from tests.support.dashboard import run_config

    config = run_config(
        directory,
        "template",
        vocab_size=50257,
        d_model=512,
        num_layers=8,
        num_heads=8,
        seq_length=512,
        num_iterations=1_000_000,
    )
    tracker = hf_tracking.ExperimentTracker(config, backends=[LocalRunStore()])
    for _step in range(12):
        tracker.log_train_step(loss=3.0, learning_rate=3e-4, grad_norm=1.0, tokens=16384)
    tracker.finish(wait=True)
    rows = [row for row in iter_jsonl(directory / "template" / "metrics.jsonl")]
    return rows[-1], read_json(directory / "template_summary.json")


def line(values: dict[str, Any]) -> str:
    return "{" + ", ".join(f'"{key}": {json.dumps(value)}' for key, value in values.items()) + "}\n"


def write_run(directory: Path, name: str, rows: int, train_row: dict, summary: dict | None) -> None:
    """``rows`` train rows shaped like ``train_row``; val every 1,000, checkpoint every 10,000."""
    from hf_tracking.jsonio import atomic_write_json

    run_dir = directory / name
    run_dir.mkdir(parents=True)
    tokens_per_step = 16384
    changing = ("time/gradient_steps", "time/wallclock_hours", "time/tokens_seen", "train/loss")
    # The keys that stay the same, encoded once: a million rows are written in seconds.
    constant = line({key: value for key, value in train_row.items() if key not in changing})
    constant = constant[1:-2]  # without the braces and newline
    with open(run_dir / "metrics.jsonl", "w", encoding="utf-8") as stream:
        batch = []
        for step in range(1, rows + 1):
            loss = 2.5 + 7.5 * math.exp(-step / (rows / 8)) + 0.05 * math.sin(step * 0.7)
            axes = {
                "time/gradient_steps": step,
                "time/wallclock_hours": step * 2.5e-4,
                "time/tokens_seen": step * tokens_per_step,
            }
            batch.append(
                f'{{{constant}, "time/gradient_steps": {step}, "time/wallclock_hours": '
                f'{step * 2.5e-4!r}, "time/tokens_seen": {step * tokens_per_step}, '
                f'"train/loss": {loss!r}}}\n'
            )
            if step % 1000 == 0:
                batch.append(line({"event": "val", **axes, "val/loss": loss + 0.04}))
            if step % 10_000 == 0:
                batch.append(
                    line(
                        {
                            "event": "checkpoint",
                            **axes,
                            "checkpoint/count": step // 10_000,
                            "checkpoint/step": step,
                            "checkpoint/is_best": 1,
                        }
                    )
                )
            if len(batch) >= 20_000:
                stream.write("".join(batch))
                batch = []
        stream.write("".join(batch))
    if summary is not None:
        summary = {**summary, "experiment_name": name, "run_dir": str(run_dir)}
        summary["totals"] = {
            **summary["totals"],
            "gradient_steps": rows,
            "tokens_seen": rows * tokens_per_step,
        }
        atomic_write_json(directory / f"{name}_summary.json", summary)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1024**2


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url) as response:
        return json.loads(response.read())


def timed(function: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def table_of(results: dict[str, Any]) -> list[list[str]]:
    index, series, listing = results["index"], results["series"], results["runs_api"]
    table = [
        ["index of the big run", f"{index['seconds']:.2f} s",
         f"{index['index_mb']:.0f} MB index, RSS +{index['rss_added_mb']:.0f} MB"],
        ["/api/series, whole run", f"{series['whole_s'] * 1000:.0f} ms",
         f"{series['whole_points']} points"],
        ["/api/series, zoomed", f"{series['zoom_s'] * 1000:.0f} ms",
         f"{series['zoom_points']} points"],
        ["/api/runs, first / second",
         f"{listing['first_s'] * 1000:.0f} / {listing['second_s'] * 1000:.0f} ms",
         f"{listing['listed']} runs"],
    ]  # fmt: skip
    browser = results.get("browser")
    if browser:
        live, panels = browser["live_row_shown_s"], browser["live_row_in_panels_s"]
        stages = (
            ("first_paint", "first panel (the chart) on screen"),
            ("interactive", "plotly ready"),
            ("workspace_shown", "whole workspace on screen"),
            ("workspace_interactive", "whole workspace drawn by plotly"),
        )
        for stage, what in stages:
            for visit in ("first_visit", "returning_visit"):
                figure = browser[f"{stage}_ms_{visit}"]
                table.append(
                    [f"{what}, {visit.replace('_', ' ')}", f"{figure['median']:.0f} ms",
                     f"max {figure['max']:.0f} ms, from navigation"]
                )  # fmt: skip
        table += [
            ["runs table shown", f"{browser['runs_table_shown_ms']:.0f} ms",
             f"{listing['listed']} runs"],
            ["new row in the plot", f"{live['median']:.2f} s", f"max {live['max']:.2f} s"],
            ["new row in every panel", f"{panels['median']:.2f} s",
             f"max {panels['max']:.2f} s, {browser['panels_with_the_row']} panels"],
        ]  # fmt: skip
    table.append(["server RSS at the end", f"{results['server_rss_mb']:.0f} MB", ""])
    table.append(["load average", " / ".join(f"{v:.1f}" for v in results["load_average"]), ""])
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows and 20 runs")
    parser.add_argument("--rows", type=int, default=None, help="train rows of the big run")
    parser.add_argument("--runs", type=int, default=None, help="finished runs in the list")
    parser.add_argument("--no-browser", action="store_true", help="API figures only")
    parser.add_argument("--profiles", type=int, default=3, help="fresh browser profiles")
    parser.add_argument("--output", default="benchmark_dashboard.json")
    args = parser.parse_args()
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    runs = args.runs or (20 if args.quick else 200)

    from hf_tracking.serve.runs import RunCatalog
    from hf_tracking.serve.server import DashboardServer

    with tempfile.TemporaryDirectory(prefix="hf-tracking-dashboard-") as temporary:
        base = Path(temporary)
        train_row, summary = template_run(base / "template")
        generated, _ = timed(lambda: write_run(base / "big", "big", rows, train_row, summary))
        for number in range(runs):
            write_run(base / "many", f"run_{number:03d}", 500, train_row, summary)
        write_run(base / "many", "live", 500, train_row, None)
        size_mb = (base / "big" / "big" / "metrics.jsonl").stat().st_size / 1024**2
        print(f"data: {rows:,} rows ({size_mb:.0f} MB) in {generated:.1f} s, {runs} runs")

        big = DashboardServer(RunCatalog([base / "big"]), "127.0.0.1", 0)
        many = DashboardServer(RunCatalog([base / "many"]), "127.0.0.1", 0)
        big.start()
        many.start()
        before = rss_mb()
        index_s, _ = timed(lambda: big.catalog.index(big.catalog.get("big")))
        index_mb = big.catalog.memory() / 1024**2
        added_mb = rss_mb() - before
        series_s, answer = timed(lambda: get_json(big.url + "api/series?run=big&points=2800"))
        zoom_s, zoomed = timed(
            lambda: get_json(
                big.url + f"api/series?run=big&points=2800&lo={rows // 3}&hi={rows // 2}"
            )
        )
        first_s, listed = timed(lambda: get_json(many.url + "api/runs"))
        second_s, _ = timed(lambda: get_json(many.url + "api/runs"))
        results: dict[str, Any] = {
            "rows": rows,
            "runs": runs,
            "metrics_mb": size_mb,
            "index": {"seconds": index_s, "index_mb": index_mb, "rss_added_mb": added_mb},
            "series": {
                "whole_s": series_s,
                "whole_points": len(answer["runs"][0]["line"]["x"]),
                "validation_points": len(answer["runs"][0]["points"]["x"]),
                "zoom_s": zoom_s,
                "zoom_points": len(zoomed["runs"][0]["line"]["x"]),
            },
            "runs_api": {"first_s": first_s, "second_s": second_s, "listed": len(listed["runs"])},
        }
        if not args.no_browser:
            results["browser"] = browser_figures(
                big.url,
                many.url,
                base / "many" / "live" / "metrics.jsonl",
                runs,
                args.profiles,
                train_row,
            )
        results["server_rss_mb"] = rss_mb()
        for server in (big, many):
            server.shutdown()
            server.server_close()
    results.update(
        versions=versions(), machine=machine(), git=git_state(), load_average=os.getloadavg()
    )
    print_table(
        f"dashboard, {rows:,} rows and {runs} runs", ["what", "time", "notes"], table_of(results)
    )
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "disabled")
    sys.exit(main())
