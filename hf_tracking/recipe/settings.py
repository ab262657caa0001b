"""Recipe settings: the ``training:`` and ``data:`` sections, loading a recipe and ``--set``
overrides. See :mod:`hf_tracking.recipe` for the format."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import typing
from collections.abc import Mapping, Sequence
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
    """``"training.max_steps=6"`` → ``("training.max_steps", 6)``; the value is read as YAML,
    under the limits of a config file."""
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
