"""TensorBoard, MLflow and trackio each fail alone, within their finish timeout, and are chosen
by name from the environment for ``report_to="hf_tracking"``."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from transformers import Trainer

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from hf_tracking.backends.mlflow import MlflowBackend
from hf_tracking.backends.tensorboard import TensorBoardBackend
from tests.support.backend_readers import (
    as_float32,
    read_history,
    read_scalars,
    under_mlflow_names,
)
from tests.support.backend_runs import LAST_STEP, backend_config, expected_points, train
from tests.support.runs import metrics_rows, strict_json
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments

pytest.importorskip("tensorboardX")
pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")


class TensorBoardFailingOnce(TensorBoardBackend):
    """TensorBoard whose second batch raises (a full disk for a moment)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def log_batch(self, records) -> None:
        self.batches += 1
        if self.batches == 2:
            raise OSError("No space left on device")
        super().log_batch(records)


class MlflowHangingFinish(MlflowBackend):
    """MLflow whose finish never returns (a server that stopped answering)."""

    released = threading.Event()

    def finish(self, status: str, exit_code: int) -> None:
        self.released.wait()


@pytest.fixture(autouse=True)
def default_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.setattr(MlflowHangingFinish, "released", threading.Event())
    yield
    MlflowHangingFinish.released.set()  # lets the abandoned worker thread end


def reports(summary: dict) -> dict[str, dict]:
    return {report["name"]: report for report in summary["backends"]}


def test_a_failing_backend_stops_neither_training_nor_the_others(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/mlflow.db")
    config = backend_config(tmp_path, "mlflow")
    failing = TensorBoardFailingOnce()
    tracker = ExperimentTracker(config, backends=[LocalRunStore(), failing, MlflowBackend()])
    for step in range(1, LAST_STEP + 1):
        train(tracker, step, step, 0.0)
        tracker.flush(timeout=60)  # one batch a step, so the second batch is one step's records
    summary = reports(strict_json(tracker.finish(wait=True)))
    rows = metrics_rows(tracker.run_dir)
    assert [r["time/gradient_steps"] for r in rows if r["event"] == "train"] == list(range(1, 9))
    assert summary["local"]["records_written"] == len(rows)
    mlflow = summary["mlflow"]
    assert mlflow["status"] == "failed" and mlflow["error"].startswith("start:")
    assert mlflow["records_lost"] == len(rows) and mlflow["records_written"] == 0
    tensorboard = summary["tensorboard"]
    assert tensorboard["status"] == "failed" and "No space left" in tensorboard["error"]
    assert tensorboard["records_written"] + tensorboard["records_lost"] == len(rows)
    assert tensorboard["records_lost"] == 2  # step 2's training and custom records
    # What TensorBoard did get is exactly the local history without step 2's training row.
    expected = expected_points(tracker.run_dir)
    read, _ = read_scalars(Path(tracker.run_dir) / "tensorboard")
    assert (2, 2.8) in expected["train/loss"]
    assert read == {
        key: kept
        for key, values in as_float32(expected).items()
        if (kept := [point for point in values if point[0] != 2 or key.startswith("val/")])
    }


def test_a_hanging_backend_is_given_up_after_its_finish_timeout(tmp_path):
    config = dataclasses.replace(backend_config(tmp_path, "mlflow"), backend_finish_timeout=3)
    tracker = ExperimentTracker(
        config, backends=[LocalRunStore(), TensorBoardBackend(), MlflowHangingFinish()]
    )
    train(tracker, 1, 3, 0.0)
    assert tracker.flush(timeout=60)  # MLflow has started and written every record
    started = time.monotonic()
    summary = reports(strict_json(tracker.finish(wait=True)))
    assert time.monotonic() - started < 30
    assert summary["mlflow"]["status"] == "did not finish within 3 s"
    assert summary["tensorboard"]["status"] == "finished"
    assert summary["mlflow"]["records_written"] == summary["local"]["records_written"]


def trainer_run(args, resume_from: str | None = None) -> tuple[dict, Path]:
    """A Trainer run with ``report_to="hf_tracking"``; its summary and run directory."""
    trainer = Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=PaddedDataset(32),
        eval_dataset=PaddedDataset(8, seed=1),
    )
    trainer.train(resume_from_checkpoint=resume_from)
    (callback,) = [c for c in trainer.callback_handler.callbacks if hasattr(c, "wait_for_backends")]
    callback.wait_for_backends()
    summary = strict_json(callback.summary_path)
    return summary, Path(summary["run_dir"])


def assert_backends_hold(run_dir: Path, project: str) -> str:
    """TensorBoard and MLflow show exactly ``metrics.jsonl``; returns the MLflow run id."""
    from mlflow.tracking import MlflowClient

    expected = expected_points(run_dir)
    assert [s for s, _ in expected["train/loss"]] == [1, 2, 3, 4, 5, 6]
    assert [s for s, _ in expected["val/loss"]] == [3, 6]
    read, _ = read_scalars(run_dir / "tensorboard")
    assert read == as_float32(expected)
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir.parent}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name(project).experiment_id])
    assert read_history(client, run.info.run_id) == under_mlflow_names(expected)
    assert run.data.params["trainer.max_steps"] == "6"
    return run.info.run_id


@pytest.mark.slow
def test_backends_chosen_by_the_environment_under_report_to_hf_tracking(tmp_path, monkeypatch):
    """Fresh, then resumed from the step-3 checkpoint of the same 6 steps: one history."""
    monkeypatch.setenv("HF_TRACKING_BACKENDS", "tensorboard,mlflow")
    args = training_arguments(
        str(tmp_path / "out"), max_steps=6, logging_steps=1, eval_steps=3, save_steps=3
    )
    summary, run_dir = trainer_run(args)
    assert [r["name"] for r in summary["backends"]] == ["local", "tensorboard", "mlflow"]
    run_id = assert_backends_hold(run_dir, summary["config"]["project"])
    resumed, resumed_dir = trainer_run(args, resume_from=str(tmp_path / "out" / "checkpoint-3"))
    assert resumed_dir == run_dir
    assert assert_backends_hold(run_dir, summary["config"]["project"]) == run_id
    assert reports(resumed)["tensorboard"]["purge_step"] == 4
    assert reports(resumed)["mlflow"]["points_deleted_on_resume"] > 0
