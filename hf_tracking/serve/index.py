"""An in-memory column index of one ``metrics.jsonl``, followed by byte offset.

:meth:`MetricsIndex.update` reads only the bytes added since the last call and stops before a
line without its newline (a row still being written is read on a later call, whole). Rows go into
one table per ``event`` (train, val, checkpoint, custom, final, resume), each a set of float64
columns with NaN where a row lacks a key; non-numbers read as NaN. A file that got shorter or was
replaced (the local store rewrites it when a run resumes from an earlier step) is read again from
the start.

A line longer than ``CHUNK_BYTES`` is skipped (counted in :attr:`MetricsIndex.skipped_lines`)
and the rows after it are read. With ``root``, a file whose resolved path leads out of it (a
symlink) is not read.

Memory: 16 bytes per number a row holds (a value and its row position: 290 MiB for 1,000,000
train rows of 19 keys), however many distinct keys the rows have between them;
:class:`hf_tracking.serve.runs.RunCatalog` keeps the total within its budget.
"""

from __future__ import annotations

import math
import os
import threading
from array import array
from bisect import bisect_left
from typing import Any

import numpy as np

from hf_tracking.run_files import open_regular

try:  # orjson (the serve extra) parses a row about ten times faster than the json module
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    from json import loads as _loads

CHUNK_BYTES = 16 * 1024**2


class Table:
    """Rows of one event kind. Each key is a column of only the rows that hold it (their
    numbers and row positions), so a row costs what its own keys hold however many distinct
    keys the table has; :meth:`column` spreads a column over every row, NaN where it is absent."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns: dict[str, tuple[array, array]] = {}  # key -> (values, row positions)

    def extend(self, keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Append rows that all have exactly ``keys`` (in that order)."""
        positions = array("q", range(self.rows, self.rows + len(rows)))
        for key, values in zip(keys, zip(*rows, strict=True), strict=True):
            column = self.columns.get(key)
            if column is None:
                column = self.columns[key] = (array("d"), array("q"))
            try:
                column[0].extend(values)
            except TypeError:  # null, a string or a list among the values
                column[0].extend(_as_float(value) for value in values)
            column[1].extend(positions)
        self.rows += len(rows)

    def column(self, key: str) -> np.ndarray | None:
        """A key's numbers over every row so far (NaN where a row lacks it)."""
        column = self.columns.get(key)
        if column is None:
            return None
        values, positions = column
        if len(values) == self.rows:  # in every row (positions are 0, 1, ...): a plain copy
            return np.frombuffer(values, dtype=np.float64).copy()
        out = np.full(self.rows, math.nan)
        out[np.frombuffer(positions, dtype=np.int64)] = np.frombuffer(values, dtype=np.float64)
        return out

    def tail(self, count: int) -> list[dict[str, float]]:
        """The last ``count`` rows as {key: value}, each holding only its own keys."""
        first = max(self.rows - count, 0)
        rows: list[dict[str, float]] = [{} for _ in range(first, self.rows)]
        for key, (values, at) in self.columns.items():
            for position in range(bisect_left(at, first), len(at)):
                rows[at[position] - first][key] = values[position]
        return rows

    def last(self) -> dict[str, float]:
        """The last row's values."""
        row = self.rows - 1
        return {key: values[-1] for key, (values, at) in self.columns.items() if at[-1] == row}

    def nbytes(self) -> int:
        return sum(
            values.itemsize * len(values) + at.itemsize * len(at)
            for values, at in self.columns.values()
        )


def _as_float(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return math.nan


class MetricsIndex:
    """The rows of one ``metrics.jsonl`` read so far, by event kind."""

    def __init__(self, path: str | os.PathLike, root: str | os.PathLike | None = None) -> None:
        self.path = os.fspath(path)
        self.root = None if root is None else os.path.realpath(root)
        self.offset = 0
        self.rows = 0
        self.skipped_lines = 0  # lines longer than CHUNK_BYTES, left out
        self._skipping = False  # inside such a line: its end has not been read yet
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
            if self.root is not None and not _inside(self.path, self.root):
                return 0
            try:  # a FIFO or a device in its place is refused without waiting
                stream, status = open_regular(self.path)
            except OSError:
                return 0
            size, identity = status.st_size, (status.st_dev, status.st_ino)
            if size < self.offset or identity != self.identity:
                with self.lock:
                    self.offset, self.rows, self.tables = 0, 0, {}
                    self.skipped_lines, self._skipping = 0, False
                    self.identity = identity
            added = 0
            with stream:
                stream.seek(self.offset)
                while self.offset < size:
                    chunk = stream.read(min(CHUNK_BYTES, size - self.offset))
                    if self._skipping or (b"\n" not in chunk and len(chunk) == CHUNK_BYTES):
                        self._skip(chunk)  # a line over CHUNK_BYTES: left out, counted
                        stream.seek(self.offset)
                        continue
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

    def _skip(self, chunk: bytes) -> None:
        """Move past ``chunk``, part of an over-long line, up to and with that line's end."""
        end = chunk.find(b"\n")
        with self.lock:
            self.offset += len(chunk) if end < 0 else end + 1
            self._skipping = end < 0
            self.skipped_lines += end >= 0

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

    def tail(self, event: str, count: int) -> list[dict[str, float]]:
        """The last ``count`` rows of an event kind, finite values only."""
        with self.lock:
            table = self.tables.get(event)
            rows = [] if table is None else table.tail(count)
        return [{k: v for k, v in row.items() if math.isfinite(v)} for row in rows]

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
            row = table.last()
        return {key: value for key, value in row.items() if math.isfinite(value)}

    def nbytes(self) -> int:
        return sum(table.nbytes() for table in self.tables.values())


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), root]) == root


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
