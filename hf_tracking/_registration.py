"""Makes ``report_to="hf_tracking"`` (Trainer) and ``log_with="hf_tracking"`` (accelerate) known
without importing transformers or accelerate early, and wraps the ``Accelerator`` methods every
process of an accelerate loop needs (:mod:`hf_tracking.trainer.accelerate_hooks`).

The Trainer looks report_to names up in ``INTEGRATION_TO_CALLBACK``, defined in
``transformers.integrations.integration_utils`` (an import of several seconds, as it pulls in
torch); ``Accelerator`` looks log_with names up in ``accelerate.tracking.LOGGER_TYPE_TO_CLASS``,
filled through accelerate's ``register_tracker_class``. A module already imported gets its entry at
once; for one not imported yet, the import hook of :mod:`hf_tracking_startup` adds it right after
the module is first executed (the same hook the start-up ``.pth`` file installs).
"""

from __future__ import annotations

import sys
from types import ModuleType

import hf_tracking_startup

REPORT_TO_NAME = "hf_tracking"


def _add_trainer_entry(module: ModuleType) -> None:
    from hf_tracking.trainer.callback import TrackingCallback

    module.INTEGRATION_TO_CALLBACK.setdefault(REPORT_TO_NAME, TrackingCallback)


def _add_accelerate_entry(module: ModuleType) -> None:
    # accelerate before 1.15 has no register_tracker_class and accepts no third-party name;
    # there an AccelerateTracker instance in log_with still works.
    if REPORT_TO_NAME in module.LOGGER_TYPE_TO_CLASS or not hasattr(
        module, "register_tracker_class"
    ):
        return
    from hf_tracking.trainer.accelerate_tracker import AccelerateTracker

    module.register_tracker_class(AccelerateTracker)


def _wrap_accelerator(module: ModuleType) -> None:
    from hf_tracking.trainer.accelerate_hooks import install

    install(module.Accelerator)


_ADDERS = {
    hf_tracking_startup.TRANSFORMERS_MODULE: _add_trainer_entry,
    hf_tracking_startup.ACCELERATE_MODULE: _add_accelerate_entry,
    hf_tracking_startup.ACCELERATOR_MODULE: _wrap_accelerator,
}


def register_loaded(name: str, module: ModuleType) -> None:
    """Add hf_tracking's entry to the just-imported module ``name``."""
    _ADDERS[name](module)


def register_report_to() -> None:
    """Register with whichever of transformers and accelerate is imported, watch for the rest."""
    for name in hf_tracking_startup.WATCHED_MODULES:
        module = sys.modules.get(name)
        # A module still executing (this import came from inside it, through another watched
        # module) gets its entry from the hook on its loader when it is done.
        if module is not None and not getattr(module.__spec__, "_initializing", False):
            register_loaded(name, module)
    hf_tracking_startup.install()
