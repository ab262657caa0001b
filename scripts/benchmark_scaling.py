"""The Approach 3 fit on Epoch AI's extraction of Chinchilla's Figure 4, timed: the whole fit,
all 4,500 L-BFGS starts of the grid, its wall time and its user CPU time (on a shared machine
the wall time grows with the others' load; the CPU time is the fit's own cost), with the fitted
values beside the published ones.

    python scripts/benchmark_scaling.py [--data ../shared/data/scaling] [--grid full|coarse]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

from hf_tracking.analysis.parametric import GRIDS, fit_parametric

PUBLISHED = {"A": 482.01, "B": 2085.43, "E": 1.817, "alpha": 0.3478, "beta": 0.3658}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scaling"
    parser.add_argument("--data", type=Path, default=default, help=f"the data folder ({default})")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="full")
    args = parser.parse_args()
    with open(args.data / "svg_extracted_data.csv", newline="") as stream:
        rows = sorted(csv.DictReader(stream), key=lambda row: float(row["loss"]))[:-5]
    n = np.array([float(row["Model Size"]) for row in rows])
    d = np.array([float(row["Training FLOP"]) for row in rows]) / (6.0 * n)
    loss = np.array([float(row["loss"]) for row in rows])
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    wall = time.perf_counter()
    fit = fit_parametric(n, d, loss, grid=GRIDS[args.grid])
    wall = time.perf_counter() - wall
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu
    published = {**PUBLISHED, "a": PUBLISHED["beta"] / (PUBLISHED["alpha"] + PUBLISHED["beta"])}
    fitted = fit.as_dict()
    for key, value in published.items():
        print(f"{key:<6} fitted {fitted[key]:>10.4f}   published {value:>10.4f}")
    load = os.getloadavg()[0]
    print(
        f"{fit.starts} starts, {fit.n_points} points: wall {wall:.1f} s, user CPU {cpu:.1f} s "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )
    print(json.dumps({"wall_s": wall, "user_cpu_s": cpu, "load": load, "fit": fitted}))


if __name__ == "__main__":
    main()
