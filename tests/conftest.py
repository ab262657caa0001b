"""Shared fixtures: every test runs in its own directory, W&B offline, nothing from the hub."""

from __future__ import annotations

import signal
import sys
import time

import pytest

# The signal tests send SIGINT and SIGHUP to child processes and expect their default effect. A
# suite started in the background (`cmd &`, nohup) has them ignored, and children would inherit
# that; they get their defaults back here.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def isolated_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.delenv("HF_TRACKING_CONFIG", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    yield tmp_path
    _wait_for_wandb_run_to_detach()


def _wait_for_wandb_run_to_detach(seconds: float = 10.0) -> None:
    """A run a test left open (or finished without waiting) keeps ``wandb.run`` attached in this
    process; it is finished here, and the next test starts once W&B has let go."""
    from hf_tracking import lifecycle

    lifecycle.finish_live_trackers()
    wandb = sys.modules.get("wandb")
    deadline = time.monotonic() + seconds
    while wandb is not None and getattr(wandb, "run", None) is not None and not _gave_up:
        if time.monotonic() > deadline:
            _gave_up.append(
                True
            )  # a run attached for good: waiting again would only slow the suite
        time.sleep(0.05)


_gave_up: list[bool] = []
