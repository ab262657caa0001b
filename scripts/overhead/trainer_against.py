"""Whole Trainer runs of one configuration, this tree against an earlier one, side by side
(``benchmark_hot_path.py --trainer CONFIG``).

Each round runs section f's child (:mod:`overhead.trainer_child`) three times in fresh
interpreters: "none", then the two trees' ``hf_tracking`` in an order that alternates between
rounds. Every tree's run is divided by its round's "none" run; the figures are the medians and
spreads of those ratios, and of each run's training-thread µs a step net of the timer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from overhead.common import alternating, spread, tree_environment

SCRIPTS = Path(__file__).resolve().parent.parent
# The child puts the tree under test first on the path (benchmark_overhead.py would put its own
# repository there), then this tree's scripts for the child's code.
CHILD = "import sys; sys.path[:0] = sys.argv[1:3]; from overhead.trainer_child import child_main; child_main(sys.argv[3])"


def trainer_run(tree: Path, config: str, shape: str, sizes: dict[str, int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as temp:
        spec = {"workdir": f"{temp}/w", "shape": shape, "config": config, "sizes": sizes}
        spec_json = json.dumps({**spec, "threads": 1})
        command = [sys.executable, "-c", CHILD, str(tree), str(SCRIPTS), spec_json]
        done = subprocess.run(
            command, env=tree_environment(tree), cwd=tree, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"trainer run {config} in {tree} failed: {done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def trainer_rounds(
    earlier: Path, here: Path, config: str, rounds: int, shape: str, sizes: dict[str, int]
) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"none": [], "before": [], "after": []}
    for index in range(rounds):
        runs["none"].append(trainer_run(here, "none", shape, sizes))
        for name, tree in alternating(index, earlier, here):
            runs[name].append(trainer_run(tree, config, shape, sizes))
        print(f"round {index + 1}/{rounds} done", flush=True)
    base = [run["train_s"] for run in runs["none"]]
    return {
        name: {
            "train_ratio": spread(
                [r["train_s"] / b for r, b in zip(runs[name], base, strict=True)]
            ),
            "thread_us_per_step_net": spread(
                [r.get("thread_us_per_step_net", 0.0) for r in runs[name]]
            ),
        }
        for name in ("before", "after")
    }
