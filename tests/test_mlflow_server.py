"""The MLflow backend against a real ``mlflow server`` (basic auth, SQLite behind it) started on
127.0.0.1 for this module: a team's server. Two working directories' runs in one experiment, a
resume continuing its run, the server killed mid-run and started again, a refused login."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from hf_tracking.backends.mlflow import MlflowBackend
from tests.support.backend_readers import read_history, under_mlflow_names
from tests.support.backend_runs import (
    RESUME_STEP,
    backend_config,
    expected_points,
    fresh_then_resumed,
    train,
)
from tests.support.harness import tally_report
from tests.support.mlflow_server import ADMIN, PASSWORD, MlflowServer
from tests.support.runs import metrics_rows, strict_json

pytestmark = pytest.mark.slow
EXPERIMENT = "team"
# The server is started again at once (the outage is its start-up time, 7-30 s here) unless this
# says how long it stays down first; the backend's calls follow the same schedule either way.
DOWN_SECONDS = float(os.environ.get("HF_TRACKING_TEST_MLFLOW_DOWN_SECONDS", "0"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow_server"))
    server.start()
    yield server
    server.stop()
    print("mlflow server: seconds to answer, per start:", [round(s, 1) for s in server.starts])


@pytest.fixture
def team(server, monkeypatch):
    """Every run of the test logs to the server, as a team member's would."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=server.uri)


def mlflow_entry(summary_path: str | Path) -> dict:
    (entry,) = [b for b in strict_json(summary_path)["backends"] if b["name"] == "mlflow"]
    return entry


def merged(*histories: dict) -> dict:
    """Points of several sessions per key (a point two sessions both logged, twice)."""
    keys = {key for history in histories for key in history}
    return {key: sorted(p for h in histories for p in h.get(key, [])) for key in keys}


