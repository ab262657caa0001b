"""The dashboard's index of a metrics.jsonl: followed by byte offset, rows lined up by key."""

from __future__ import annotations

from hf_tracking.jsonio import dumps_line
from hf_tracking.serve.index import MetricsIndex


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


def test_while_one_thread_reads_a_file_the_others_serve_what_is_read(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(dumps_line({"event": "train", "s": step}) for step in range(5)))
    index = MetricsIndex(path)
    assert index.complete
    with index._reading:  # another thread in the middle of a long first read
        assert index.update() == 0 and not index.complete
        assert index.series("train", "s") is None
    assert index.update() == 5 and index.complete
