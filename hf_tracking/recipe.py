"""Recipes: one YAML file → an ExperimentConfig, a training plan and a data plan, and the builders
that turn them into a tokenizer, datasets, a GPT-2 model, TrainingArguments and a Trainer.

A recipe holds the :class:`ExperimentConfig` fields at top level, a ``training:`` section
(:class:`TrainingSettings`) and a ``data:`` section (:class:`DataSettings`). Unknown keys anywhere
raise :class:`ConfigError` with the closest known key. ``--set key=value`` overrides a config
field (``learning_rate=1e-3``) or a section key (``training.max_steps=6``, ``data.streaming=true``);
values are read as YAML.

The training plan and the config are made to agree when the recipe is loaded: ``max_steps``
(default ``num_iterations``), ``logging_steps`` (default ``log_every_steps``), ``eval_steps`` and
``save_steps`` are written back into the config, so the run's stored config says what ran.

Files, under the config's ``output_dir`` (default ``experiments``):

| path | what |
| --- | --- |
| ``{output_dir}/{experiment_name}/``, ``{experiment_name}_summary.json`` | the run (tracker) |
| ``{output_dir}/checkpoints/{experiment_name}/`` | the Trainer's ``output_dir``: checkpoints |
| ``{output_dir}/tokenizers/{key}/`` | locally trained tokenizers, reused by later runs |

When ``experiment_name`` is not set it is ``config.default_name()`` (size, dataset, type and a
time stamp), chosen once by the main process and shared with the others.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import logging
import os
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hf_tracking.config import ExperimentConfig, _coerce, read_mapping
from hf_tracking.config_files import parse_yaml_value
from hf_tracking.errors import ConfigError

logger = logging.getLogger("hf_tracking")
SECTIONS = ("training", "data")
PRECISIONS = ("fp32", "bf16", "fp16")
OFFLINE_SOURCES = ("stories",)
END_OF_TEXT = "<|endoftext|>"


class HubUnreachable(RuntimeError):
    """The Hugging Face Hub could not be reached for a dataset or a tokenizer."""


@dataclasses.dataclass
class TrainingSettings:
    """The ``training:`` section. Steps left out follow the config (see the module docstring)."""

    max_steps: int | None = None
    warmup_steps: int = 0
    lr_scheduler_type: str = "cosine"
    weight_decay: float = 0.1
    max_grad_norm: float = 1.0
    eval_steps: int | None = None
    save_steps: int | None = None
    save_total_limit: int | None = 2
    logging_steps: int | None = None
    eval_batches: int = 20
    precision: str = "fp32"
    seed: int = 42
    dropout: float = 0.0
    dataloader_num_workers: int = 0

    def check(self, source: str | None) -> None:
        for name in ("max_steps", "eval_steps", "save_steps", "logging_steps", "eval_batches"):
            _at_least(self, name, 1, source)
        _at_least(self, "save_total_limit", 1, source)
        for name in ("warmup_steps", "weight_decay", "dataloader_num_workers"):
            _at_least(self, name, 0, source)
        if not self.max_grad_norm > 0:
            raise _bad("training", "max_grad_norm", self.max_grad_norm, "must be > 0", source)
        if not 0 <= self.dropout < 1:
            raise _bad("training", "dropout", self.dropout, "must be in [0, 1)", source)
        if self.precision not in PRECISIONS:
            raise _bad(
                "training", "precision", self.precision, f"must be one of {PRECISIONS}", source
            )
        from transformers.trainer_utils import SchedulerType

        schedulers = tuple(item.value for item in SchedulerType)
        if self.lr_scheduler_type not in schedulers:
            raise _bad(
                "training",
                "lr_scheduler_type",
                self.lr_scheduler_type,
                f"must be one of {schedulers}",
                source,
            )


@dataclasses.dataclass
class DataSettings:
    """The ``data:`` section: a Hub dataset and tokenizer, and the offline stand-in.

    ``tokenizer_name`` None trains a byte-level BPE of the config's ``vocab_size`` on the first
    ``tokenizer_train_documents`` training texts. ``validation_split`` None holds out the first
    ``validation_documents`` documents of ``split``. ``offline_source`` names the corpus used with
    ``--offline`` (``stories``: :mod:`hf_tracking.corpus`), always with a locally trained tokenizer.
    """

    dataset_name: str | None = None
    dataset_config: str | None = None
    split: str = "train"
    validation_split: str | None = "validation"
    validation_documents: int = 1000
    text_column: str = "text"
    tokenizer_name: str | None = None
    tokenizer_train_documents: int = 20000
    streaming: bool = False
    shuffle_buffer: int = 10000
    max_train_documents: int | None = None
    num_proc: int | None = None
    offline_source: str | None = "stories"
    offline_train_documents: int = 4000
    offline_validation_documents: int = 400
    offline_seed: int = 0

    def check(self, source: str | None) -> None:
        if self.dataset_name is None and self.offline_source is None:
            raise ConfigError(
                "data needs a dataset_name or an offline_source, got neither" + _where(source)
            )
        if self.offline_source is not None and self.offline_source not in OFFLINE_SOURCES:
            raise _bad(
                "data",
                "offline_source",
                self.offline_source,
                f"must be one of {OFFLINE_SOURCES}",
                source,
            )
        counts = ("validation_documents", "tokenizer_train_documents", "shuffle_buffer")
        counts += ("max_train_documents", "num_proc")
        counts += ("offline_train_documents", "offline_validation_documents")
        for name in counts:
            _at_least(self, name, 1, source)


@dataclasses.dataclass
class Recipe:
    """A loaded recipe. ``offline`` picks ``data.offline_source`` over the Hub (always so when
    the recipe names no ``dataset_name``)."""

    config: ExperimentConfig
    training: TrainingSettings
    data: DataSettings
    name: str = "recipe"
    offline: bool = False

    def data_description(self) -> str:
        if self.offline:
            return (
                f"offline {self.data.offline_source} corpus ({self.data.offline_train_documents} "
                f"training, {self.data.offline_validation_documents} validation texts)"
            )
        parts = [self.data.dataset_name or "?"]
        if self.data.dataset_config:
            parts.append(self.data.dataset_config)
        mode = "streaming" if self.data.streaming else "downloaded"
        return f"Hub dataset {'/'.join(parts)} ({mode})"


# ===================================================================== loading
def load_recipe(
    path: str | os.PathLike,
    overrides: Sequence[str] = (),
    offline: bool = False,
    output_dir: str | None = None,
) -> Recipe:
    """Read a recipe file, apply ``--set`` overrides and validate it all (ConfigError on error)."""
    data = read_mapping(path)
    for key, value in (parse_override(text) for text in overrides):
        _set(data, key, value)
    if output_dir is not None:
        data["output_dir"] = output_dir
    source = str(path) + (" with --set overrides" if overrides else "")
    return recipe_from_dict(data, source=source, name=Path(path).stem, offline=offline)


def recipe_from_dict(
    data: Mapping[str, Any], source: str | None = None, name: str = "recipe", offline: bool = False
) -> Recipe:
    """Validate a recipe mapping and make its training plan and config agree."""
    fields = dict(data)
    known = {field.name for field in dataclasses.fields(ExperimentConfig)} | set(SECTIONS)
    for key in fields:
        _check_key(None, key, known, source)
    training = _settings(TrainingSettings, "training", fields.pop("training", None), source)
    data_settings = _settings(DataSettings, "data", fields.pop("data", None), source)
    config = ExperimentConfig.from_dict(fields, source=source)
    if offline and data_settings.offline_source is None:
        raise ConfigError(
            "--offline needs data.offline_source (e.g. stories) in the recipe" + _where(source)
        )
    offline = offline or data_settings.dataset_name is None
    training.max_steps = training.max_steps or config.num_iterations
    training.logging_steps = training.logging_steps or config.log_every_steps
    training.eval_steps = (
        training.eval_steps or config.eval_every_steps or max(1, training.max_steps // 10)
    )
    training.save_steps = training.save_steps or config.save_every_steps or training.max_steps
    config.num_iterations = training.max_steps
    config.log_every_steps = training.logging_steps
    config.eval_every_steps = training.eval_steps
    config.save_every_steps = training.save_steps
    if offline:
        config.tags = list(dict.fromkeys([*config.tags, f"offline-{data_settings.offline_source}"]))
    return Recipe(config, training, data_settings, name=name, offline=offline)


def parse_override(text: str) -> tuple[str, Any]:
    """``"training.max_steps=6"`` → ``("training.max_steps", 6)``; the value is read as YAML."""
    key, separator, raw = str(text).partition("=")
    key = key.strip()
    if not separator or not key:
        raise ConfigError(f"--set needs key=value, got {text!r}")
    value = parse_yaml_value(raw, f"--set {key}") if raw.strip() else None
    return key, value


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    section, dot, field = key.partition(".")
    if not dot:
        known = {item.name for item in dataclasses.fields(ExperimentConfig)}
        _check_key(None, key, known, "--set")
        data[key] = value
        return
    if section not in SECTIONS:
        close = difflib.get_close_matches(section, SECTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown recipe section {section!r} in --set {key}{hint}")
    cls = TrainingSettings if section == "training" else DataSettings
    _check_key(section, field, {item.name for item in dataclasses.fields(cls)}, "--set")
    block = data.get(section)
    data[section] = {**(block if isinstance(block, dict) else {}), field: value}


def _settings(cls: type, section: str, values: Any, source: str | None) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"recipe section {section!r} must be a mapping, got {type(values).__name__}"
            + _where(source)
        )
    known = {field.name for field in dataclasses.fields(cls)}
    for key in values:
        _check_key(section, key, known, source)
    hints = typing.get_type_hints(cls)
    settings = cls()
    for name, value in values.items():
        setattr(settings, name, _coerce(f"{section}.{name}", value, hints[name], source))
    settings.check(source)
    return settings


def _check_key(section: str | None, key: Any, known: set[str], source: str | None) -> None:
    if isinstance(key, str) and key in known:
        return
    close = difflib.get_close_matches(str(key), sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = f"{section} key" if section else "recipe key"
    raise ConfigError(f"unknown {where} {key!r}{hint}" + _where(source))


def _at_least(settings: Any, name: str, minimum: float, source: str | None) -> None:
    value = getattr(settings, name)
    if value is not None and value < minimum:
        section = "training" if isinstance(settings, TrainingSettings) else "data"
        raise _bad(section, name, value, f"must be >= {minimum}", source)


def _bad(section: str, name: str, value: Any, problem: str, source: str | None) -> ConfigError:
    return ConfigError(f"{section}.{name} {problem}, got {value!r}" + _where(source))


def _where(source: str | None) -> str:
    return f" (in {source})" if source else ""


# ===================================================================== the Hub
def is_hub_error(error: BaseException | None) -> bool:
    """True for the errors datasets and transformers raise when the Hub cannot be reached."""
    from huggingface_hub import errors

    unreachable = (ConnectionError, TimeoutError, errors.OfflineModeIsEnabled)
    unreachable += (errors.LocalEntryNotFoundError,)
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    for seen in chain:
        text = str(seen).lower()
        if isinstance(seen, unreachable) or (
            isinstance(seen, OSError) and ("couldn't connect" in text or "offline mode" in text)
        ):
            return True
    return False


def _hub_call(what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except Exception as error:
        if is_hub_error(error):
            raise HubUnreachable(
                f"could not reach the Hugging Face Hub to load {what} ({type(error).__name__}); "
                "run with --offline to train on the built-in offline corpus"
            ) from None
        raise


# ===================================================================== data
def load_texts(recipe: Recipe) -> tuple[Any, Any]:
    """(training texts, validation texts) as ``datasets`` datasets with a text column."""
    import datasets

    data = recipe.data
    if recipe.offline:
        from hf_tracking.corpus import story_corpus

        corpus = story_corpus(
            data.offline_train_documents, data.offline_validation_documents, data.offline_seed
        )
        train = datasets.Dataset.from_dict({data.text_column: corpus.train})
        return train, datasets.Dataset.from_dict({data.text_column: corpus.validation})

    def load(split: str) -> Any:
        return _hub_call(
            f"dataset {data.dataset_name!r}",
            datasets.load_dataset,
            data.dataset_name,
            data.dataset_config,
            split=split,
            streaming=data.streaming,
        )

    train = load(data.split)
    if data.validation_split:
        validation = load(data.validation_split)
    else:
        validation = _take(train, data.validation_documents)
        train = _skip(train, data.validation_documents)
    if data.max_train_documents:
        train = _take(train, data.max_train_documents)
    return train, validation


def build_tokenizer(recipe: Recipe, train_texts: Any) -> Any:
    """The Hub tokenizer ``data.tokenizer_name``, or a byte-level BPE trained here (always with
    ``--offline``), cached under ``{output_dir}/tokenizers/``."""
    data = recipe.data
    if data.tokenizer_name and not recipe.offline:
        from transformers import AutoTokenizer

        tokenizer = _hub_call(
            f"tokenizer {data.tokenizer_name!r}", AutoTokenizer.from_pretrained, data.tokenizer_name
        )
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    else:
        tokenizer = _local_tokenizer(recipe, train_texts)
    if len(tokenizer) > recipe.config.vocab_size:
        raise ConfigError(
            f"vocab_size must be >= the tokenizer's {len(tokenizer)} tokens, "
            f"got {recipe.config.vocab_size}"
        )
    return tokenizer


def tokenizer_cache_dir(recipe: Recipe) -> Path:
    """Where the locally trained tokenizer of this recipe's data and vocab_size is kept."""
    data = recipe.data
    if recipe.offline:
        origin = [data.offline_source, data.offline_train_documents, data.offline_seed]
    else:
        origin = [data.dataset_name, data.dataset_config, data.split, data.validation_split]
        origin += [data.validation_documents, data.tokenizer_train_documents]
    origin.append(recipe.config.vocab_size)
    digest = hashlib.sha256(repr(origin).encode()).hexdigest()[:10]
    label = data.offline_source if recipe.offline else str(data.dataset_name).split("/")[-1]
    name = f"{label}-bpe{recipe.config.vocab_size}-{digest}"
    return Path(recipe.config.output_dir) / "tokenizers" / name


