"""ExperimentConfig: defaults, the seed's YAML, round trips, naming, tags and every ConfigError."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import torch
from transformers import GPT2LMHeadModel

from hf_tracking import ConfigError, ExperimentConfig
from hf_tracking.config import safe_name
from hf_tracking.recipe import gpt2_config

SEED_YAML = """\
# The seed project's experiment config, as users wrote it.
model_size: "17M"
dataset: "tinystories"
experiment_type: "baseline"
vocab_size: 50257
d_model: 512
num_layers: 8
num_heads: 8
seq_length: 512
batch_size: 32
gradient_accumulation_steps: 1
learning_rate: 3e-4
num_iterations: 50000
tags: ["baseline", "17M", "tinystories", "seed"]
project: "mini-lm"
log_every_steps: 10
"""


def test_every_field_has_a_default():
    config = ExperimentConfig(track_memory=False)
    assert config.track_memory is False
    assert config.output_dir == "experiments"
    assert config.experiment_type == "baseline"
    assert config.wandb_mode == "auto"


def test_seed_yaml_loads_as_written(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(SEED_YAML)
    config = ExperimentConfig.load(path)
    assert config.learning_rate == pytest.approx(3e-4)
    assert isinstance(config.learning_rate, float)
    assert config.tags == ["baseline", "17M", "tinystories", "seed"]
    assert config.num_iterations == 50000


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_round_trip(tmp_path, suffix):
    config = ExperimentConfig(
        model_size="125M", learning_rate=6e-4, tags=["a", "b"], notes="ünïcode", peak_tflops=312.0
    )
    path = config.save(tmp_path / f"config{suffix}")
    assert ExperimentConfig.load(path) == config


def test_automatic_name_and_tags():
    config = ExperimentConfig(model_size="17M", dataset="tiny stories/v2", tags=["17M", "x", "x"])
    name = config.default_name(datetime(2026, 1, 2, 3, 4, 5))
    assert name == "17M_tiny_stories_v2_baseline_20260102_030405"
    assert config.all_tags == ["17M", "tiny stories/v2", "baseline", "x"]


def test_safe_name_never_leaves_the_directory():
    for hostile in ["../../etc/passwd", "a/b", "\x00evil", "..", "name\nwith\tcontrol", "x" * 500]:
        cleaned = safe_name(hostile)
        assert "/" not in cleaned and "\x00" not in cleaned and not cleaned.startswith(".")
        assert 0 < len(cleaned) <= 120


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"learning_rat": 1e-3}, "did you mean 'learning_rate'"),
        ({"learning_rate": -1.0}, "learning_rate must be a finite number > 0, got -1.0"),
        ({"learning_rate": "fast"}, "learning_rate must be a number, got 'fast'"),
        ({"d_model": 100, "num_heads": 3}, "d_model must be divisible by num_heads (3), got 100"),
        ({"num_layers": 0}, "num_layers must be >= 1, got 0"),
        ({"num_layers": 2.5}, "num_layers must be an integer"),
        ({"track_memory": "maybe"}, "track_memory must be true or false"),
        ({"wandb_mode": "sometimes"}, "wandb_mode must be one of"),
        ({"tags": [["nested"]]}, "tags must be a list of strings"),
        ({"batch_size": True}, "batch_size must be an integer"),
    ],
)
def test_config_errors_name_field_and_value(fields, fragment):
    with pytest.raises(ConfigError) as raised:
        ExperimentConfig.from_dict(fields, source="config.yaml")
    assert fragment in str(raised.value)
    assert "(in config.yaml)" in str(raised.value)


def test_constructor_validates_too():
    with pytest.raises(ConfigError, match="learning_rate"):
        ExperimentConfig(learning_rate=0)


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("bad.yaml", "model_size: [unclosed", "malformed config file"),
        ("bad.json", "{not json", "malformed config file"),
        ("list.yaml", "- a\n- b\n", "must hold a mapping"),
        ("config.toml", "a = 1", "must end in .yaml, .yml or .json"),
        ("binary.yaml", b"\xff\xfe\x00", "cannot read config file"),
    ],
)
def test_unreadable_or_malformed_files(tmp_path, name, text, fragment):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=fragment):
        ExperimentConfig.load(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        ExperimentConfig.load(tmp_path / "missing.yaml")


def test_unknown_key_in_file_names_the_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"num_layer": 4}))
    with pytest.raises(
        ConfigError,
        match=r"unknown config field 'num_layer'; did you mean 'num_layers'\? \(in .*c.json\)",
    ):
        ExperimentConfig.load(path)


def _meta_gpt2(config: ExperimentConfig) -> GPT2LMHeadModel:
    with torch.device("meta"):
        return GPT2LMHeadModel(gpt2_config(config))


@pytest.mark.parametrize(
    "sizes",
    [
        {
            "model_size": "17M",
            "vocab_size": 50257,
            "d_model": 512,
            "num_layers": 8,
            "num_heads": 8,
            "seq_length": 512,
        },
        {
            "model_size": "125M",
            "vocab_size": 50257,
            "d_model": 768,
            "num_layers": 12,
            "num_heads": 12,
            "seq_length": 1024,
        },
        {
            "model_size": "3M",
            "vocab_size": 1000,
            "d_model": 128,
            "num_layers": 2,
            "num_heads": 4,
            "seq_length": 64,
            "d_ff": 300,
            "tie_word_embeddings": False,
        },
    ],
)
def test_parameter_estimate_equals_gpt2(sizes):
    config = ExperimentConfig(**sizes)
    model = _meta_gpt2(config)
    estimate = config.estimate_parameters()
    assert estimate["total"] == sum(p.numel() for p in model.parameters())
    parts = ("token_embedding", "position_embedding", "attention", "mlp", "norms", "output_head")
    assert sum(estimate[part] for part in parts) == estimate["total"]


def test_verify_model_size_says_when_the_label_is_off():
    config = ExperimentConfig()  # the seed's 17M label with a 50257 vocabulary
    report = config.verify_model_size(_meta_gpt2(config))
    assert report["label_matches"] is False
    assert report["estimate_matches_model"] is True
    assert report["actual_total"] == report["estimated_total"]
    assert 50e6 < report["actual_total"] < 52e6
    assert "17M" in report["message"] and "51.2M" in report["message"]
    assert "26.0M of them embeddings" in report["message"]


def test_verify_model_size_accepts_a_right_label():
    config = ExperimentConfig(
        model_size="124M", d_model=768, num_layers=12, num_heads=12, seq_length=1024
    )
    report = config.verify_model_size()
    assert report["label_matches"] is True
