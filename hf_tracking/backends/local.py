"""The local run store: ``{output_dir}/{name}/metrics.jsonl`` and ``config.yaml``.

The source of truth of a run. One strict JSON object per line (non-finite numbers as null),
flushed with every batch the writer thread takes off the queue, so a crash loses at most the
records still queued and the line being written; readers skip a torn last line (:func:`hf_tracking.jsonio.iter_jsonl`). On a resume from step S, rows past S are
cut first, so the file stays one monotonic history, and a ``resume`` row marks where the new
session starts: ``{"event": "resume", "resume/from_step": S}`` with the axes of the last row kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TextIO

from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.catalog import AXES, STEP_KEY
from hf_tracking.jsonio import (
    atomic_write_text,
    dump_yaml,
    dumps_line,
    iter_jsonl,
    last_jsonl_record,
)

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.yaml"


class LocalRunStore(Backend):
    name = "local"
    remote = False

    def __init__(self) -> None:
        self._stream: TextIO | None = None
        self.path: Path | None = None
        self.rows_cut = 0

    def start(self, run: RunInfo) -> None:
        run_dir = Path(run.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / CONFIG_FILE, dump_yaml(run.config))
        self.path = run_dir / METRICS_FILE
        last: dict[str, Any] = {}
        if run.resumed_from_step is not None and self.path.exists():
            self.rows_cut = truncate_after_step(self.path, run.resumed_from_step)
            last = last_jsonl_record(self.path)
        self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (open for the run)
        if run.resumed_from_step is not None:
            axes = {key: last[key] for key in AXES if key in last}
            step = run.resumed_from_step
            self._stream.write(
                dumps_line({"event": "resume", **axes, STEP_KEY: step, "resume/from_step": step})
            )
            self._stream.flush()

    def log(self, record: Record) -> None:
        self.log_batch([record])

    def log_batch(self, records: list[Record]) -> None:
        """Write complete lines and flush once: a crash loses no line already returned from here."""
        assert self._stream is not None, "LocalRunStore.log before start"
        self._stream.write(
            "".join(dumps_line({"event": record.kind, **record.values}) for record in records)
        )
        self._stream.flush()

    def finish(self, status: str, exit_code: int) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def info(self) -> dict[str, Any]:
        return {
            "metrics": str(self.path) if self.path else None,
            "rows_cut_on_resume": self.rows_cut,
        }


def truncate_after_step(path: Path, last_step: int) -> int:
    """Rewrite ``path`` keeping the complete rows up to ``last_step``; returns rows removed."""
    kept = []
    removed = 0
    for row in iter_jsonl(path):
        step = row.get(STEP_KEY)
        if isinstance(step, (int, float)) and step > last_step:
            removed += 1
        else:
            kept.append(dumps_line(row))
    atomic_write_text(path, "".join(kept))
    return removed


def reserve_run_dir(output_dir: str | os.PathLike, name: str) -> tuple[str, Path]:
    """Create a fresh run directory for ``name`` (``name_1``, ``name_2``, ... when taken).

    ``mkdir`` without ``exist_ok`` is atomic, so two runs started in the same second never share
    a directory or a name.
    """
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    candidate = name
    suffix = 0
    while True:
        run_dir = root / candidate
        try:
            run_dir.mkdir()
            return candidate, run_dir
        except FileExistsError:
            suffix += 1
            candidate = f"{name}_{suffix}"
