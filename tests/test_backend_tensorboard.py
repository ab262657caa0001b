"""The TensorBoard backend read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from hf_tracking.backends.tensorboard import tensorboard_tag
from tests.support.backend_readers import as_float32, read_scalars
from tests.support.backend_runs import (
    FIRST_STEPS,
    LAST_STEP,
    ODD_CUSTOM,
    RESUME_STEP,
    fresh_then_resumed,
)
from tests.support.runs import strict_json

pytest.importorskip("tensorboardX")
pytest.importorskip("tensorboard")


def read_hparams(directory: Path) -> tuple[object, set[str], dict]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    points, accumulator = read_scalars(directory)
    content = accumulator.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/experiment"]
    ).experiment
    return start, {info.name.tag for info in experiment.metric_infos}, points


def test_tensorboard_shows_the_local_history_fresh_and_after_a_resume(tmp_path):
    fresh, _, resumed = fresh_then_resumed(tmp_path, "tensorboard")
    logdir = Path(resumed["tracker"].run_dir) / "tensorboard"
    # One event file per session; the first one alone is the fresh run.
    first_file, _ = sorted(logdir.glob("events.out.tfevents.*"))
    fresh_read, _ = read_scalars(first_file)
    assert fresh_read == as_float32(fresh)
    assert max(step for step, _ in fresh_read["train/loss"]) == FIRST_STEPS
    assert read_hparams(logdir / "hparams")[1] == {"train/loss", "val/loss"}  # rewritten
    read, _ = read_scalars(logdir)
    assert read == as_float32(resumed["points"])
    steps = [step for step, _ in read["train/loss"]]
    assert steps == sorted(set(steps)) and steps[RESUME_STEP] == RESUME_STEP + 1
    # The odd custom name under TensorBoard's mapping; the axes are scalars of their own.
    assert "custom/attention_entropy__head_0_" in read
    assert {"time/wallclock_hours", "time/tokens_seen", "time/gradient_steps"} <= set(read)
    assert tensorboard_tag(f"custom/{ODD_CUSTOM}") == "custom/attention_entropy__head_0_"
    # hparams: the flattened config, with the final figures and the last losses as metrics.
    start, metric_names, metrics = read_hparams(logdir / "hparams")
    assert start.hparams["learning_rate"].number_value == pytest.approx(3e-4)
    assert start.hparams["experiment_name"].string_value == "readback"
    assert start.hparams["tags"].string_value == '["readback", "test"]'
    assert metric_names == {"train/loss", "val/loss"}  # the resumed session logged no final
    last = as_float32(resumed["points"])
    # at the run's last step, with the last value each had
    assert metrics == {key: [(LAST_STEP, last[key][-1][1])] for key in metric_names}
    summary = strict_json(resumed["tracker"].summary_path)
    (entry,) = [b for b in summary["backends"] if b["name"] == "tensorboard"]
    assert entry["status"] == "finished" and entry["purge_step"] == RESUME_STEP + 1
    assert entry["logdir"] == str(logdir)


def test_a_step_tensorboard_cannot_store_costs_only_its_record(tmp_path):
    from hf_tracking.backends.base import Record, RunInfo
    from hf_tracking.backends.tensorboard import TensorBoardBackend
    from hf_tracking.catalog import STEP_KEY

    backend = TensorBoardBackend()
    backend.start(RunInfo("odd", str(tmp_path / "odd"), str(tmp_path), "p", None, [], "", {}))
    backend.log_batch(
        [
            Record("train", {STEP_KEY: 1, "train/loss": 1.0}),
            Record("train", {STEP_KEY: 2**63, "train/loss": 0.5}),
            Record("train", {STEP_KEY: float("nan"), "train/loss": 0.5, "big": 10**400}),
            Record("train", {STEP_KEY: 2, "train/loss": 0.25}),
        ]
    )
    backend.finish("finished", 0)
    points, _ = read_scalars(Path(backend.logdir))
    assert points[tensorboard_tag("train/loss")] == [(1, 1.0), (2, 0.25)]
    assert backend.info()["records_skipped"] == 2
