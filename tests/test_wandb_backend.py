"""The W&B backend's own resume state and summary section (no W&B process started)."""

from __future__ import annotations

import logging

from hf_tracking.backends import WandbBackend
from tests.support.configs import small_config


def test_disabled_means_no_backend(tmp_path, monkeypatch):
    assert WandbBackend.from_config(small_config(tmp_path, wandb_mode="disabled")) is None
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert WandbBackend.from_config(small_config(tmp_path)) is None
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert WandbBackend.from_config(small_config(tmp_path)).mode == "offline"


def test_an_online_run_resumed_online_continues_the_same_run(monkeypatch):
    backend = WandbBackend("online")
    backend.load_state_dict({"run_id": "abc12345", "mode": "online", "previous_ids": []})
    assert (backend.run_id, backend.resume) == ("abc12345", True)
    assert backend.state_dict() == {"run_id": "abc12345", "mode": "online", "previous_ids": []}


def test_any_other_resume_is_a_new_run_that_keeps_the_earlier_ids(caplog):
    backend = WandbBackend("offline")
    fresh_id = backend.run_id
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        backend.load_state_dict({"run_id": "old00001", "mode": "offline", "previous_ids": ["x"]})
    assert backend.run_id == fresh_id and not backend.resume
    assert backend.previous_ids == ["x", "old00001"]
    assert "cannot resume the offline run old00001" in caplog.text
    section = backend.summary_section()
    assert section["run_id"] == fresh_id
    assert section["previous_run_ids"] == ["x", "old00001"]
    assert section["mode"] == "offline"
