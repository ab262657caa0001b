"""Where records go. Each backend is one small class implementing :class:`Backend`."""

from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.local import LocalRunStore
from hf_tracking.backends.registry import backend_class, known_backends, register_backend
from hf_tracking.backends.wandb import WandbBackend

__all__ = [
    "Backend",
    "LocalRunStore",
    "Record",
    "RunInfo",
    "WandbBackend",
    "backend_class",
    "known_backends",
    "register_backend",
]
