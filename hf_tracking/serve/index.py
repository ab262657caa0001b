"""An in-memory column index of one ``metrics.jsonl``, followed by byte offset.

:meth:`MetricsIndex.update` reads only the bytes added since the last call and stops before a
line without its newline (a row still being written is read on a later call, whole). Rows go into
one table per ``event`` (train, val, checkpoint, custom, final, resume), each a set of float64
columns with NaN where a row lacks a key; non-numbers read as NaN. A file that got shorter or was
replaced (the local store rewrites it when a run resumes from an earlier step) is read again from
the start.

Memory: 8 bytes per number of a table's columns (145 MiB for 1,000,000 train rows of 19 keys);
:class:`hf_tracking.serve.runs.RunCatalog` keeps the total within its budget.
"""

from __future__ import annotations

import math
import os
import threading
from array import array
from typing import Any

import numpy as np

try:  # orjson (the serve extra) parses a row about ten times faster than the json module
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    from json import loads as _loads

CHUNK_BYTES = 16 * 1024**2


class Table:
    """Rows of one event kind as float64 columns of equal length."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns: dict[str, array] = {}

    def extend(self, keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Append rows that all have exactly ``keys`` (in that order)."""
        for key, values in zip(keys, zip(*rows, strict=True), strict=True):
            column = self.columns.get(key)
            if column is None:
                column = self.columns[key] = array("d", [math.nan]) * self.rows
            try:
                column.extend(values)
            except TypeError:  # null, a string or a list among the values
                column.extend(_as_float(value) for value in values)
        self.rows += len(rows)
        for column in self.columns.values():
            if len(column) < self.rows:
                column.extend(array("d", [math.nan]) * (self.rows - len(column)))

    def column(self, key: str) -> np.ndarray | None:
        """A numpy copy of a column's rows so far (the array keeps growing under it)."""
        column = self.columns.get(key)
        if column is None:
            return None
        return np.frombuffer(column, dtype=np.float64, count=self.rows).copy()

    def nbytes(self) -> int:
        return sum(column.itemsize * len(column) for column in self.columns.values())


def _as_float(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return math.nan


class MetricsIndex:
    """The rows of one ``metrics.jsonl`` read so far, by event kind."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self.offset = 0
        self.rows = 0
        self.tables: dict[str, Table] = {}
        self.identity: tuple[int, int] | None = None
        self.lock = threading.Lock()  # guards the tables, offset and rows
        self._reading = threading.Lock()  # held by the one thread reading the file

    def update(self) -> int:
        """Read the complete lines written since the last call; returns how many rows came.

        While another thread is reading the file this returns 0 at once: the rows read so far
        are served meanwhile (a first read of a million rows takes seconds) and :attr:`complete`
        is False until that read ends."""
        if not self._reading.acquire(blocking=False):
            return 0
        try:
            try:
                status = os.stat(self.path)
            except OSError:
                return 0
            size, identity = status.st_size, (status.st_dev, status.st_ino)
            if size < self.offset or identity != self.identity:
                with self.lock:
                    self.offset, self.rows, self.tables = 0, 0, {}
                    self.identity = identity
            added = 0
            with open(self.path, "rb") as stream:
                stream.seek(self.offset)
                while self.offset < size:
                    chunk = stream.read(min(CHUNK_BYTES, size - self.offset))
                    end = chunk.rfind(b"\n")
                    if end < 0:
                        break  # a torn last line: wait until it is whole
                    records = _parse_lines(chunk[: end + 1])
                    with self.lock:
                        self._add(records)
                        self.offset += end + 1
                        self.rows += len(records)
                    added += len(records)
                    if end + 1 < len(chunk):
                        stream.seek(self.offset)
            return added
        finally:
            self._reading.release()

    @property
    def complete(self) -> bool:
        """False while a read of the file is under way."""
        return not self._reading.locked()

    def _add(self, records: list[dict[str, Any]]) -> None:
        group: list[tuple[Any, ...]] = []
        group_key: tuple[str, tuple[str, ...]] | None = None
        for record in records:
            event = str(record.pop("event", "train"))
            key = (event, tuple(record))
            if key != group_key:
                self._flush(group_key, group)
                group, group_key = [], key
            group.append(tuple(record.values()))
        self._flush(group_key, group)

    def _flush(self, key: tuple[str, tuple[str, ...]] | None, rows: list[tuple[Any, ...]]) -> None:
        if key is None or not rows:
            return
        event, keys = key
        self.tables.setdefault(event, Table()).extend(keys, rows)

    def series(self, event: str, key: str) -> np.ndarray | None:
        return self.columns(event, (key,))[0]

    def columns(self, event: str, keys: tuple[str, ...] | list[str]) -> list[np.ndarray | None]:
        """Copies of several columns of one event kind, all of the same rows."""
        with self.lock:
            table = self.tables.get(event)
            return [None if table is None else table.column(key) for key in keys]

    def keys(self) -> dict[str, list[str]]:
        """Each event kind's column names."""
        with self.lock:
            return {event: sorted(table.columns) for event, table in self.tables.items()}

    def last(self, event: str) -> dict[str, float]:
        """The last row of an event kind, finite values only."""
        with self.lock:
            table = self.tables.get(event)
            if table is None or not table.rows:
                return {}
            row = {key: column[table.rows - 1] for key, column in table.columns.items()}
        return {key: value for key, value in row.items() if math.isfinite(value)}

    def nbytes(self) -> int:
        return sum(table.nbytes() for table in self.tables.values())


def _parse_lines(lines: bytes) -> list[dict[str, Any]]:
    """The JSON objects of complete lines; a corrupt line is skipped."""
    records = []
    for line in lines.split(b"\n"):
        if not line:
            continue
        try:
            record = _loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
