"""The dashboard's index of a metrics.jsonl: followed by byte offset, rows lined up by key."""

from __future__ import annotations

import json

import numpy as np

from hf_tracking.jsonio import dumps_line
from hf_tracking.serve.downsample import downsample
from hf_tracking.serve.index import MetricsIndex
from hf_tracking.serve.thin import extreme_picks


def test_a_rewritten_file_is_read_again(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(dumps_line({"event": "train", "s": step}) for step in range(5)))
    index = MetricsIndex(path)
    assert index.update() == 5
    replacement = tmp_path / "new.jsonl"
    replacement.write_text(dumps_line({"event": "train", "s": 0}) + '{"bad json\n')
    replacement.replace(path)
    index.update()
    assert index.rows == 1 and index.series("train", "s").tolist() == [0.0]


def test_rows_of_any_shape_line_up_by_key(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [
        '{"event": "train", "a": 1, "b": 2}',
        '{"b": 20, "event": "train", "a": 10}',
        '{"event": "train", "a": null, "c": "text"}',
        '{"event": "val", "v": 0.5}',
        "[1, 2]",
        '{"event": "train", "a": [1], "b": 4}',
    ]
    path.write_text("\n".join(lines) + "\n")
    index = MetricsIndex(path)
    assert index.update() == 5  # the list is not a row
    nan = float("nan")
    assert index.series("train", "a").tolist()[:2] == [1.0, 10.0]
    assert [str(v) for v in index.series("train", "a").tolist()[2:]] == [str(nan)] * 2
    assert str(index.series("train", "b").tolist()) == str([2.0, 20.0, nan, 4.0])
    assert str(index.series("train", "c").tolist()) == str([nan] * 4)
    assert index.series("val", "v").tolist() == [0.5]
    assert index.last("train") == {"b": 4.0}


def test_a_null_among_numbers_of_one_shape_keeps_the_column_in_line(tmp_path):
    """Rows of one shape are added together: a null after numbers (a non-finite loss) must not
    leave the numbers before it added twice."""
    path = tmp_path / "metrics.jsonl"
    losses = [3.0, 2.5, None, 2.0]
    path.write_text(
        "".join(dumps_line({"event": "train", "s": s, "loss": v}) for s, v in enumerate(losses))
    )
    index = MetricsIndex(path)
    assert index.update() == 4
    assert str(index.series("train", "loss").tolist()) == str([3.0, 2.5, float("nan"), 2.0])
    assert index.series("train", "s").tolist() == [0.0, 1.0, 2.0, 3.0]


def test_while_one_thread_reads_a_file_the_others_serve_what_is_read(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(dumps_line({"event": "train", "s": step}) for step in range(5)))
    index = MetricsIndex(path)
    assert index.complete
    with index._reading:  # another thread in the middle of a long first read
        assert index.update() == 0 and not index.complete
        assert index.series("train", "s") is None
    assert index.update() == 5 and index.complete


def test_extreme_picks_are_each_buckets_first_last_lowest_and_highest():
    rng = np.random.default_rng(0)
    positions = np.sort(rng.choice(10_000, size=3_000, replace=False))
    values = rng.normal(size=3_000)
    values[rng.choice(3_000, size=100)] = np.nan
    picks = extreme_picks(positions, values, 64)
    expected = set()
    for bucket in np.unique(positions // 64):
        inside = np.flatnonzero(positions // 64 == bucket)
        expected |= {inside[0], inside[-1]}
        finite = inside[np.isfinite(values[inside])]
        if len(finite):
            expected |= {finite[np.argmin(values[finite])], finite[np.argmax(values[finite])]}
    assert picks.tolist() == sorted(expected)


def test_a_thinned_index_keeps_the_ends_every_extreme_and_stays_within_its_bytes(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rng = np.random.default_rng(1)
    losses = 2.0 + rng.normal(scale=0.1, size=50_000)
    losses[31_337] = 40.0
    with open(path, "w") as stream:
        for step, loss in enumerate(losses, 1):
            row = {"event": "train", "time/gradient_steps": step, "train/loss": loss}
            stream.write(json.dumps({**row, "train/grad_norm": 1.0 / step}) + "\n")
        stream.write(json.dumps({"event": "val", "time/gradient_steps": 9, "val/loss": 2}) + "\n")
    full, thin = MetricsIndex(path), MetricsIndex(path, max_bytes=200_000)
    full.update(), thin.update()
    assert thin.nbytes() <= 200_000 < full.nbytes() and thin.rows == full.rows == 50_001
    count, bucket = thin.detail("train", "train/loss")
    assert count == 50_000 and bucket > 1
    xs, ys = thin.columns("train", ("time/gradient_steps", "train/loss"))
    assert xs[0] == 1 and xs[-1] == 50_000 and ys[-1] == losses[-1]
    assert ys.max() == 40.0 and xs[ys.argmax()] == 31_338 and ys.min() == losses.min()
    shown = downsample(xs, ys, 400)[1]
    every = downsample(*full.columns("train", ("time/gradient_steps", "train/loss")), 400)[1]
    assert shown.max() == every.max() and shown.min() == every.min()
    assert thin.last("train") == full.last("train") and thin.tail("val", 5) == full.tail("val", 5)
    once = full.tables["train"]
    once.thin(bucket)  # thinned as it was read, a level at a time: the same as all at once
    for key, (values, at) in thin.tables["train"].columns.items():
        assert list(at) == list(once.columns[key][1]) and list(values) == list(once.columns[key][0])
