"""The MLflow backend read back with MlflowClient from the run's SQLite store."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path

import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from hf_tracking.backends.base import Record, RunInfo
from hf_tracking.backends.mlflow import MAX_PARAM_VALUE, MlflowBackend, mlflow_key
from hf_tracking.catalog import STEP_KEY
from tests.support.backend_readers import read_history, under_mlflow_names
from tests.support.backend_runs import (
    FIRST_STEPS,
    ODD_CUSTOM,
    backend_config,
    expected_points,
    fresh_then_resumed,
    train,
)
from tests.support.harness import tally_report
from tests.support.launch import free_port
from tests.support.runs import metrics_rows, strict_json

pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def default_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)


@pytest.mark.parametrize("started", [True, False], ids=["saved-run-id", "run-found-by-name"])
def test_mlflow_holds_the_local_history_fresh_and_after_a_resume(tmp_path, started):
    from mlflow.tracking import MlflowClient

    fresh, state, resumed = fresh_then_resumed(tmp_path, "mlflow", started_before_state=started)
    store = tmp_path / "experiments" / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    (run,) = client.search_runs([client.get_experiment_by_name("hf-tracking").experiment_id])
    if started:  # else the state was taken before MLflow made the run: found by its name tag
        assert run.info.run_id == state["backends"]["mlflow"]["run_id"]
    summary = strict_json(resumed["tracker"].summary_path)
    (entry,) = [b for b in summary["backends"] if b["name"] == "mlflow"]
    assert entry["run_id"] == run.info.run_id  # the resume continued the same MLflow run
    assert run.info.status == "FINISHED" and run.info.run_name == "readback"
    read = read_history(client, run.info.run_id)
    expected = under_mlflow_names(resumed["points"])
    assert read == expected  # same keys, values and steps; nothing left past step 4 from before
    assert {key: value for key, value in run.data.metrics.items()} == {
        key: values[-1][1] for key, values in expected.items()
    }  # the latest value of each metric is the resumed run's
    assert f"custom/{ODD_CUSTOM}".replace("(", "_").replace(")", "_") in read
    assert max(step for step, _ in fresh["train/loss"]) == FIRST_STEPS
    assert "final/runtime" not in read  # logged past step 4, abandoned with its session
    # Params: the flattened config; tags and notes.
    assert run.data.params["learning_rate"] == "0.0003"
    assert run.data.params["tags"] == '["readback", "test"]'
    assert run.data.tags["readback"] == "true" and run.data.tags["hf_tracking.run"] == "readback"
    assert run.data.tags["mlflow.note.content"] == "a resumed run"
    assert entry["status"] == "finished" and entry["resumed"] is True
    assert entry["points_deleted_on_resume"] > 0


def test_mlflow_fresh_run_has_every_point(tmp_path):
    from mlflow.tracking import MlflowClient

    tracker = ExperimentTracker(backend_config(tmp_path, "mlflow", notes="x" * 2000))
    train(tracker, 1, FIRST_STEPS, 0.0)
    tracker.hooks.log_final({"final/runtime": 12.5})
    tracker.finish(wait=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'experiments' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("hf-tracking").experiment_id])
    assert read_history(client, run.info.run_id) == under_mlflow_names(
        expected_points(tracker.run_dir)
    )
    assert run.data.params["notes"] == "x" * MAX_PARAM_VALUE  # cut to MLflow's value limit


def test_mlflow_key_mapping():
    assert mlflow_key("train/loss") == "train/loss"
    assert mlflow_key("val/my set/loss") == "val/my set/loss"
    assert mlflow_key("custom/a(b)=c") == "custom/a_b__c"
    assert mlflow_key("custom//x/../y") == "custom/_/x/_/y"
    assert len(mlflow_key("custom/" + "k" * 400)) == 250


def test_mlflow_tracking_uri_from_the_environment(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{Path(tmp_path) / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    tracker = ExperimentTracker(backend_config(tmp_path, "mlflow"))
    tracker.log_train_step(loss=1.0, tokens=4)
    tracker.finish(wait=True)
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("from-env").experiment_id])
    assert client.get_metric_history(run.info.run_id, "train/loss")[0].value == 1.0
    assert not (tmp_path / "experiments" / "mlflow.db").exists()


def _run_info(tmp_path: Path) -> RunInfo:
    return RunInfo("odd", str(tmp_path / "odd"), str(tmp_path), "hf-tracking", None, [], "", {})


def test_mlflow_keys_are_accepted_and_unique_after_cutting():
    long = "custom/" + "k" * 242
    for key in (long + "/b", long + "/c", "custom/" + "k" * 243 + "/.."):
        name = mlflow_key(key)
        assert len(name) <= 250 and not name.endswith("/") and "/../" not in name + "/"
    assert mlflow_key(long + "/b") != mlflow_key(long + "/c")


def test_a_refused_point_costs_only_itself_and_the_run_ends(tmp_path):
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    backend = MlflowBackend()
    backend.start(_run_info(tmp_path))
    rows = [
        Record("train", {STEP_KEY: step, "train/loss": 1.0 / step, "big": 1.0}) for step in (1, 2)
    ]
    huge = Record("train", {STEP_KEY: 2**63, "train/loss": 0.5})
    backend.delivery.add([Metric("bad/", 1.0, 0, 1)])  # a key MLflow refuses
    backend.log_batch([rows[0], huge, rows[1]])
    backend.finish("finished", 0)
    client = MlflowClient(tracking_uri=backend.tracking_uri)
    run = client.get_run(backend.run_id)
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(backend.run_id, "train/loss")
    assert sorted((m.step, m.value) for m in history) == [(1, 1.0), (2, 0.5)]
    assert backend.info()["points_lost"] == 3  # the refused key and the huge step's two points


class LockedAtStart(MlflowBackend):
    """MLflow whose store is locked by another writer for its first ``locked_tries`` starts."""

    def __init__(self, locked_tries: int, start_retry_seconds: float) -> None:
        super().__init__(start_retry_seconds=start_retry_seconds)
        self.locked_tries = locked_tries

    def _start(self, run: RunInfo) -> None:
        import sqlite3

        if self.locked_tries > 0:
            self.locked_tries -= 1
            super()._start(run)  # the experiment and the run made, then the lock
            raise sqlite3.OperationalError("database is locked")
        super()._start(run)


def locked_run(tmp_path: Path, name: str, locked_tries: int) -> tuple[dict, ExperimentTracker]:
    backend = LockedAtStart(locked_tries, start_retry_seconds=1.0)
    config = backend_config(tmp_path, "mlflow", experiment_name=name)
    tracker = ExperimentTracker(config, backends=[LocalRunStore(), backend])
    train(tracker, 1, FIRST_STEPS, 0.0)
    summary = strict_json(tracker.finish(wait=True))
    (entry,) = [b for b in summary["backends"] if b["name"] == "mlflow"]
    return entry, tracker


def test_a_store_locked_at_start_is_tried_again_within_a_bound(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    import hf_tracking.backends.mlflow as mlflow_module

    monkeypatch.setattr(mlflow_module, "START_FIRST_WAIT", 0.05)
    entry, tracker = locked_run(tmp_path, "released", locked_tries=3)
    assert (entry["status"], entry["start_retries"]) == ("finished", 3)
    client = MlflowClient(tracking_uri=entry["tracking_uri"])
    runs = client.search_runs([entry["experiment_id"]], "tags.`hf_tracking.run` = 'released'")
    assert [run.info.run_id for run in runs] == [entry["run_id"]]  # one run, however many tries
    expected = under_mlflow_names(expected_points(tracker.run_dir))
    read = read_history(client, entry["run_id"])
    points = sum(len(values) for values in expected.values())
    in_store = sum(len(set(values) & set(read.get(key, []))) for key, values in expected.items())
    tally = tally_report(
        "MLflow's store locked at start, then free (points)",
        points,
        in_store,
        {**entry, "records_lost": entry["points_lost"]},
    )
    assert tally.records_lost_silently == 0
    assert read == expected
    held, _ = locked_run(tmp_path, "held", locked_tries=100)
    assert held["status"] == "failed"
    assert held["error"] == "start: OperationalError: database is locked"
    assert 1 <= held["start_retries"] <= 4  # waits of 0.05, 0.1, 0.2, 0.4 s within 1 s
    assert held["records_written"] == 0 and held["records_lost"] > 0


class _LoginRefused(http.server.BaseHTTPRequestHandler):
    """A server that answers every request 401, as an authenticating proxy does to a wrong
    password (the fault injected; MLflow's client would retry nothing here)."""

    def do_GET(self) -> None:
        self.send_response(401, "Unauthorized")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_wrong_uri_or_a_refused_login_is_one_warning_naming_it_within_seconds(
    tmp_path, monkeypatch, caplog
):
    refusing = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LoginRefused)
    threading.Thread(target=refusing.serve_forever, daemon=True).start()
    uris = {
        "nothing listens": f"http://127.0.0.1:{free_port()}",
        "login refused": f"http://127.0.0.1:{refusing.server_address[1]}",
    }
    try:
        for case, uri in uris.items():
            monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
            caplog.clear()
            began = time.monotonic()
            config = backend_config(tmp_path / case, "mlflow", experiment_name="unreachable")
            tracker = ExperimentTracker(config, backends=[LocalRunStore(), MlflowBackend()])
            train(tracker, 1, FIRST_STEPS, 0.0)
            summary = strict_json(tracker.finish(wait=True))
            seconds = time.monotonic() - began
            (entry,) = [b for b in summary["backends"] if b["name"] == "mlflow"]
            naming = [r.getMessage() for r in caplog.records if uri in r.getMessage()]
            print(f"{case}: {seconds:.1f} s; warning: {naming}; summary: {entry['error']}")
            assert len(naming) == 1, [r.getMessage() for r in caplog.records]
            assert seconds < 15, seconds
            assert entry["status"] == "failed" and uri in entry["error"]
            assert entry["start_retries"] == 0 and entry["records_lost"] > 0
            expected = "refused the login (HTTP 401" if case == "login refused" else "Refused"
            assert expected in naming[0] and expected in entry["error"]
            assert len(metrics_rows(tracker.run_dir)) > 0  # the local store has every row
    finally:
        refusing.shutdown()
        refusing.server_close()
