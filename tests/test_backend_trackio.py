"""The trackio backend read back through trackio's own storage API."""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.support.backend_runs import FIRST_STEPS, RESUME_STEP, fresh_then_resumed
from tests.support.runs import strict_json

# Not importorskip: importing trackio here would fix its directory before the fixture sets it.
pytestmark = pytest.mark.skipif(find_spec("trackio") is None, reason="trackio is not installed")


@pytest.fixture(scope="module")
def trackio_dir(tmp_path_factory):
    """trackio reads TRACKIO_DIR once, at its first import: set it before that."""
    directory = tmp_path_factory.mktemp("trackio")
    if "trackio" in sys.modules:
        import trackio.utils

        assert Path(os.environ.get("TRACKIO_DIR", "")) == trackio.utils.TRACKIO_DIR, (
            "trackio was imported before this test set its directory"
        )
        return trackio.utils.TRACKIO_DIR
    os.environ["TRACKIO_DIR"] = str(directory)
    return directory


def read_logs(project: str, run: str) -> tuple[dict[str, list[tuple[int, float]]], list[dict]]:
    from trackio.sqlite_storage import SQLiteStorage

    logs = SQLiteStorage.get_logs(project, run)
    points: dict[str, list[tuple[int, float]]] = {}
    for log in logs:
        for key, value in log.items():
            if key not in ("step", "timestamp") and isinstance(value, (int, float)):
                points.setdefault(key, []).append((log["step"], float(value)))
    return {key: sorted(values) for key, values in points.items()}, logs


def test_trackio_shows_the_local_history_fresh_and_after_a_resume(tmp_path, trackio_dir):
    project = f"readback-{tmp_path.name}"
    fresh, state, resumed = fresh_then_resumed(tmp_path, "trackio", project=project)
    assert state["backends"]["trackio"]["name"] == "readback"
    read, logs = read_logs(project, "readback")
    assert read == resumed["points"]  # same names, values and steps; the abandoned ones gone
    assert [log["step"] for log in logs] == sorted(log["step"] for log in logs)
    assert max(step for step, _ in fresh["train/loss"]) == FIRST_STEPS
    assert "final/runtime" in fresh and "final/runtime" not in read
    from trackio.sqlite_storage import SQLiteStorage

    (run,) = SQLiteStorage.get_runs(project)  # one run, continued
    assert SQLiteStorage.get_project_db_path(project).parent == trackio_dir
    config = SQLiteStorage.get_run_config(project, run)
    assert config["learning_rate"] == pytest.approx(3e-4)
    summary = strict_json(resumed["tracker"].summary_path)
    (entry,) = [b for b in summary["backends"] if b["name"] == "trackio"]
    assert entry["status"] == "finished" and entry["rows_cut_on_resume"] > 0
    assert entry["run_id"] == state["backends"]["trackio"]["run_id"]
    # Past step 4 only the resumed session's losses (1.0 higher than the abandoned ones).
    assert [value for step, value in read["train/loss"] if step > RESUME_STEP] == [
        pytest.approx(4.0 - 0.1 * step) for step in range(RESUME_STEP + 1, 9)
    ]
