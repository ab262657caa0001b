"""Where a Trainer run went: said once at the end of training, on the world-process-zero rank,
through the ``hf_tracking`` logger (``logging.getLogger("hf_tracking").setLevel(logging.WARNING)``
silences it)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("hf_tracking")


def announce_run(tracker: Any, summary_path: Any) -> None:
    """Log the run directory, the summary and each backend's sync command (W&B offline)."""
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)  # shown unless the program chose a level for it
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    lines = [f"hf_tracking: run {tracker.experiment_name}"]
    if tracker.run_dir is not None:
        lines.append(f"  run directory: {tracker.run_dir}")
    if summary_path is not None:
        lines.append(f"  summary: {summary_path}")
    for backend in tracker.backends:
        try:
            command = backend.info().get("sync_command")
        except Exception:  # a backend's report never stops the end of training
            command = None
        if command:
            lines.append(f"  {backend.name} sync: {command}")
    logger.info("\n".join(lines))
