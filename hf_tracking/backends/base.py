"""The backend interface, after accelerate's ``GeneralTracker``: start, log a record, finish.

Backends never compute metrics; they write what the engine built. A backend with ``remote =
True`` runs on a thread of its own behind a bounded queue, so a slow or stuck service costs the
training loop nothing; the local run store (``remote = False``) runs on the writer thread and never
drops a record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class Record:
    """One row: ``kind`` is "train", "val", "checkpoint", "custom" or "final"; ``values`` is a
    flat mapping of catalog names to numbers (NaN and inf included: the JSON writers turn them
    into null, W&B takes them as they are)."""

    kind: str
    values: dict[str, Any]
    # Run on the writer thread before delivery, for work that touches the disk (sizes, probes).
    prepare: Callable[[dict[str, Any]], None] | None = None


@dataclasses.dataclass
class RunInfo:
    """What a backend needs to start: names, the redacted config, and resume information."""

    name: str
    run_dir: str
    output_dir: str
    project: str
    entity: str | None
    tags: list[str]
    notes: str
    config: dict[str, Any]
    wandb_mode: str
    wandb_run_id: str | None = None
    wandb_resume: bool = False
    resumed_from_step: int | None = None


class Backend:
    """Base class of every backend."""

    name = "backend"
    remote = True

    def start(self, run: RunInfo) -> None:
        """Open the destination; called once, on the thread that will log."""

    def log(self, record: Record) -> None:
        raise NotImplementedError

    def log_batch(self, records: list[Record]) -> None:
        """Several records in order; override when one call for all is cheaper."""
        for record in records:
            self.log(record)

    def finish(self, status: str, exit_code: int) -> None:
        """Flush and close; ``exit_code`` is 0 for a finished run, non-zero otherwise."""

    def kill(self) -> None:
        """Give up on a backend whose finish did not return in time (stop its process, if any)."""

    def info(self) -> dict[str, Any]:
        """What the summary and a later resume should know (ids, paths, modes)."""
        return {}
