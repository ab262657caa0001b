"""Hostile config files: each is a ConfigError naming the file or the field, within a second."""

from __future__ import annotations

import os
import time

import pytest

from hf_tracking import ConfigError, ExperimentConfig


def alias_bomb(levels: int) -> str:
    lines = ['base: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\ntags: *l{levels}\n"


def load_fails_fast(path, *words: str) -> str:
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig.load(path)
    assert time.perf_counter() - started < 1.0
    message = str(caught.value)
    for word in words:
        assert word in message
    return message


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deep_nesting(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_text('{"notes": ' + "[" * 500 + "]" * 500 + "}\n")
    load_fails_fast(path, str(path), "nested")


@pytest.mark.parametrize("levels", [8, 9])
def test_alias_bombs(tmp_path, levels):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(levels))
    load_fails_fast(path, str(path), "aliases")


def test_a_few_aliases_still_work(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text("notes: &n hello\nproject: *n\n")
    assert ExperimentConfig.load(path).project == "hello"


@pytest.mark.parametrize(
    ("name", "text"),
    [("dup.yaml", "d_model: 64\nd_model: 128\n"), ("dup.json", '{"d_model": 64, "d_model": 128}')],
)
def test_duplicate_keys(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    load_fails_fast(path, str(path), "'d_model' is given twice")


def test_a_50_mb_file(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "w") as stream:
        stream.write("notes: '")
        stream.write("x" * (50 << 20))
        stream.write("'\n")
    load_fails_fast(path, str(path), "larger than")


def test_dev_zero_and_a_fifo(tmp_path):
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    load_fails_fast(zero, str(zero), "not a regular file")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    load_fails_fast(fifo, str(fifo), "not a regular file")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("backend_finish_timeout", 1e10, "between 0 and 86400"),
        ("writer_block_timeout", 1e10, "between 0 and 86400"),
        ("writer_block_timeout", -1, "between 0 and 86400"),
        ("writer_block_timeout", float("nan"), "between 0 and 86400"),
        ("d_model", 10**308, "at most 2**53"),
        pytest.param("num_iterations", 10**5000, "at most 2**53", id="5000-digits"),
        ("max_history", "1e300", "at most 2**53"),
    ],
)
def test_numeric_overflow(tmp_path, field, value, words):
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig(**{field: value, "num_heads": 1})
    assert str(caught.value).startswith(field) and words in str(caught.value)
    assert len(str(caught.value)) < 300
    assert time.perf_counter() - started < 1.0
    if isinstance(value, int) and value > 10**4000:
        return  # no YAML file can spell it (Python's int conversion limit)
    path = tmp_path / "overflow.yaml"
    path.write_text(f"{field}: {value}\nnum_heads: 1\n")
    assert len(load_fails_fast(path, field, str(path))) < 400


@pytest.mark.parametrize(
    "fields",
    [{"tags": [10**5000]}, {"notes": [10**5000]}, {10**5000: 1}, {"x" * 10**6: 1}],
    ids=["tag", "notes", "key", "long-key"],
)
def test_values_too_long_to_print_are_config_errors(fields):
    for build in (ExperimentConfig.from_dict, lambda data: ExperimentConfig(**data)):
        if (
            not all(isinstance(key, str) for key in fields)
            and build is not ExperimentConfig.from_dict
        ):
            continue
        with pytest.raises(ConfigError) as caught:
            build(fields)
        assert len(str(caught.value)) < 300


def test_the_largest_accepted_values_finish(tmp_path):
    config = ExperimentConfig(
        backend_finish_timeout=86400,
        writer_block_timeout=86400,
        d_model=2**52,
        num_heads=1,
        output_dir=str(tmp_path),
        wandb_mode="disabled",
    )
    from hf_tracking import ExperimentTracker

    tracker = ExperimentTracker(config)
    tracker.log_train_step(loss=1.0, tokens=1)
    assert tracker.finish(wait=True).exists()
