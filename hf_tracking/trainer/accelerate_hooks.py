"""The ``Accelerator`` methods hf_tracking wraps, so that every process of an accelerate loop that
logs with hf_tracking takes part in the tracking (accelerate runs trackers on the main process
only; see :mod:`.accelerate_process`).

Installed once per process when ``accelerate.accelerator`` is first imported
(:mod:`hf_tracking._registration`). Each wrapper runs accelerate's own method unchanged; for an
``Accelerator`` whose ``log_with`` does not name hf_tracking it adds nothing else. Added, on every
process:

| method | added |
| --- | --- |
| ``prepare``, ``prepare_model`` | after it: the hooks on the first prepared model and optimizer |
| ``log`` | before it: the tokens of every process so far, for the tracker's rows |
| ``save_state`` | the same before it; after it, on the main process, the tracker's state beside the checkpoint and a checkpoint event with its path, duration and size |
| ``end_training`` | the same before it, then the hooks are removed |

A failure in what is added is reported once and never stops the training.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from hf_tracking.trainer.accelerate_process import ATTRIBUTE, AccelerateProcess

logger = logging.getLogger("hf_tracking")
NAME = "hf_tracking"
_failed: set[str] = set()


def install(accelerator_class: type) -> None:
    """Wrap the methods of ``accelerate.Accelerator`` (once)."""
    if accelerator_class.__dict__.get("_hf_tracking_wrapped"):
        return
    for name, wrap in (
        ("prepare", _after_prepare),
        ("prepare_model", _after_prepare),
        ("log", _before_log),
        ("save_state", _around_save),
        ("end_training", _before_end),
    ):
        setattr(accelerator_class, name, wrap(getattr(accelerator_class, name)))
    accelerator_class._hf_tracking_wrapped = True


def logs_with_hf_tracking(accelerator: Any) -> bool:
    return any(
        str(tracker) == NAME or getattr(tracker, "name", None) == NAME
        for tracker in getattr(accelerator, "log_with", None) or ()
    )


def _process(accelerator: Any, create: bool = False) -> AccelerateProcess | None:
    process = accelerator.__dict__.get(ATTRIBUTE)
    if process is None and create and logs_with_hf_tracking(accelerator):
        process = AccelerateProcess(accelerator)
        setattr(accelerator, ATTRIBUTE, process)
    return process


def _guarded(what: str, action: Callable[[], Any]) -> Any:
    """Run the added work; a failure is reported (once per method) and the training goes on."""
    try:
        return action()
    except Exception as error:
        if what not in _failed:
            _failed.add(what)
            logger.warning(
                "hf_tracking: tracking at accelerator.%s failed (%s: %s); training goes on",
                what,
                type(error).__name__,
                error,
                exc_info=True,
            )
        return None


def _after_prepare(method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        process = _guarded(method.__name__, lambda: _process(self, create=True))
        if process is not None:
            _guarded(method.__name__, lambda: process.attach(self))
        return result

    return wrapper


def _before_log(method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        process = _process(self)
        if process is not None:
            _guarded("log", lambda: process.event("log"))
        return method(self, *args, **kwargs)

    return wrapper


def _around_save(method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        process = _process(self)
        if process is None:
            return method(self, *args, **kwargs)
        _guarded("save_state", lambda: process.event("save"))
        started = time.perf_counter()
        location = method(self, *args, **kwargs)
        seconds = time.perf_counter() - started
        _guarded("save_state", lambda: process.state_saved(str(location), seconds))
        return location

    return wrapper


def _before_end(method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        process = _process(self)
        if process is not None:
            _guarded("end_training", lambda: process.event("end"))
        try:
            return method(self, *args, **kwargs)
        finally:
            if process is not None:
                process.detach()

    return wrapper
