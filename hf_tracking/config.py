"""ExperimentConfig: what a mini-LM experiment is, validated, named, saved and loaded."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import os
import re
import reprlib
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from hf_tracking.config_files import read_mapping
from hf_tracking.errors import ConfigError
from hf_tracking.health_config import health_problem
from hf_tracking.metrics.params import gpt2_parameter_breakdown, size_label_report

WANDB_MODES = ("auto", "online", "offline", "disabled")
WANDB_ATTACH = ("auto", "always", "never")
WANDB_OFFLINE = ("deferred", "live")
COMPUTE_DTYPES = ("bf16", "fp16", "fp32")
MAX_NAME_LENGTH = 120
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._+-]+")
# Integers above 2**53 are not exact as floats, and products of them (FLOPs) would overflow.
MAX_INT = 2**53
# Timeouts are passed to thread joins and waits, which refuse values past about 2.9e8 years.
MAX_TIMEOUT_SECONDS = 86400.0
_BOUNDED_REPR = reprlib.Repr()
_BOUNDED_REPR.maxlevel, _BOUNDED_REPR.maxstring, _BOUNDED_REPR.maxlong = 3, 80, 40


@dataclasses.dataclass
class ExperimentConfig:
    """One experiment: the model's shape, the optimisation plan and how to track it.

    Every field has a default, so ``ExperimentConfig(track_memory=False)`` is a valid config.
    Values are checked and coerced on construction (``learning_rate: 3e-4`` from YAML arrives as
    a string and becomes a float); anything wrong raises :class:`ConfigError`.
    """

    model_size: str = "17M"
    dataset: str = "tinystories"
    experiment_type: str = "baseline"
    vocab_size: int = 50257
    d_model: int = 512
    num_layers: int = 8
    num_heads: int = 8
    d_ff: int | None = None
    seq_length: int = 512
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    learning_rate: float = 3e-4
    num_iterations: int = 50000
    tie_word_embeddings: bool = True
    tags: list[str] = dataclasses.field(default_factory=list)
    project: str = "hf-tracking"
    entity: str | None = None
    experiment_name: str | None = None
    output_dir: str = "experiments"
    track_memory: bool = True
    log_every_steps: int = 10
    wandb_mode: str = "auto"
    wandb_diagnostics_seconds: float = 15.0
    wandb_attach: str = "auto"
    wandb_offline: str = "deferred"
    max_history: int = 10000
    notes: str = ""
    throughput_window: int = 100
    eval_every_steps: int | None = None
    save_every_steps: int | None = None
    peak_tflops: float | None = None
    compute_dtype: str | None = None
    causal_attention_flops: bool = False
    backend_queue_size: int = 10000
    backend_finish_timeout: float = 60.0
    writer_block_timeout: float = 5.0
    backends: list[str] = dataclasses.field(default_factory=lambda: ["local", "wandb"])
    sum_tokens_over_ranks: bool = True
    # Training health (hf_tracking.health_config: checks, defaults and their sources).
    health_checks: bool = True
    on_alert: str = "warn"
    spike_ratio: float = 2.0
    spike_window: int = 100
    spike_patience: int = 4
    zscore_sigmas: float = 6.0
    zscore_window: int = 128
    zscore_min_values: int = 64
    input_bound_pct: float = 20.0
    input_bound_rows: int = 10
    track_layers: bool = False
    track_layers_every: int | None = None

    def __post_init__(self) -> None:
        self._check()

    # ----------------------------------------------------------------- validation
    def _check(self, source: str | None = None) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            setattr(self, field.name, _coerce(field.name, value, hints[field.name], source))
        positive_ints = (
            "vocab_size",
            "d_model",
            "num_layers",
            "num_heads",
            "seq_length",
            "batch_size",
            "gradient_accumulation_steps",
            "num_iterations",
            "log_every_steps",
            "throughput_window",
            "d_ff",
            "eval_every_steps",
            "save_every_steps",
            "backend_queue_size",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise _error(name, value, "must be >= 1", source)
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
                raise _error(field.name, value, f"must be at most 2**53 ({MAX_INT})", source)
        for name in ("learning_rate", "peak_tflops", "backend_finish_timeout"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise _error(name, value, "must be a finite number > 0", source)
        for name in ("backend_finish_timeout", "writer_block_timeout"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_TIMEOUT_SECONDS:
                raise _error(
                    name, value, f"must be between 0 and {MAX_TIMEOUT_SECONDS:g} seconds", source
                )
        if self.d_model % self.num_heads:
            raise _error(
                "d_model",
                self.d_model,
                f"must be divisible by num_heads ({self.num_heads})",
                source,
            )
        if self.compute_dtype is not None and self.compute_dtype not in COMPUTE_DTYPES:
            raise _error(
                "compute_dtype", self.compute_dtype, f"must be one of {COMPUTE_DTYPES}", source
            )
        choices = (
            ("wandb_mode", WANDB_MODES),
            ("wandb_attach", WANDB_ATTACH),
            ("wandb_offline", WANDB_OFFLINE),
        )
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise _error(name, getattr(self, name), f"must be one of {allowed}", source)
        if not (
            self.wandb_diagnostics_seconds >= 0 and math.isfinite(self.wandb_diagnostics_seconds)
        ):
            raise _error(
                "wandb_diagnostics_seconds",
                self.wandb_diagnostics_seconds,
                "must be a finite number >= 0",
                source,
            )
        if self.max_history < 10:
            raise _error("max_history", self.max_history, "must be >= 10", source)
        for name in self.backends:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise _error("backends", self.backends, "must be a list of backend names", source)
        if not self.output_dir.strip() or "\x00" in self.output_dir:
            raise _error("output_dir", self.output_dir, "must be a usable directory path", source)
        problem = health_problem(self)
        if problem is not None:
            raise _error(*problem, source)

    # ----------------------------------------------------------------- naming
    @property
    def all_tags(self) -> list[str]:
        """Model size, dataset and experiment type, then the user's tags, without duplicates."""
        ordered = [self.model_size, self.dataset, self.experiment_type, *self.tags]
        return list(dict.fromkeys(tag for tag in ordered if tag))

    def default_name(self, when: datetime | None = None) -> str:
        """``{model_size}_{dataset}_{experiment_type}_{YYYYMMDD_HHMMSS}``, safe as a file name."""
        stamp = (when or datetime.now()).strftime("%Y%m%d_%H%M%S")
        return safe_name(f"{self.model_size}_{self.dataset}_{self.experiment_type}_{stamp}")

    # ----------------------------------------------------------------- files
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> ExperimentConfig:
        """Build a config from a mapping; unknown keys are errors with a suggestion."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"a config must be a mapping of field: value, got {type(data).__name__}"
                + _where(source)
            )
        _check_known_fields(data, source)
        config = cls.__new__(cls)
        for field in dataclasses.fields(cls):
            if field.name in data:
                value = data[field.name]
            elif field.default_factory is not dataclasses.MISSING:
                value = field.default_factory()
            else:
                value = field.default
            setattr(config, field.name, value)
        config._check(source)
        return config

    def save(self, path: str | os.PathLike) -> Path:
        """Write the config as YAML (``.yaml``/``.yml``) or JSON (``.json``), atomically."""
        from hf_tracking.jsonio import atomic_write_text, dump_yaml

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            text = dump_yaml(self.to_dict())
        elif suffix == ".json":
            text = json.dumps(self.to_dict(), indent=2) + "\n"
        else:
            raise ConfigError(f"config file must end in .yaml, .yml or .json, got {str(path)!r}")
        atomic_write_text(path, text)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ExperimentConfig:
        """Read a ``.yaml``/``.yml``/``.json`` config; any problem is a :class:`ConfigError`."""
        data = read_mapping(path)
        return cls.from_dict(data, source=str(path))

    # ----------------------------------------------------------------- model size
    def estimate_parameters(self) -> dict[str, int]:
        """Parameter breakdown of the GPT-2 decoder these sizes describe (see ``metrics.params``)."""
        return gpt2_parameter_breakdown(
            vocab_size=self.vocab_size,
            d_model=self.d_model,
            num_layers=self.num_layers,
            seq_length=self.seq_length,
            d_ff=self.d_ff,
            tie_word_embeddings=self.tie_word_embeddings,
        )

    def verify_model_size(self, model: Any = None) -> dict[str, Any]:
        """Compare the ``model_size`` label with the estimate and, when given, the real model.

        Returns the numbers and a plain-language ``message``; ``label_matches`` is False when the
        label is further than 25% from both the total and the non-embedding count.
        """
        actual = sum(p.numel() for p in model.parameters()) if model is not None else None
        return size_label_report(self.model_size, self.estimate_parameters(), actual)


def _checked_init(generated: Callable[..., None]) -> Callable[..., None]:
    """Unknown keyword arguments become a ConfigError with a suggestion, not a TypeError."""

    @functools.wraps(generated)
    def __init__(self: ExperimentConfig, /, *args: Any, **fields: Any) -> None:
        if args:
            raise ConfigError("ExperimentConfig takes keyword arguments only, e.g. d_model=512")
        _check_known_fields(fields, source=None)
        generated(self, **fields)

    return __init__


ExperimentConfig.__init__ = _checked_init(ExperimentConfig.__init__)  # type: ignore[method-assign]


# --------------------------------------------------------------------- helpers
def _check_known_fields(data: Mapping[Any, Any], source: str | None) -> None:
    known = {field.name for field in dataclasses.fields(ExperimentConfig)}
    for key in data:
        if not isinstance(key, str) or key not in known:
            shown = short_repr(key)
            close = difflib.get_close_matches(shown.strip("'"), sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown config field {shown}{hint}" + _where(source))


def safe_name(name: str) -> str:
    """A name usable as one path component: no separators, no ``..``, no control characters."""
    cleaned = _UNSAFE_NAME_CHARS.sub("_", str(name)).strip("._")
    return cleaned[:MAX_NAME_LENGTH] or "run"


def as_config(config: Any) -> ExperimentConfig:
    """An ExperimentConfig from a config, a mapping, a YAML/JSON path or None (the defaults)."""
    if config is None:
        return ExperimentConfig()
    if isinstance(config, ExperimentConfig):
        return config
    if isinstance(config, Mapping):
        return ExperimentConfig.from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return ExperimentConfig.load(config)
    raise ConfigError(
        f"config must be an ExperimentConfig, a mapping or a path, got {type(config).__name__}"
    )


def _where(source: str | None) -> str:
    return f" (in {source})" if source else ""


def _error(name: str, value: Any, problem: str, source: str | None) -> ConfigError:
    return ConfigError(f"{name} {problem}, got {short_repr(value)}" + _where(source))


def short_repr(value: Any) -> str:
    """A repr of bounded length and cost, for error messages about values of any size."""
    try:
        return _BOUNDED_REPR.repr(value)
    except ValueError:  # an int past Python's 4,300-digit conversion limit, maybe inside
        if isinstance(value, int):
            return f"an integer of {len(hex(value)) * 1.2:.0f} digits or so"
        return f"a {type(value).__name__} holding an integer too long to show"


def _coerce(name: str, value: Any, annotation: Any, source: str | None) -> Any:
    """Bring a value to the field's type, accepting the spellings YAML and CLIs produce."""
    optional = type(None) in typing.get_args(annotation)
    if optional:
        if value is None:
            return None
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        return _coerce_str_list(name, value, source)
    try:
        if annotation is bool:
            return _to_bool(value)
        if annotation is int:
            return _to_int(value)
        if annotation is float:
            return _to_float(value)
        if annotation is str:
            if isinstance(value, str):
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
            raise TypeError
    except (TypeError, ValueError, OverflowError):
        pass
    else:
        return value
    expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    raise _error(name, value, f"must be {expected[annotation]}", source)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise TypeError


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        number = float(value.strip().replace("_", ""))
        if number.is_integer():
            return int(number)
    raise TypeError


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise TypeError


def _coerce_str_list(name: str, value: Any, source: str | None) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value
    ):
        raise _error(name, value, "must be a list of strings", source)
    try:
        return [str(item) for item in value]
    except ValueError:  # an int too long to write
        raise _error(name, value, "must be a list of strings", source) from None
