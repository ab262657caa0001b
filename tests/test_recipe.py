"""Recipes: loading, validation, overrides, and the builders (no downloads: the Hub is offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hf_tracking import ConfigError, ExperimentConfig
from hf_tracking.recipe import (
    DataSettings,
    HubUnreachable,
    TrainingSettings,
    build_datasets,
    build_tokenizer,
    build_training_arguments,
    gpt2_config,
    is_hub_error,
    load_recipe,
    load_texts,
    pack,
    parse_override,
    recipe_from_dict,
    tokenizer_cache_dir,
)

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
ALL_RECIPES = sorted(RECIPES.glob("*.yaml"))
# A small offline plan, quick to build.
SMALL = [
    "data.offline_train_documents=300",
    "data.offline_validation_documents=40",
    "training.eval_batches=2",
    "batch_size=4",
    "seq_length=32",
]


def test_the_recipes_are_there():
    names = {path.stem for path in ALL_RECIPES}
    assert {"tiny", "tiny_ablation", "tinystories_17m", "openwebtext_125m"} <= names
    assert (RECIPES / "accelerate" / "single_gpu.yaml").is_file()


@pytest.mark.parametrize("path", ALL_RECIPES, ids=lambda path: path.stem)
def test_every_recipe_loads_without_downloads(path):
    recipe = load_recipe(path)
    assert isinstance(recipe.config, ExperimentConfig)
    assert isinstance(recipe.training, TrainingSettings)
    assert isinstance(recipe.data, DataSettings)
    assert recipe.name == path.stem
    assert recipe.training.max_steps == recipe.config.num_iterations
    assert recipe.config.eval_every_steps == recipe.training.eval_steps
    assert recipe.config.save_every_steps == recipe.training.save_steps
    assert recipe.config.log_every_steps == recipe.training.logging_steps
    assert load_recipe(path, offline=True).offline


def test_the_17m_recipe_is_the_planned_one():
    text = (RECIPES / "tinystories_17m.yaml").read_text()
    assert "learning_rate: 3e-4" in text
    recipe = load_recipe(RECIPES / "tinystories_17m.yaml")
    config = recipe.config
    assert config.model_size == "17M"
    assert (config.vocab_size, config.d_model, config.num_layers, config.num_heads) == (
        50257,
        512,
        8,
        8,
    )
    assert config.learning_rate == 3e-4
    assert config.num_iterations == 50000
    assert (config.dataset, config.experiment_type) == ("tinystories", "baseline")
    assert recipe.data.dataset_name == "roneneldan/TinyStories"
    assert recipe.data.tokenizer_name == "gpt2"
    assert recipe.training.precision == "bf16"


def test_the_125m_recipe_is_gpt2_small_on_streamed_openwebtext():
    recipe = load_recipe(RECIPES / "openwebtext_125m.yaml")
    config = recipe.config
    shape = (config.vocab_size, config.d_model, config.num_layers, config.num_heads)
    assert shape == (50257, 768, 12, 12)
    assert config.seq_length == 1024
    assert recipe.data.dataset_name == "Skylion007/openwebtext"
    assert recipe.data.streaming


def test_the_tiny_recipe_is_small_and_local():
    recipe = load_recipe(RECIPES / "tiny.yaml")
    config = recipe.config
    assert 64 <= config.d_model <= 128 and 2 <= config.num_layers <= 4
    assert 1024 <= config.vocab_size <= 2048 and 64 <= config.seq_length <= 128
    assert 150 <= recipe.training.max_steps <= 300
    assert recipe.training.eval_steps < recipe.training.max_steps
    assert recipe.training.save_steps < recipe.training.max_steps
    assert recipe.data.offline_source == "stories"
    assert recipe.data.tokenizer_name is None


def test_the_ablation_changes_exactly_one_knob():
    base = yaml.safe_load((RECIPES / "tiny.yaml").read_text())
    ablation = yaml.safe_load((RECIPES / "tiny_ablation.yaml").read_text())
    assert ablation["experiment_type"] == "ablation"
    labels = {"experiment_type", "notes", "experiment_name", "tags"}
    changed = {key for key in base.keys() | ablation.keys() if base.get(key) != ablation.get(key)}
    assert changed - labels == {"learning_rate"}


@pytest.mark.parametrize("name", ["tinystories_17m", "openwebtext_125m", "tiny"])
def test_parameter_estimate_equals_the_built_model(name):
    import torch
    from transformers import GPT2LMHeadModel

    config = load_recipe(RECIPES / f"{name}.yaml").config
    with torch.device("meta"):
        model = GPT2LMHeadModel(gpt2_config(config))
    actual = sum(parameter.numel() for parameter in model.parameters())
    assert config.estimate_parameters()["total"] == actual
    assert model.config.n_positions == config.seq_length


def test_untied_embeddings_are_counted_too():
    import torch
    from transformers import GPT2LMHeadModel

    config = load_recipe(RECIPES / "tiny.yaml", ["tie_word_embeddings=false", "d_ff=256"]).config
    with torch.device("meta"):
        model = GPT2LMHeadModel(gpt2_config(config))
    assert config.estimate_parameters()["total"] == sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------ validation and overrides
def test_overrides_reach_the_config_and_the_sections():
    recipe = load_recipe(
        RECIPES / "tiny.yaml",
        ["training.max_steps=6", "learning_rate=1e-2", "data.streaming=false", "tags=[a, b]"],
    )
    assert recipe.training.max_steps == 6
    assert recipe.config.num_iterations == 6
    assert recipe.config.learning_rate == 0.01
    assert recipe.data.streaming is False
    assert recipe.config.tags == ["a", "b"]


def test_output_dir_option_and_offline_tag():
    recipe = load_recipe(RECIPES / "tiny.yaml", offline=True, output_dir="elsewhere")
    assert recipe.config.output_dir == "elsewhere"
    assert "offline-stories" in recipe.config.all_tags


@pytest.mark.parametrize(
    ("override", "named", "suggested"),
    [
        ("training.max_step=6", "max_step", "max_steps"),
        ("data.tokeniser_name=gpt2", "tokeniser_name", "tokenizer_name"),
        ("lerning_rate=1", "lerning_rate", "learning_rate"),
        ("trainig.max_steps=6", "trainig", "training"),
    ],
)
def test_an_unknown_override_key_is_named_with_a_suggestion(override, named, suggested):
    with pytest.raises(ConfigError) as caught:
        load_recipe(RECIPES / "tiny.yaml", [override])
    assert repr(named) in str(caught.value)
    assert f"did you mean {suggested!r}" in str(caught.value)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("batch_size=abc", "batch_size"),
        ("training.precision=fp8", "training.precision"),
        ("training.max_steps=0", "training.max_steps"),
        ("training.lr_scheduler_type=zigzag", "training.lr_scheduler_type"),
        ("data.offline_source=wikipedia", "data.offline_source"),
        ("data.streaming=maybe", "data.streaming"),
        ("learning_rate=-1", "learning_rate"),
    ],
)
def test_a_bad_override_value_is_a_config_error_naming_the_key(override, named):
    with pytest.raises(ConfigError, match=named):
        load_recipe(RECIPES / "tiny.yaml", [override])


@pytest.mark.parametrize("text", ["max_steps", "=3", "training.max_steps=[1"])
def test_a_malformed_override_is_a_config_error(text):
    with pytest.raises(ConfigError):
        parse_override(text)


def test_parse_override_reads_yaml_values():
    assert parse_override("training.max_steps=6") == ("training.max_steps", 6)
    assert parse_override("learning_rate=0.5") == ("learning_rate", 0.5)
    assert parse_override("data.tokenizer_name=null") == ("data.tokenizer_name", None)
    assert parse_override("notes=a=b") == ("notes", "a=b")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"trainig": {}}, "did you mean 'training'"),
        ({"training": {"warmup": 3}}, "unknown training key 'warmup'"),
        ({"data": {"dataset": "x"}}, "unknown data key 'dataset'"),
        ({"training": [1, 2]}, "must be a mapping"),
        ({"data": {"dataset_name": None, "offline_source": None}}, "dataset_name or an offline"),
        ({"d_model": 100, "num_heads": 3}, "divisible"),
    ],
)
def test_recipe_mappings_are_validated(mapping, message):
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(mapping, source="test.yaml")


def test_offline_needs_an_offline_source():
    with pytest.raises(ConfigError, match="offline_source"):
        recipe_from_dict({"data": {"dataset_name": "x/y", "offline_source": None}}, offline=True)


def test_a_malformed_recipe_file_is_a_config_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training: [\n")
    with pytest.raises(ConfigError, match="malformed"):
        load_recipe(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_recipe(tmp_path / "missing.yaml")


def test_unset_steps_follow_the_config():
    recipe = recipe_from_dict({"num_iterations": 30, "log_every_steps": 3})
    assert recipe.training.max_steps == 30
    assert recipe.training.logging_steps == 3
    assert recipe.training.eval_steps == 3
    assert recipe.training.save_steps == 30


def test_the_accelerate_configs():
    single = yaml.safe_load((RECIPES / "accelerate" / "single_gpu.yaml").read_text())
    multi = yaml.safe_load((RECIPES / "accelerate" / "multi_gpu.yaml").read_text())
    assert single["num_processes"] == 1 and single["distributed_type"] == "NO"
    assert multi["distributed_type"] == "MULTI_GPU" and multi["num_processes"] == 2
    assert single["mixed_precision"] == multi["mixed_precision"] == "no"


# ------------------------------------------------------------------ the Hub
def test_hub_dataset_unreachable_is_one_line_error():
    recipe = load_recipe(RECIPES / "tiny.yaml")
    with pytest.raises(HubUnreachable) as caught:
        load_texts(recipe)
    message = str(caught.value)
    assert "\n" not in message
    assert "could not reach the Hugging Face Hub" in message
    assert "roneneldan/TinyStories" in message and "--offline" in message
    assert isinstance(caught.value, RuntimeError)


def test_hub_tokenizer_unreachable_is_one_line_error():
    recipe = load_recipe(RECIPES / "tinystories_17m.yaml")
    with pytest.raises(HubUnreachable, match="tokenizer 'gpt2'") as caught:
        build_tokenizer(recipe, None)
    assert "\n" not in str(caught.value)


def test_hub_errors_are_told_apart_from_other_errors():
    assert is_hub_error(ConnectionError("down"))
    assert is_hub_error(OSError("We couldn't connect to 'https://huggingface.co'"))
    assert not is_hub_error(ValueError("bad column"))
    assert not is_hub_error(FileNotFoundError("no such file"))
    try:
        try:
            raise ConnectionError("down")
        except ConnectionError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_hub_error(outer)


# ------------------------------------------------------------------ builders
def test_offline_tokenizer_is_trained_once_and_cached():
    recipe = load_recipe(RECIPES / "tiny.yaml", SMALL, offline=True)
    train, _ = load_texts(recipe)
    tokenizer = build_tokenizer(recipe, train)
    assert len(tokenizer) <= recipe.config.vocab_size
    assert tokenizer.eos_token == "<|endoftext|>"
    assert (tokenizer_cache_dir(recipe) / "tokenizer.json").is_file()
    text = "Once upon a time, there was a little cat named Lily."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    cached = build_tokenizer(recipe, None)
    assert cached(text)["input_ids"] == tokenizer(text)["input_ids"]


def test_a_vocab_smaller_than_the_tokenizer_is_a_config_error():
    recipe = load_recipe(RECIPES / "tiny.yaml", [*SMALL, "vocab_size=200"], offline=True)
    train, _ = load_texts(recipe)
    with pytest.raises(ConfigError, match="vocab_size"):
        build_tokenizer(recipe, train)


def test_offline_datasets_are_packed_blocks():
    recipe = load_recipe(RECIPES / "tiny.yaml", SMALL, offline=True)
    train_texts, validation_texts = load_texts(recipe)
    assert len(train_texts) == 300 and len(validation_texts) == 40
    assert not set(train_texts["text"]) & set(validation_texts["text"])
    tokenizer = build_tokenizer(recipe, train_texts)
    train, validation = build_datasets(recipe, tokenizer, train_texts, validation_texts)
    assert len(validation) == 2 * 4
    assert len(train) > 50
    for block in (train[0], validation[-1]):
        assert len(block["input_ids"]) == 32
        assert block["labels"] == block["input_ids"]
        assert block["attention_mask"] == [1] * 32
    assert any(tokenizer.eos_token_id in block for block in train[:10]["input_ids"])


def test_pack_joins_documents_with_eos_and_drops_the_remainder():
    import datasets

    class Tokenizer:
        eos_token_id = 0

        def __call__(self, texts, add_special_tokens=False):
            return {"input_ids": [[len(text)] * len(text) for text in texts]}

    texts = datasets.Dataset.from_dict({"text": ["abc", "de", "fghi", "j"]})
    blocks = pack(texts, Tokenizer(), 4, "text", None)
    assert list(blocks["input_ids"]) == [[3, 3, 3, 0], [2, 2, 0, 4], [4, 4, 4, 0]]


def test_training_arguments_on_the_cpu(caplog):
    recipe = load_recipe(
        RECIPES / "tiny.yaml", ["training.precision=bf16", "experiment_name=my run"]
    )
    args = build_training_arguments(recipe)
    assert args.report_to in ([], "none", ["none"])
    assert args.use_cpu and not args.bf16 and not args.fp16
    assert "needs a CUDA GPU" in caplog.text
    assert Path(args.output_dir) == Path("experiments") / "checkpoints" / "my run"
    assert args.run_name == "my run"
    assert args.max_steps == 200 and args.eval_steps == 50 and args.save_steps == 100
    assert args.per_device_train_batch_size == recipe.config.batch_size
    assert args.learning_rate == recipe.config.learning_rate
    assert str(args.lr_scheduler_type.value) == "cosine"


def test_a_run_name_is_chosen_when_the_recipe_has_none():
    recipe = load_recipe(RECIPES / "tiny.yaml")
    args = build_training_arguments(recipe)
    assert recipe.config.experiment_name.startswith("1M_tinystories_baseline_")
    assert args.run_name == recipe.config.experiment_name


def test_a_recipe_without_a_hub_dataset_is_offline():
    assert recipe_from_dict({"data": {"dataset_name": None}}).offline
    assert not recipe_from_dict({"data": {"dataset_name": "x/y"}}).offline
