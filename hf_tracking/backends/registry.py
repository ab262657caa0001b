"""Backends by name: the built-in ones are imported only when a run chooses them.

``register_backend(cls)`` adds a class under its ``name``; a config's ``backends`` list (or
``HF_TRACKING_BACKENDS=local,wandb,tensorboard``) picks them. The local run store is the source of
truth, so every run has it even when the list leaves it out.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from hf_tracking.backends.base import Backend
from hf_tracking.errors import ConfigError

BACKENDS_ENVIRONMENT = "HF_TRACKING_BACKENDS"
DEFAULT_BACKENDS = ("local", "wandb")
LOCAL = "local"
# name → "module:class" of the backends that ship with the package (their extras are optional).
_BUILT_IN = {
    "local": "hf_tracking.backends.local:LocalRunStore",
    "wandb": "hf_tracking.backends.wandb:WandbBackend",
    "tensorboard": "hf_tracking.backends.tensorboard:TensorBoardBackend",
    "mlflow": "hf_tracking.backends.mlflow:MlflowBackend",
    "trackio": "hf_tracking.backends.trackio:TrackioBackend",
}
_registered: dict[str, type[Backend]] = {}


def register_backend(backend_class: type[Backend]) -> type[Backend]:
    """Make ``backend_class`` available by its ``name``; usable as a class decorator."""
    if not (isinstance(backend_class, type) and issubclass(backend_class, Backend)):
        raise TypeError(
            f"hf_tracking: register_backend takes a Backend subclass, got {backend_class!r}"
        )
    name = getattr(backend_class, "name", "")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("hf_tracking: a backend class to register must set a non-empty `name`")
    _registered[name] = backend_class
    return backend_class


def known_backends() -> list[str]:
    return sorted({*_BUILT_IN, *_registered})


def backend_class(name: str) -> type[Backend]:
    """The class registered (or built in) under ``name``; a ConfigError for an unknown name."""
    if name in _registered:
        return _registered[name]
    if name not in _BUILT_IN:
        raise ConfigError(f"backends names an unknown backend {name!r}; known: {known_backends()}")
    module_name, class_name = _BUILT_IN[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def backend_names(configured: list[str] | None) -> list[str]:
    """The names a run uses: the environment's list, else the config's, else the default; the
    local store first, always."""
    environment = os.environ.get(BACKENDS_ENVIRONMENT, "").strip()
    if environment:
        names = [part.strip() for part in environment.split(",") if part.strip()]
    else:
        names = list(configured) if configured else list(DEFAULT_BACKENDS)
    return list(dict.fromkeys([LOCAL, *names]))


def build_backends(config: Any) -> list[Backend]:
    """Instances of the backends a config chooses, leaving out those it disables."""
    classes = [backend_class(name) for name in backend_names(config.backends)]
    backends = [cls.from_config(config) for cls in classes]
    return [backend for backend in backends if backend is not None]
