"""Makes ``report_to="hf_tracking"`` known to the Trainer without importing transformers early.

The Trainer looks report_to names up in ``INTEGRATION_TO_CALLBACK``, defined in
``transformers.integrations.integration_utils`` (an import of several seconds, as it pulls in
torch). When that module is already imported the entry is added at once; otherwise a one-shot
import hook adds it right after the module is first executed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

REPORT_TO_NAME = "hf_tracking"
TARGET_MODULE = "transformers.integrations.integration_utils"


def _add_entry(module: ModuleType) -> None:
    from hf_tracking.trainer.callback import TrackingCallback

    module.INTEGRATION_TO_CALLBACK.setdefault(REPORT_TO_NAME, TrackingCallback)


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _add_entry(module)


class _RegisteringFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader)
        return spec


def register_report_to() -> None:
    module = sys.modules.get(TARGET_MODULE)
    if module is not None:
        _add_entry(module)
    elif not any(isinstance(finder, _RegisteringFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisteringFinder())