def test_two_working_directories_share_one_experiment_and_a_resume_continues_its_run(
    server, team, tmp_path, monkeypatch
):
    nodes = {name: tmp_path / name for name in ("alice", "bob")}
    for directory in nodes.values():
        directory.mkdir()
    monkeypatch.chdir(nodes["alice"])
    fresh, state, resumed = fresh_then_resumed(nodes["alice"], "mlflow", experiment_name="alice")
    monkeypatch.chdir(nodes["bob"])
    bob = ExperimentTracker(backend_config(nodes["bob"], "mlflow", experiment_name="bob"))
    train(bob, 1, 5, 0.0)
    bob.finish(wait=True)

    experiment = team.get_experiment_by_name(EXPERIMENT)
    runs = {run.info.run_name: run for run in team.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["alice", "bob"]  # one experiment, one run per name, resume included
    for name, tracker in (("alice", resumed["tracker"]), ("bob", bob)):
        assert Path(tracker.run_dir).is_relative_to(nodes[name])
        entry = mlflow_entry(tracker.summary_path)
        assert entry["run_id"] == runs[name].info.run_id and entry["records_lost"] == 0
        assert entry["records_written"] > 0 and entry["status"] == "finished"
        assert runs[name].info.status == "FINISHED"
    assert runs["alice"].info.run_id == state["backends"]["mlflow"]["run_id"]
    assert mlflow_entry(resumed["tracker"].summary_path)["resumed"] is True
    # A server cannot delete points: the abandoned session's points past the resume step stay
    # in the history beside the resumed ones, and the run says from which step.
    abandoned = {
        key: [(step, value) for step, value in points if step > RESUME_STEP]
        for key, points in fresh.items()
    }
    store = server.store()
    alice = read_history(store, runs["alice"].info.run_id)
    assert alice == merged(under_mlflow_names(resumed["points"]), under_mlflow_names(abandoned))
    assert runs["alice"].data.tags["hf_tracking.abandoned_after_step"] == str(RESUME_STEP)
    assert read_history(store, runs["bob"].info.run_id) == under_mlflow_names(
        expected_points(bob.run_dir)
    )
    print("alice:", sum(map(len, alice.values())), "points; bob:", len(metrics_rows(bob.run_dir)))


def test_a_server_killed_mid_run_and_started_again_loses_no_point(
    server, team, tmp_path, monkeypatch
):
    # MLflow's client settings would wait for hours; the backend's calls do not use them.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "10")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "120")
    # An experiment of its own, that both runs, starting at once, may try to make.
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "outage")
    trackers = {}
    for name, bound in (("outage", None), ("bounded", 3.0)):
        backend = MlflowBackend() if bound is None else MlflowBackend(retry_seconds=bound)
        config = backend_config(tmp_path, "mlflow", experiment_name=name, num_iterations=1000)
        trackers[name] = ExperimentTracker(config, backends=[LocalRunStore(), backend])
    step = 0

    def steps(count: int, pause: float = 0.0) -> None:
        nonlocal step
        for _ in range(count):
            step += 1
            for tracker in trackers.values():
                train(tracker, step, step, 0.0)
            time.sleep(pause)

    steps(3)
    for tracker in trackers.values():
        tracker.flush(timeout=60)
    began = time.monotonic()
    server.stop()

    def start_again() -> None:
        time.sleep(DOWN_SECONDS)
        server.start()

    restart = threading.Thread(target=start_again)
    restart.start()
    steps(4, pause=0.5)  # the bounded run's backend gives up within its 3 s
    bounded = trackers.pop("bounded")
    bounded.finish(wait=True)
    while restart.is_alive():  # training goes on through the outage
        steps(1, pause=0.5)
    restart.join()
    outage = time.monotonic() - began
    steps(3, pause=0.4)
    outage_run = trackers.pop("outage")
    outage_run.finish(wait=True)

    entry = mlflow_entry(outage_run.summary_path)
    rows = metrics_rows(outage_run.run_dir)
    print(f"outage {outage:.1f} s over {step} steps; summary entry: {entry}")
    store = server.store()
    history = read_history(store, entry["run_id"])
    assert history == under_mlflow_names(expected_points(outage_run.run_dir))
    assert (entry["records_written"], entry["records_lost"]) == (len(rows), 0)
    assert entry["status"] == "finished" and entry["outages"] == 1
    # Calls failed, were tried again after 1, 2, 4 ... s, and the first one after the restart
    # delivered every point kept (the restart alone takes 7-30 s here: 2 to 5 failed calls).
    assert entry["failed_calls"] >= 2
    tally = tally_report("MLflow server killed mid-run, started again", len(rows), len(rows), entry)
    assert tally.records_lost_silently == 0
    assert outage - 2 <= entry["longest_outage_seconds"] <= outage + 11

    gave_up = mlflow_entry(bounded.summary_path)
    print("bounded to 3 s:", gave_up)
    assert gave_up["status"] == "failed" and server.uri in gave_up["error"]
    assert re.search(r"did not answer for [34] s", gave_up["error"]), gave_up["error"]
    # The counts are true: the server holds exactly the records counted written.
    rows = metrics_rows(bounded.run_dir)
    written = gave_up["records_written"]
    assert written + gave_up["records_lost"] == len(rows) and gave_up["records_lost"] > 0
    in_server = read_history(store, gave_up["run_id"])
    delivered = expected_points_of(rows[:written])
    assert in_server == under_mlflow_names(delivered)
    tally = tally_report("MLflow server down past the backend's bound", len(rows), written, gave_up)
    assert tally.records_lost_silently == 0


def expected_points_of(rows: list[dict]) -> dict:
    points: dict = {}
    for row in rows:
        for key, value in row.items():
            if isinstance(value, (bool, int, float)) and key != "event":
                points.setdefault(key, []).append((int(row["time/gradient_steps"]), float(value)))
    return points


def test_a_refused_login_on_the_server_is_one_warning_within_seconds(
    server, team, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    began = time.monotonic()
    tracker = ExperimentTracker(backend_config(tmp_path, "mlflow", experiment_name="refused"))
    train(tracker, 1, 3, 0.0)
    entry = mlflow_entry(tracker.finish(wait=True))
    seconds = time.monotonic() - began
    naming = [r.getMessage() for r in caplog.records if server.uri in r.getMessage()]
    print(f"refused login: {seconds:.1f} s; warning: {naming}; summary: {entry['error']}")
    assert len(naming) == 1 and "refused the login (HTTP 401" in naming[0]
    assert entry["status"] == "failed" and server.uri in entry["error"]
    assert entry["records_written"] == 0 and entry["records_lost"] == len(
        metrics_rows(tracker.run_dir)
    )
    assert seconds < 15
