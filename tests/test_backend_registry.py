"""Backends as plug-ins: a backend written outside the package, chosen by name."""

from __future__ import annotations

import pytest
from transformers import Trainer

import hf_tracking
import hf_tracking.backends.registry as registry
from hf_tracking import ConfigError, ExperimentConfig, ExperimentTracker, TrackingCallback
from tests.support.configs import small_config
from tests.support.runs import metrics_rows, strict_json
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments


# A whole backend, as a user would write one: under 40 lines with its registration.
class ListBackend(hf_tracking.Backend):
    """Keeps every row in memory, and its run id across a resume."""

    name = "list"
    remote = True
    runs: list[ListBackend] = []

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.run_id = f"run-{len(ListBackend.runs)}"
        self.status = None
        ListBackend.runs.append(self)

    def start(self, run) -> None:
        self.name_seen = run.name

    def log_batch(self, records) -> None:
        self.rows.extend({"event": r.kind, **r.values} for r in records)

    def finish(self, status: str, exit_code: int) -> None:
        self.status = status

    def summary_section(self) -> dict:
        return {"run_id": self.run_id, "rows": len(self.rows)}

    def state_dict(self) -> dict:
        return {"run_id": self.run_id}

    def load_state_dict(self, state) -> None:
        self.run_id = state["run_id"]


@pytest.fixture
def list_backend(monkeypatch):
    monkeypatch.setattr(registry, "_registered", {})
    monkeypatch.setattr(ListBackend, "runs", [])
    hf_tracking.register_backend(ListBackend)
    return ListBackend


def config(tmp_path, **overrides) -> ExperimentConfig:
    return small_config(tmp_path, **{"backends": ["local", "list"], **overrides})


def test_a_registered_backend_gets_every_row_of_a_hand_written_loop(tmp_path, list_backend):
    tracker = ExperimentTracker(config(tmp_path))
    for step in range(6):
        tracker.log_train_step(loss=2.0 - step * 0.1, tokens=32)
    tracker.log_validation(1.5)
    summary = strict_json(tracker.finish(wait=True))
    (backend,) = list_backend.runs
    assert backend.rows == metrics_rows(tracker.run_dir)
    assert backend.status == "finished"
    assert summary["list"] == {"run_id": "run-0", "rows": 7}
    assert "wandb" not in summary  # no W&B backend: no W&B entries


def test_a_registered_backend_resumes_with_its_own_state(tmp_path, list_backend):
    first = ExperimentTracker(config(tmp_path))
    for _ in range(3):
        first.log_train_step(loss=1.0, tokens=1)
    state = first.state_dict()
    first.finish(wait=True)
    assert state["backends"] == {"local": {}, "list": {"run_id": "run-0"}}
    resumed = ExperimentTracker(config(tmp_path))
    resumed.load_state_dict(state)
    resumed.log_train_step(loss=1.0, tokens=1)
    summary = strict_json(resumed.finish(wait=True))
    assert summary["list"]["run_id"] == "run-0"


def test_a_registered_backend_works_from_the_trainer_callback(tmp_path, list_backend):
    args = training_arguments(
        str(tmp_path / "out"), report_to="none", logging_steps=1, max_steps=4, eval_strategy="no"
    )
    callback = TrackingCallback(config(tmp_path))
    trainer = Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=PaddedDataset(16),
        callbacks=[callback],
    )
    trainer.train()
    callback.wait_for_backends()
    (backend,) = list_backend.runs
    rows = metrics_rows(strict_json(callback.summary_path)["run_dir"])
    assert backend.rows == rows
    assert [r["time/gradient_steps"] for r in rows if r["event"] == "train"] == [1, 2, 3, 4]


def test_backends_by_name_and_from_the_environment(tmp_path, monkeypatch, list_backend):
    assert registry.backend_names(None) == ["local", "wandb"]
    assert registry.backend_names(["list"]) == ["local", "list"]
    monkeypatch.setenv("HF_TRACKING_BACKENDS", "list, wandb")
    assert registry.backend_names(["local"]) == ["local", "list", "wandb"]
    monkeypatch.delenv("HF_TRACKING_BACKENDS")
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        ExperimentTracker(config(tmp_path, backends=["nope"]))


def test_register_backend_refuses_what_is_not_a_backend():
    with pytest.raises(TypeError, match="Backend subclass"):
        hf_tracking.register_backend(dict)

    class Nameless(hf_tracking.Backend):
        pass

    with pytest.raises(ValueError, match="non-empty `name`"):
        hf_tracking.register_backend(Nameless)
