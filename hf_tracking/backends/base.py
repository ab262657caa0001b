"""The public backend interface, after accelerate's ``GeneralTracker``: start, log, finish.

Backends never compute metrics; they write what the engine built. The run's local store (named
``local``, ``remote = False``) is written by the writer thread itself and never drops a record;
every other backend runs on a thread of its own behind a bounded queue, with its own copy of each
record, so a slow, stuck or failing backend costs neither the training loop nor the local store
anything. ``remote = False`` on another backend says it writes local files: it is left out when
the run directory cannot be made. The engine never names a backend: whatever one needs to know about a resume it saves in
:meth:`Backend.state_dict` (stored in the tracker's checkpoint state under its name) and gets back
in :meth:`Backend.load_state_dict`; what it wants in the run summary it returns from
:meth:`Backend.summary_section` (a top-level section under its name) and :meth:`Backend.info`
(its entry in the summary's ``backends`` list).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar


@dataclasses.dataclass
class Record:
    """One row: ``kind`` is "train", "val", "checkpoint", "custom" or "final"; ``values`` is a
    flat mapping of catalog names to numbers (NaN and inf included: the JSON writers turn them
    into null, remote services take them as they are)."""

    kind: str
    values: dict[str, Any]
    # Run on the writer thread before delivery, for work that touches the disk (sizes, probes).
    prepare: Callable[[dict[str, Any]], None] | None = None
    # A checkpoint record's directory, for backends that upload checkpoints.
    path: str | None = None


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a backend needs to start: names, the redacted config, and where a resume starts."""

    name: str
    run_dir: str
    output_dir: str
    project: str
    entity: str | None
    tags: list[str]
    notes: str
    config: dict[str, Any]
    resumed_from_step: int | None = None
    # A resume that found the run written by another process goes on in a run of its own: the
    # run directory it came from (its rows up to ``resumed_from_step`` are this run's too).
    forked_from: str | None = None
    # The run directory's lock (:mod:`hf_tracking.backends.lock`), taken by the run session
    # when it reserved the directory; the local store adopts it.
    run_dir_lock: Any = dataclasses.field(default=None, compare=False, repr=False)
    # Resumes of the run up to this session's, this one included (0 for a fresh run).
    resumes: int = 0
    # The model being trained (or None), for backends that read its config or hook it.
    model: Any = dataclasses.field(default=None, compare=False, repr=False)


class Backend:
    """Base class of every backend. Subclasses set ``name`` and implement :meth:`log_batch`
    (or :meth:`log`); register them with :func:`hf_tracking.register_backend` to choose them by
    name in a config's ``backends`` list."""

    name: ClassVar[str] = ""
    remote: ClassVar[bool] = True
    # A remote backend gets its records at most this often (a batch then holds every record
    # since): fewer wake-ups where each call costs the same whatever its size. The end of the
    # run and a flush send what is held at once.
    batch_seconds: ClassVar[float] = 0.0

    @classmethod
    def from_config(cls, config: Any) -> Backend | None:
        """The backend for a run with this :class:`~hf_tracking.ExperimentConfig`, when its name
        is listed; None when the config turns it off (W&B with mode "disabled")."""
        return cls()

    def start(self, run: RunInfo) -> None:
        """Open the destination; called once, on the thread that will log."""

    def before_training(self) -> None:
        """Called on the training thread once the run has opened, before the first step: return
        when what the user's code must find from the first step on is ready (W&B: ``wandb.run``
        for a script that imported wandb); any wait must be bounded."""

    def log(self, record: Record) -> None:
        self.log_batch([record])

    def log_batch(self, records: list[Record]) -> None:
        """Several records in order; override when one call for all is cheaper."""
        if type(self).log is Backend.log:
            raise NotImplementedError(f"backend {self.name!r} implements neither log nor log_batch")
        for record in records:
            self.log(record)

    def finish(self, status: str, exit_code: int) -> None:
        """Flush and close; ``exit_code`` is 0 for a finished run, non-zero otherwise."""

    def kill(self) -> None:
        """Give up on a backend whose finish did not return in time (stop its process, if any)."""

    def health(self) -> str | None:
        """A failure the backend found outside its calls (its writer thread died, its process
        stopped answering), in words for the summary; None when there is none. Asked at
        finish: a backend that failed is not waited on for long."""
        return None

    def acknowledged(self) -> int | None:
        """Records the destination confirmed it holds (it counts as ``records_written``; the
        rest, once the backend failed or finished, as ``records_lost``); None: every record a
        log call returned from is written."""
        return None

    def info(self) -> dict[str, Any]:
        """Its entry in the summary's ``backends`` list (ids, paths, modes)."""
        return {}

    def summary_section(self) -> dict[str, Any] | None:
        """A top-level section of the run summary under the backend's name, or None."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run's backend must know (run ids); saved with the tracker's state.
        Called on the training thread, before or after :meth:`start`."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take the state a checkpoint saved; called before :meth:`start`."""
