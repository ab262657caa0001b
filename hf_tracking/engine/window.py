"""The training window: what the micro-batches since the last training record passed.

Losses are kept as given (floats or one-element tensors) and averaged with one device read when a
record is built; the learning rate and grad norm are the latest values. Token tensors on a device
are added up there (``add_`` is asynchronous) and read only when a record needs the total, so a
GPU loop is never synchronised on a plain step. The window never grows past ``max_losses``: a loop
whose steps never close (an accumulation count that does not match) keeps a running sum instead.
"""

from __future__ import annotations

import logging
from typing import Any

from hf_tracking.engine.values import as_float, mean_of

logger = logging.getLogger("hf_tracking")
MAX_LOSSES = 4096
_warned: list[Exception] = []


class TrainingWindow:
    def __init__(self, max_losses: int = MAX_LOSSES) -> None:
        # Appended to by the tracker's per-call path directly (a method call costs as much as
        # the append); the window spans one logging interval, and :meth:`fold` keeps a step that
        # never ends (an accumulation count that never matches) bounded.
        self.losses: list[Any] = []
        self._folded_sum = 0.0
        self._folded_count = 0
        self.max_losses = max_losses
        self.learning_rate: Any = None
        self.grad_norm: Any = None
        # Tokens added on a device since the last read (None when there are none).
        self.device_tokens: Any = None

    def fold(self) -> None:
        """Fold the kept losses into a running sum (one device read): the window stays bounded
        when callers append to :attr:`losses` past ``max_losses``."""
        losses = self.losses
        self._folded_sum += (mean_of(losses) or 0.0) * len(losses)
        self._folded_count += len(losses)
        self.losses = []

    def clear_losses(self) -> None:
        self.losses = []
        self._folded_sum = 0.0
        self._folded_count = 0

    @property
    def has_losses(self) -> bool:
        return bool(self.losses) or self._folded_count > 0

    def add_device_tokens(self, tokens: Any) -> None:
        if self.device_tokens is None:
            self.device_tokens = tokens.long().clone()
        else:
            self.device_tokens.add_(tokens)

    def take_device_tokens(self) -> int:
        """Tokens added on the device since the last read: one device read, when a record is
        built (a logging step, an evaluation, a save, the end), never on a plain step."""
        if self.device_tokens is None:
            return 0
        pending, self.device_tokens = self.device_tokens, None
        try:
            tokens = int(pending.item())
        except Exception as error:
            warn_unreadable(error)
            return 0
        if tokens < 0:
            raise ValueError(f"hf_tracking: tokens must be >= 0, got a total of {tokens}")
        return tokens

    def close(self) -> tuple[float | None, float | None, float | None]:
        """(mean loss, learning rate, grad norm) of the window, which then starts afresh.

        Values are checked where they are passed; one that still cannot be read here (a tensor
        whose device failed) costs this window's values, with one warning, never the run."""
        try:
            loss = mean_of(self.losses)
            if self._folded_count:
                count = self._folded_count + len(self.losses)
                loss = (self._folded_sum + (loss or 0.0) * len(self.losses)) / count
            read = loss, as_float(self.learning_rate), as_float(self.grad_norm)
        except Exception as error:
            warn_unreadable(error)
            read = None, None, None
        self.clear_losses()
        self.learning_rate = self.grad_norm = None
        return read


def warn_unreadable(error: Exception) -> None:
    if not _warned:
        _warned.append(error)
        logger.warning(
            "hf_tracking: a logged value could not be read (%s: %s); that window's values are "
            "left out and the run goes on",
            type(error).__name__,
            error,
        )