def _local_tokenizer(recipe: Recipe, train_texts: Any) -> Any:
    from transformers import PreTrainedTokenizerFast

    cache = tokenizer_cache_dir(recipe)
    if (cache / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(cache))
    column = recipe.data.text_column
    documents = _take(train_texts, recipe.data.tokenizer_train_documents)
    texts = (row[column] for row in documents)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(texts, recipe.config.vocab_size),
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
    )
    tokenizer.save_pretrained(str(cache))
    return tokenizer


def train_bpe(texts: Iterable[str], vocab_size: int) -> Any:
    """A GPT-2-style byte-level BPE with ``<|endoftext|>``, trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def pack(texts: Any, tokenizer: Any, seq_length: int, column: str, num_proc: int | None) -> Any:
    """Tokenize, join documents with EOS and cut into ``seq_length`` blocks (remainder of each
    batch of 1000 documents dropped); every position is a real, loss-bearing token."""
    eos = tokenizer.eos_token_id

    def blocks(batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        ids: list[int] = []
        for row in tokenizer(batch[column], add_special_tokens=False)["input_ids"]:
            ids.extend(row)
            ids.append(eos)
        usable = len(ids) // seq_length * seq_length
        chunks = [ids[start : start + seq_length] for start in range(0, usable, seq_length)]
        return {
            "input_ids": chunks,
            "attention_mask": [[1] * seq_length for _ in chunks],
            "labels": [list(chunk) for chunk in chunks],
        }

    import datasets

    texts = texts.select_columns([column])
    options: dict[str, Any] = {"batched": True, "remove_columns": [column]}
    if isinstance(texts, datasets.Dataset):
        options.update(num_proc=num_proc, desc="Tokenizing and packing")
    return texts.map(blocks, **options)


def build_datasets(
    recipe: Recipe, tokenizer: Any, train_texts: Any, validation_texts: Any
) -> tuple[Any, Any]:
    """(training blocks, validation blocks); validation is cut to ``eval_batches`` batches."""
    config, data = recipe.config, recipe.data
    train = pack(train_texts, tokenizer, config.seq_length, data.text_column, data.num_proc)
    validation = pack(
        validation_texts, tokenizer, config.seq_length, data.text_column, data.num_proc
    )
    validation = _take(validation, recipe.training.eval_batches * config.batch_size)
    if data.streaming and not recipe.offline:
        train = train.shuffle(seed=recipe.training.seed, buffer_size=data.shuffle_buffer)
    elif len(train) == 0 or len(validation) == 0:
        raise ConfigError(
            f"the data gives no block of seq_length {config.seq_length} tokens "
            f"({len(train)} training, {len(validation)} validation blocks); use more documents "
            "or a shorter seq_length"
        )
    return train, validation


def _take(dataset: Any, count: int) -> Any:
    if hasattr(dataset, "__len__"):
        return dataset.select(range(min(count, len(dataset))))
    return dataset.take(count)


def _skip(dataset: Any, count: int) -> Any:
    if hasattr(dataset, "__len__"):
        return dataset.select(range(min(count, len(dataset)), len(dataset)))
    return dataset.skip(count)


# ===================================================================== model, arguments, Trainer
def gpt2_config(
    config: ExperimentConfig, dropout: float = 0.0, eos_token_id: int | None = None
) -> Any:
    """The ``GPT2Config`` of the experiment's sizes: ``n_positions = seq_length``,
    ``n_inner = d_ff``, tied embeddings as configured; EOS also serves as BOS and padding."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.seq_length,
        n_embd=config.d_model,
        n_layer=config.num_layers,
        n_head=config.num_heads,
        n_inner=config.d_ff,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        tie_word_embeddings=config.tie_word_embeddings,
    )


