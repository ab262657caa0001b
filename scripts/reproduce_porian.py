"""Approach 2 on Porian et al.'s IsoFLOP points, one setting at a time: the exponent a each
method fits beside the one they published (their ``a_weighted``), as a Markdown table.

    python scripts/reproduce_porian.py [--data ../shared/data/scaling]

The seed-noise level of their weights is 0.002 nats on RefinedWeb and 0.01 on OpenWebText2.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from hf_tracking.analysis.isoflop import fit_isoflop

SETTING = ("dataset", "hparams", "warmup", "decay", "param_count", "val")
COLUMNS = ("n_params", "tokens", "loss", "flops")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scaling"
    parser.add_argument("--data", type=Path, default=default, help=f"the data folder ({default})")
    folder = parser.parse_args().data / "porian2024"
    with open(folder / "isoflop_points.csv", newline="") as stream:
        points = list(csv.DictReader(stream))
    with open(folder / "fits.csv", newline="") as stream:
        published = {
            tuple(r[k] for k in SETTING): float(r["a_weighted"]) for r in csv.DictReader(stream)
        }
    print("| setting | published a | Akima (default) | parabola |")
    print("| --- | --- | --- | --- |")
    misses = {"akima": [], "parabola": []}
    for key, a in published.items():
        rows = [row for row in points if tuple(row[k] for k in SETTING) == key]
        n, d, loss, c = (np.array([float(row[col]) for row in rows]) for col in COLUMNS)
        noise = 0.002 if key[0] == "rw" else 0.01
        fitted = {}
        for method in misses:
            fitted[method] = fit_isoflop(n, d, loss, c, method=method, loss_noise=noise).a
            misses[method].append(abs(fitted[method] - a))
        print(f"| {' '.join(key)} | {a:.4f} | {fitted['akima']:.4f} | {fitted['parabola']:.4f} |")
    for method, values in misses.items():
        print(f"{method}: largest miss {max(values):.4f} over {len(values)} settings")


if __name__ == "__main__":
    main()
