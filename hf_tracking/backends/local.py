"""The local run store: ``{output_dir}/{name}/metrics.jsonl`` and ``config.yaml``.

The source of truth of a run. One strict JSON object per line (non-finite numbers as null),
written with unbuffered ``os.write`` calls once per batch the writer thread takes off the queue, so
a crash loses at most the records still queued and the line being written; readers skip a torn
last line (:func:`hf_tracking.jsonio.iter_jsonl`).

The file always ends with a whole line before a write: the store keeps the byte offset after its
last complete write, and after a failed write (a full disk) it truncates the file back to it
before writing again, so a torn line is never followed by more rows. ``records_written`` in the
summary is the number of rows this session put in the file; a batch whose write failed is
``records_lost`` as a whole.

One writer per run directory: the directory's lock (:mod:`hf_tracking.backends.lock`), taken by
the run session when it reserves the directory (or by :meth:`LocalRunStore.start` for a store
used alone), is held until :meth:`LocalRunStore.finish` or the death of the process. A store
started on a directory another writer holds refuses to start. A run session never starts one
there: a process resuming a run that another one writes goes on in a run of its own
(:mod:`hf_tracking.session`), whose store copies the rows up to the resume step from the run
it came from (``rows_copied_on_fork``). On a resume from step S the rows past S are cut first,
under the lock, so the file stays one monotonic history, and a ``resume`` row marks where the
new session starts: ``{"event": "resume", "resume/from_step": S, "resume/count": N}`` with the
axes of the last row kept, N being the run's resumes up to this one. The ``resume`` rows of
sessions the resumed state does not descend from go with the cut (one that resumed from S too,
before this one, carries a count of N or more), so the file holds one ``resume`` row per resume
the summary's ``totals.resumes`` counts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from hf_tracking.backends.appends import WholeAppends, write_all
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.lock import RunDirLock
from hf_tracking.catalog import AXES, STEP_KEY
from hf_tracking.jsonio import (
    atomic_write_text,
    dump_yaml,
    dumps_line,
    iter_jsonl,
    last_jsonl_record,
    loads_bounded,
)

METRICS_FILE = "metrics.jsonl"
RESUME_COUNT = "resume/count"
CONFIG_FILE = "config.yaml"
# A run named N under D keeps its summary beside its directory: D/N_summary.json.
SUMMARY_SUFFIX = "_summary.json"
logger = logging.getLogger("hf_tracking")


class LocalRunStore(Backend):
    name = "local"
    remote = False

    def __init__(self) -> None:
        self.path: Path | None = None
        self.rows_cut = 0
        self.rows_copied: int | None = None  # from the run this one forked from
        self.config_error: str | None = None
        self._file: WholeAppends | None = None
        self._lock: RunDirLock | None = None

    def start(self, run: RunInfo) -> None:
        run_dir = Path(run.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        if run.run_dir_lock is not None:
            lock = run.run_dir_lock.adopt()
        else:
            lock = RunDirLock(run_dir)
            lock.acquire()
        try:
            # Left by a kill mid-rewrite (the summary's is made here too); ours to remove.
            for name in (CONFIG_FILE, METRICS_FILE, f"{run_dir.name}{SUMMARY_SUFFIX}"):
                for stale in run_dir.glob(f".{name}.*.tmp"):
                    stale.unlink(missing_ok=True)
            try:
                atomic_write_text(run_dir / CONFIG_FILE, dump_yaml(run.config))
            except OSError as error:  # a full disk: the metrics may still fit, and are worth more
                self.config_error = f"{type(error).__name__}: {error}"
                logger.warning("hf_tracking: could not write %s: %s", CONFIG_FILE, error)
            path = run_dir / METRICS_FILE
            if run.resumed_from_step is not None and run.forked_from is not None:
                source = Path(run.forked_from) / METRICS_FILE
                self.rows_copied = copy_rows_through(source, path, run.resumed_from_step)
            elif run.resumed_from_step is not None and path.exists():
                self.rows_cut = truncate_after_step(path, run.resumed_from_step, run.resumes)
            path.touch()
            self._file = WholeAppends(path, _whole_lines_end(path), write=write_all)
        except BaseException:
            lock.release()
            raise
        self._lock = lock
        self.path = path
        if run.resumed_from_step is not None:
            step = run.resumed_from_step
            last = last_jsonl_record(path)
            axes = {key: last[key] for key in AXES if key in last}
            values = {**axes, STEP_KEY: step, "resume/from_step": step, RESUME_COUNT: run.resumes}
            self.log_batch([Record("resume", values)])

    def log(self, record: Record) -> None:
        self.log_batch([record])

    def log_batch(self, records: list[Record]) -> None:
        """Write complete lines: a crash loses no line already returned from here."""
        assert self._file is not None, "LocalRunStore.log before start"
        data = "".join(
            dumps_line({"event": record.kind, **record.values}) for record in records
        ).encode("utf-8")
        self._file.append(data)

    def finish(self, status: str, exit_code: int) -> None:
        if self._file is not None:
            self._file.close()
        if self._lock is not None:
            self._lock.release()

    @property
    def repairs(self) -> int:
        """Times the file was cut back to its last whole line after a failed write."""
        return self._file.repairs if self._file is not None else 0

    def info(self) -> dict[str, Any]:
        return {
            "metrics": str(self.path) if self.path else None,
            "rows_cut_on_resume": self.rows_cut,
            **({"rows_copied_on_fork": self.rows_copied} if self.rows_copied is not None else {}),
            "repairs": self.repairs,
            "lock": self._lock.state if self._lock else "not taken",
            **({"config_error": self.config_error} if self.config_error else {}),
        }


def _whole_lines_end(path: Path) -> int:
    """The size of ``path`` up to and including its last newline (0 for none)."""
    with open(path, "rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        position = size
        while position > 0:
            step = min(65536, position)
            stream.seek(position - step)
            chunk = stream.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                return position - step + newline + 1
            position -= step
    return 0


def truncate_after_step(path: Path, last_step: int, resumes: int | None = None) -> int:
    """Rewrite ``path`` keeping the complete rows up to ``last_step`` (unreadable lines go too),
    less the ``resume`` rows of a count of ``resumes`` or more (sessions this one replaces);
    returns the rows of records removed (a ``resume`` row is a mark, not a record). Called only by :meth:`LocalRunStore.start`, under the run directory's
    lock. Without room for the rewrite, the file is cut in place at its first row past
    ``last_step`` instead (the history is monotonic, so everything after it is past it too)."""
    kept = []
    removed = 0
    for row in iter_jsonl(path):
        if _past(row, last_step):
            removed += row.get("event") != "resume"
        elif not _replaced_resume(row, resumes):
            kept.append(dumps_line(row))
    try:
        atomic_write_text(path, "".join(kept))
    except OSError:
        return _cut_in_place(path, last_step)
    return removed


def copy_rows_through(source: Path, path: Path, last_step: int) -> int:
    """Write the complete rows of ``source`` up to ``last_step`` to ``path``; returns how many.
    ``source`` may be written meanwhile by its own writer, which only ever changes rows past
    ``last_step`` (the history is monotonic: the copy ends at the first row past it). A resume
    row that ends the copy is the other writer's mark; this run's own follows."""
    kept: list[dict[str, Any]] = []
    with contextlib.suppress(FileNotFoundError):
        for row in iter_jsonl(source):
            if _past(row, last_step):
                break
            kept.append(row)
    while kept and kept[-1].get("event") == "resume":
        kept.pop()
    atomic_write_text(path, "".join(dumps_line(row) for row in kept))
    return len(kept)


def _past(row: dict[str, Any], last_step: int) -> bool:
    step = row.get(STEP_KEY)
    return isinstance(step, (int, float)) and step > last_step


def _replaced_resume(row: dict[str, Any], resumes: int | None) -> bool:
    count = row.get(RESUME_COUNT)
    return (
        resumes is not None
        and row.get("event") == "resume"
        and isinstance(count, (int, float))
        and count >= resumes
    )


def _cut_in_place(path: Path, last_step: int) -> int:
    """Truncate ``path`` before its first row past ``last_step``: needs no free space."""
    offset, cut_at, removed = 0, None, 0
    with open(path, "rb") as stream:
        for raw in stream:
            try:
                row = loads_bounded(raw) if raw.endswith(b"\n") else None
            except ValueError:
                row = None
            if isinstance(row, dict) and _past(row, last_step):
                cut_at = offset if cut_at is None else cut_at
                removed += 1
            offset += len(raw)
    if cut_at is not None:
        os.truncate(path, cut_at)
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