def build_model(recipe: Recipe, tokenizer: Any) -> Any:
    """A freshly initialised ``GPT2LMHeadModel`` (seeded with ``training.seed``)."""
    from transformers import GPT2LMHeadModel, set_seed

    set_seed(recipe.training.seed)
    return GPT2LMHeadModel(
        gpt2_config(recipe.config, recipe.training.dropout, tokenizer.eos_token_id)
    )


def resolve_experiment_name(recipe: Recipe) -> str:
    """The config's name, or ``default_name()`` chosen on the main process and shared."""
    if not recipe.config.experiment_name:
        from accelerate import PartialState
        from accelerate.utils import broadcast_object_list

        PartialState()
        recipe.config.experiment_name = broadcast_object_list([recipe.config.default_name()])[0]
    return recipe.config.experiment_name


def precision_flags(precision: str) -> dict[str, bool]:
    """``bf16``/``fp16`` TrainingArguments flags; set only where CUDA supports them."""
    import torch

    cuda = torch.cuda.is_available()
    flags = {
        "bf16": precision == "bf16"
        and cuda
        and torch.cuda.is_bf16_supported(including_emulation=False),
        "fp16": precision == "fp16" and cuda,
    }
    if precision != "fp32" and not any(flags.values()):
        logger.warning(
            "hf_tracking: precision %s needs a CUDA GPU that has it; using fp32", precision
        )
    return flags


