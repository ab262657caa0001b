"""The published scaling-law data the fits are checked against, read from ``shared/`` beside the
repository (never copied into it): Epoch AI's extraction of Chinchilla's Figure 4 and Porian et
al.'s IsoFLOP points. See that folder's SOURCES.md."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
# HF_TRACKING_SCALING_DATA points elsewhere (a git worktree has no shared/ beside it).
DATA = Path(
    os.environ.get("HF_TRACKING_SCALING_DATA") or ROOT.parent / "shared" / "data" / "scaling"
)
SETTING = ("dataset", "hparams", "warmup", "decay", "param_count", "val")


def data_dir() -> Path:
    """The data folder; skips the test where it is absent, fails under CI=true."""
    if not DATA.is_dir():
        message = f"the scaling reference data is not at {DATA}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DATA


def chinchilla() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, D, loss) of the 240 points Epoch AI fitted: the 5 highest losses (>= 3.447) left out,
    D = C / 6N as theirs."""
    with open(data_dir() / "svg_extracted_data.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    rows.sort(key=lambda row: float(row["loss"]))
    rows = rows[:-5]
    n = np.array([float(row["Model Size"]) for row in rows])
    c = np.array([float(row["Training FLOP"]) for row in rows])
    loss = np.array([float(row["loss"]) for row in rows])
    return n, c / (6.0 * n), loss


def porian_settings() -> dict[tuple[str, ...], dict[str, np.ndarray]]:
    """Each setting's IsoFLOP points (n, tokens, flops, loss) and the authors' exponent a."""
    folder = data_dir() / "porian2024"
    with open(folder / "isoflop_points.csv", newline="") as stream:
        points = list(csv.DictReader(stream))
    with open(folder / "fits.csv", newline="") as stream:
        fits = {
            tuple(row[k] for k in SETTING): float(row["a_weighted"])
            for row in csv.DictReader(stream)
        }
    settings = {}
    for key, a in fits.items():
        rows = [row for row in points if tuple(row[k] for k in SETTING) == key]
        settings[key] = {
            column: np.array([float(row[column]) for row in rows])
            for column in ("n_params", "tokens", "flops", "loss")
        }
        settings[key]["a"] = a
    return settings
