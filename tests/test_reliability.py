"""Faults, interrupts, crashes, hostile input and secrets: what survives, shown on real runs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import Trainer

import hf_tracking.backends.registry
from hf_tracking import ExperimentConfig, ExperimentTracker, TrackingCallback
from hf_tracking.backends import LocalRunStore, WandbBackend
from hf_tracking.jsonio import iter_jsonl
from tests.support.faults import HangingFinish, RaisingOnLog, StuckLog
from tests.support.runs import metrics_rows, strict_json, strict_json_line
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"vocab_size": 64, "d_model": 32, "num_layers": 2, "num_heads": 2, "seq_length": 16}


def small_config(tmp_path, **overrides) -> ExperimentConfig:
    settings_ = {**SMALL, "output_dir": str(tmp_path / "experiments"), "log_every_steps": 1}
    settings_.update(overrides)
    return ExperimentConfig(**settings_)


def backend_report(summary: dict, name: str) -> dict:
    return next(report for report in summary["backends"] if report["name"] == name)


def trainer_with(tmp_path, config: ExperimentConfig) -> Trainer:
    args = training_arguments(str(tmp_path / "out"), report_to="none", logging_steps=1)
    trainer = Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=PaddedDataset(48),
        eval_dataset=PaddedDataset(8, seed=1),
        callbacks=[TrackingCallback(config)],
    )
    trainer.train()
    return trainer


def finished_summary(trainer: Trainer) -> dict:
    (callback,) = [c for c in trainer.callback_handler.callbacks if isinstance(c, TrackingCallback)]
    callback.wait_for_backends()
    return strict_json(callback.summary_path)


# ---------------------------------------------------------------------- faults in backends
@pytest.mark.slow
def test_wandb_not_installed(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb → ImportError
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        trainer = trainer_with(tmp_path, small_config(tmp_path, wandb_mode="offline"))
    assert trainer.state.global_step == 12
    summary = finished_summary(trainer)
    report = backend_report(summary, "wandb")
    assert report["status"] == "failed" and "ImportError" in report["error"]
    assert sum("'wandb' failed" in message for message in caplog.messages) == 1
    rows = metrics_rows(summary["run_dir"])
    assert len([r for r in rows if r["event"] == "train"]) == 12


@pytest.mark.slow
def test_wandb_init_raising(tmp_path, monkeypatch, caplog):
    # The W&B process imports tests/support/wandb_faults/sitecustomize.py, which makes init fail.
    faults = ROOT / "tests" / "support" / "wandb_faults"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(faults), str(ROOT)]))
    monkeypatch.setenv("HF_TRACKING_FAULT", "wandb-init")
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        trainer = trainer_with(tmp_path, small_config(tmp_path, wandb_mode="online"))
    assert trainer.state.global_step == 12
    summary = finished_summary(trainer)
    report = backend_report(summary, "wandb")
    assert report["error"] == "start: RuntimeError: CommError: bad API key"
    assert report["records_lost"] == len(metrics_rows(summary["run_dir"]))
    assert sum("'wandb' failed" in message for message in caplog.messages) == 1


def test_a_hung_wandb_finish_is_stopped(tmp_path, monkeypatch):
    faults = ROOT / "tests" / "support" / "wandb_faults"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(faults), str(ROOT)]))
    monkeypatch.setenv("HF_TRACKING_FAULT", "wandb-finish-hangs")
    config = small_config(tmp_path, wandb_mode="offline", backend_finish_timeout=3)
    tracker = ExperimentTracker(config, backends=[LocalRunStore(), WandbBackend()])
    for _ in range(5):
        tracker.log_train_step(loss=1.0, tokens=1)
    started = time.perf_counter()
    summary = strict_json(tracker.finish(wait=True))
    assert time.perf_counter() - started < 10
    assert backend_report(summary, "wandb")["status"] == "did not finish within 3 s"
    assert len(metrics_rows(tracker.run_dir)) == 5


@pytest.mark.slow
def test_backend_log_raising_on_the_fifth_call(tmp_path, monkeypatch, caplog):
    flaky = RaisingOnLog(fail_on=5)

    class Flaky(RaisingOnLog):
        @classmethod
        def from_config(cls, config):
            return flaky

    monkeypatch.setattr(hf_tracking.backends.registry, "_registered", {})
    hf_tracking.register_backend(Flaky)
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        trainer = trainer_with(tmp_path, small_config(tmp_path, backends=["local", "flaky"]))
    summary = finished_summary(trainer)
    rows = metrics_rows(summary["run_dir"])
    report = backend_report(summary, "flaky")
    assert report["error"] == "log: ConnectionError: service unavailable"
    assert report["records_lost"] == 1
    assert len(flaky.received) == len(rows) - 1  # every other record still arrived
    assert sum("'flaky' failed" in message for message in caplog.messages) == 1
    assert summary["status"] == "finished"


def test_backend_finish_hanging(tmp_path):
    hanging = HangingFinish()
    config = small_config(tmp_path, backend_finish_timeout=0.5)
    tracker = ExperimentTracker(config, backends=[LocalRunStore(), hanging])
    for _ in range(10):
        tracker.log_train_step(loss=1.0, tokens=1)
    started = time.perf_counter()
    summary_path = tracker.finish(wait=True)
    assert time.perf_counter() - started < 5
    summary = strict_json(summary_path)
    assert backend_report(summary, "hanging")["status"] == "did not finish within 0.5 s"
    assert hanging.received == 10
    assert len(metrics_rows(tracker.run_dir)) == 10


def test_local_disk_failing(tmp_path, monkeypatch):
    def disk_full(self, records):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LocalRunStore, "log_batch", disk_full)
    config = small_config(tmp_path, wandb_mode="offline")
    tracker = ExperimentTracker(config, backends=[LocalRunStore(), WandbBackend()])
    for _ in range(15):
        tracker.log_train_step(loss=1.0, tokens=1)
    summary = strict_json(tracker.finish(wait=True))
    local = backend_report(summary, "local")
    assert local["records_lost"] == 15 and "No space left on device" in local["error"]
    assert backend_report(summary, "wandb")["records_written"] == 15
    (offline_dir,) = find_offline_runs(tmp_path)
    assert len(wait_for_exit(offline_dir).history) == 15


def test_a_stuck_backend_costs_the_loop_nothing(tmp_path):
    stuck = StuckLog()
    config = small_config(tmp_path, backend_queue_size=10, backend_finish_timeout=0.5)
    tracker = ExperimentTracker(config, backends=[LocalRunStore(), stuck])
    started = time.perf_counter()
    for _ in range(200):
        tracker.log_train_step(loss=1.0, tokens=1)
    loop_seconds = time.perf_counter() - started
    tracker.flush(timeout=2)
    summary = strict_json(tracker.finish(wait=True))
    stuck.release.set()
    assert loop_seconds < 1.0
    report = backend_report(summary, "stuck")
    assert report["records_dropped"] >= 150
    assert report["status"] == "did not finish within 0.5 s"
    assert len(metrics_rows(tracker.run_dir)) == 200  # the local store never drops


# ---------------------------------------------------------------------- interrupts and crashes
def run_script(
    tmp_path, mode: str, tracker: bool, signal_to_send=None
) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        str(ROOT / "tests" / "support" / "crash_loop.py"),
        str(tmp_path / "runs"),
        mode,
    ]
    if not tracker:
        command.append("--no-tracker")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    tmp_path.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if signal_to_send is not None:
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal_to_send)
    stdout, stderr = process.communicate(timeout=180)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "signal_to_send", "status", "error"),
    [
        ("exception", None, "failed", "ValueError: boom in user code"),
        ("wait", signal.SIGINT, "interrupted", "KeyboardInterrupt"),
        ("wait", signal.SIGTERM, "interrupted", "SIGTERM"),
    ],
)
def test_interrupts_and_exceptions(tmp_path, mode, signal_to_send, status, error):
    without = run_script(tmp_path / "without", mode, tracker=False, signal_to_send=signal_to_send)
    with_tracker = run_script(tmp_path, mode, tracker=True, signal_to_send=signal_to_send)
    assert with_tracker.returncode == without.returncode != 0
    if mode == "exception":
        assert "ValueError: boom in user code" in with_tracker.stderr
    summary = strict_json(tmp_path / "runs" / "crash_summary.json")
    assert summary["status"] == status
    assert summary["error"].startswith(error)
    rows = metrics_rows(tmp_path / "runs" / "crash")
    train_rows = [row for row in rows if row["event"] == "train"]
    assert len(train_rows) >= 20
    assert summary["totals"]["gradient_steps"] == len(train_rows)
    (offline_dir,) = find_offline_runs(tmp_path)
    run = wait_for_exit(offline_dir)
    assert run.exit_code not in (None, 0)
    assert len(run.history) == len(rows)


@pytest.mark.slow
def test_exception_inside_the_trainer(tmp_path):
    without = run_script(tmp_path / "without", "trainer-exception", tracker=False)
    result = run_script(tmp_path, "trainer-exception", tracker=True)
    assert result.returncode == without.returncode == 1
    assert "bug in a user callback" in result.stderr
    (summary_path,) = (tmp_path / "experiments").glob("*_summary.json")
    summary = strict_json(summary_path)
    assert summary["status"] == "failed"
    assert "RuntimeError: bug in a user callback" in summary["error"]
    assert summary["totals"]["gradient_steps"] == 5


@pytest.mark.slow
def test_kill_9_leaves_readable_files(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "support" / "crash_loop.py"),
            str(tmp_path / "runs"),
            "wait",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    metrics = tmp_path / "runs" / "crash" / "metrics.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        metrics.exists() and len(list(iter_jsonl(metrics))) >= 20
    ):
        time.sleep(0.1)  # the writer thread has started and written the first rows
    process.kill()
    process.wait()
    complete = [line for line in metrics.read_text().split("\n")[:-1]]
    for line in complete:
        strict_json_line(line)
    assert len(list(iter_jsonl(metrics))) == len(complete) >= 20
    summary_path = tmp_path / "runs" / "crash_summary.json"
    if summary_path.exists():
        assert strict_json(summary_path)["status"] == "running"
    assert not list((tmp_path / "runs").glob(".*.tmp"))  # no half-written file left in view
    # The offline W&B run is written afterwards from the local store (hf-tracking sync), failed.
    (offline_dir,) = find_offline_runs(tmp_path)
    run = wait_for_exit(offline_dir)
    assert run.exit_code == 1 and len(run.history) == len(complete)


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"event": "train", "time/gradient_steps": 1}\n{"event": "train", "time/gra')
    assert [row["time/gradient_steps"] for row in iter_jsonl(path)] == [1]


# ---------------------------------------------------------------------- hostile input
@pytest.mark.parametrize(
    "name",
    [
        "../../outside",
        "/etc/passwd",
        "a/../../b",
        "nul\x00byte",
        "x" * 5000,
        "ctrl\n\r\t\x1b[31m",
        "..",
        ".",
    ],
)
def test_hostile_names_stay_inside_output_dir(tmp_path, name):
    output_dir = tmp_path / "box" / "experiments"
    config = small_config(
        tmp_path,
        experiment_name=name,
        output_dir=str(output_dir),
        wandb_mode="disabled",
        tags=[name],
    )
    tracker = ExperimentTracker(config)
    tracker.log_train_step(loss=1.0, tokens=1)
    summary_path = tracker.finish(wait=True)
    for path in (tmp_path / "box").rglob("*"):
        assert output_dir in path.parents or path == output_dir
    assert summary_path.parent == output_dir
    summary = strict_json(summary_path)
    assert summary["requested_name"] == name
    assert "/" not in summary["experiment_name"] and len(summary["experiment_name"]) <= 120


def test_secrets_never_land_in_files_or_the_wandb_config(tmp_path, monkeypatch):
    wandb_key = "0123456789abcdef0123456789abcdef01234567"
    hf_token = "hf_SECRETsecretSECRETsecret"
    monkeypatch.setenv("WANDB_API_KEY", wandb_key)
    monkeypatch.setenv("HF_TOKEN", hf_token)
    config = small_config(tmp_path, wandb_mode="offline", notes=f"debug: token was {hf_token}")
    extra = {
        "hub_token": "hf_anothersecret123",
        "api_key": "sk-123456789",
        "db_password": "pw12345678",
        "pad_token_id": 0,
        "include_num_input_tokens_seen": "no",
        "command": f"train --key {wandb_key}",
    }
    tracker = ExperimentTracker(config, extra_config=extra)
    tracker.log_train_step(loss=1.0, tokens=1)
    summary_path = tracker.finish(wait=True)
    (offline_dir,) = find_offline_runs(tmp_path)
    run = wait_for_exit(offline_dir)
    texts = [
        summary_path.read_text(),
        (tracker.run_dir / "config.yaml").read_text(),
        json.dumps(run.config),
    ]
    for text in texts:
        for secret in (wandb_key, hf_token, "hf_anothersecret123", "sk-123456789", "pw12345678"):
            assert secret not in text
    assert run.config["trainer"]["pad_token_id"] == 0
    assert run.config["trainer"]["include_num_input_tokens_seen"] == "no"
    assert "redacted" in run.config["trainer"]["hub_token"]


def test_a_forked_child_never_finishes_the_parents_run(tmp_path):
    tracker = ExperimentTracker(small_config(tmp_path, wandb_mode="disabled"))
    tracker.log_train_step(loss=1.0, tokens=1)
    tracker.flush()
    child = os.fork()
    if child == 0:  # a DataLoader worker started with fork, ending normally
        from hf_tracking import lifecycle

        lifecycle.finish_live_trackers()
        os._exit(0)
    os.waitpid(child, 0)
    assert not tracker.summary_path.exists()
    assert tracker.status == "running"
    tracker.finish()
    assert strict_json(tracker.summary_path)["status"] == "finished"


def test_every_run_gets_its_own_wandb_id(tmp_path):
    import random

    ids = set()
    for _ in range(3):
        random.seed(42)  # as the Trainer does before the tracker starts
        ids.add(WandbBackend("offline").run_id)
    assert len(ids) == 3
