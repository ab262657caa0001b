"""The per-call costs of this tree against an earlier revision's, side by side in one run.

    .venv/bin/python scripts/benchmark_hot_path.py                  # against the first release
    .venv/bin/python scripts/benchmark_hot_path.py --against HEAD~5 --rounds 9 --calls 50000
    .venv/bin/python scripts/benchmark_hot_path.py --quick          # one short round (smoke test)

The earlier revision is checked out (``git worktree add --detach``) into a temporary directory.
Each round runs :mod:`overhead.calls`'s hot-path cases (``log_train_step`` with W&B offline,
without and with memory tracking, and with the local store alone; ``TrackingCallback.on_log``
and the step events) once per tree, each in a fresh interpreter whose ``hf_tracking`` is that
tree's, the trees' order alternating between rounds. The figure per case is the median over
rounds of the round's p50, and the ratio this tree / the earlier one; on a shared machine the
per-round spread is printed too, since other processes move single rounds by more than 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIRST_RELEASE = "1a85d44"
# (section, case, measurement) of each figure compared.
FIGURES = (
    ("log_train_step", "wandb_offline", "non_emitting"),
    ("log_train_step", "wandb_offline", "emitting"),
    ("log_train_step", "wandb_offline_track_memory", "emitting"),
    ("log_train_step", "local_only", "non_emitting"),
    ("log_train_step", "local_only", "emitting"),
    ("on_log", "wandb_offline", "on_log"),
    ("on_log", "wandb_offline", "on_step_begin_plus_end"),
)


def child(calls: int, output: str) -> None:
    """One round for the ``hf_tracking`` first on the path: sections a and b of the overhead
    benchmark, written as JSON to ``output``."""
    sys.path.insert(0, str(HERE))
    from overhead import calls as sections
    from overhead.common import quiet_environment

    with tempfile.TemporaryDirectory() as directory:
        temp = Path(directory)
        quiet_environment(temp)
        result = {
            "log_train_step": sections.section_log_train_step(temp, calls),
            "on_log": sections.section_on_log(temp, calls),
        }
    Path(output).write_text(json.dumps(result))


def run_round(tree: Path, calls: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as output:
        # The installed package's startup hook would register this tree's Trainer integration.
        environment = {**os.environ, "PYTHONPATH": str(tree), "HF_TRACKING_AUTOLOAD": "0"}
        command = [sys.executable, str(Path(__file__)), "--child", output.name, "--calls"]
        subprocess.run([*command, str(calls)], env=environment, check=True, cwd=tree)
        return json.loads(Path(output.name).read_text())


def p50(result: dict[str, Any], section: str, case: str, measurement: str) -> float:
    return result[section][case][measurement]["p50_us"]


def compare(rounds: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for figure in FIGURES:
        before = [p50(entry["before"], *figure) for entry in rounds]
        after = [p50(entry["after"], *figure) for entry in rounds]
        ratios = [a / b for a, b in zip(after, before, strict=True) if b]
        rows.append(
            {
                "figure": " / ".join(figure),
                "before_us": round(statistics.median(before), 3),
                "after_us": round(statistics.median(after), 3),
                "ratio": round(statistics.median(ratios), 3),
                "ratio_min": round(min(ratios), 3),
                "ratio_max": round(max(ratios), 3),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default=FIRST_RELEASE, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (each tree once a round)")
    parser.add_argument("--calls", type=int, default=30_000, help="timed calls per case")
    parser.add_argument("--output", default="benchmark_hot_path.json", help="JSON output path")
    parser.add_argument("--quick", action="store_true", help="one round of 300 calls (smoke test)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.calls = 1, 300
    if args.child:
        child(args.calls, args.child)
        return
    with tempfile.TemporaryDirectory() as temp:
        earlier = Path(temp) / "earlier"
        git = ["git", "-C", str(ROOT)]
        subprocess.run(
            [*git, "worktree", "add", "--detach", str(earlier), args.against], check=True
        )
        try:
            rounds = []
            for index in range(args.rounds):
                trees = [("before", earlier), ("after", ROOT)]
                if index % 2:
                    trees.reverse()
                rounds.append({name: run_round(tree, args.calls) for name, tree in trees})
                print(f"round {index + 1}/{args.rounds} done, load {os.getloadavg()[0]:.2f}")
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(earlier)], check=False)
    rows = compare(rounds)
    Path(args.output).write_text(
        json.dumps({"against": args.against, "rows": rows, "rounds": rounds}, indent=2)
    )
    print(f"\np50 per call, median of {args.rounds} rounds (µs), this tree against {args.against}")
    print(f"{'figure':58} {'before':>8} {'after':>8} {'ratio':>7} {'min–max':>13}")
    for row in rows:
        spread = f"{row['ratio_min']:.2f}–{row['ratio_max']:.2f}"
        print(
            f"{row['figure']:58} {row['before_us']:8.2f} {row['after_us']:8.2f} "
            f"{row['ratio']:7.3f} {spread:>13}"
        )


if __name__ == "__main__":
    main()