def build_training_arguments(recipe: Recipe) -> Any:
    """TrainingArguments from the training section; ``report_to="none"`` because the Trainer
    gets ``TrackingCallback(config)`` directly (see :func:`build_trainer`)."""
    import torch
    from transformers import TrainingArguments

    config, training = recipe.config, recipe.training
    name = resolve_experiment_name(recipe)
    return TrainingArguments(
        output_dir=str(Path(config.output_dir) / "checkpoints" / name),
        run_name=name,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        max_steps=training.max_steps,
        warmup_steps=training.warmup_steps,
        lr_scheduler_type=training.lr_scheduler_type,
        weight_decay=training.weight_decay,
        max_grad_norm=training.max_grad_norm,
        logging_steps=training.logging_steps,
        logging_first_step=True,
        eval_strategy="steps",
        eval_steps=training.eval_steps,
        save_strategy="steps",
        save_steps=training.save_steps,
        save_total_limit=training.save_total_limit,
        seed=training.seed,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=training.dataloader_num_workers,
        ddp_find_unused_parameters=False,
        report_to="none",
        **precision_flags(training.precision),
    )


def build_trainer(recipe: Recipe) -> tuple[Any, Any]:
    """(Trainer, TrackingCallback) ready to ``train()``.

    The callback is passed with the recipe's config instead of ``report_to="hf_tracking"``, which
    would build a second, config-less TrackingCallback. Data and tokenizer are prepared by the
    main process first (the others then read its caches).
    """
    from transformers import Trainer, default_data_collator

    from hf_tracking.callback import TrackingCallback

    args = build_training_arguments(recipe)
    with args.main_process_first(desc="tokenizer and data"):
        train_texts, validation_texts = load_texts(recipe)
        tokenizer = build_tokenizer(recipe, train_texts)
        train, validation = build_datasets(recipe, tokenizer, train_texts, validation_texts)
    callback = TrackingCallback(recipe.config)
    trainer = Trainer(
        model=build_model(recipe, tokenizer),
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        processing_class=tokenizer,
        data_collator=default_data_collator,
        callbacks=[callback],
    )
    return trainer, callback
