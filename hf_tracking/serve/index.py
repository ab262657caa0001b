"""An in-memory column index of one ``metrics.jsonl``, followed by byte offset.

:meth:`MetricsIndex.update` reads only the bytes added since the last call and stops before a
line without its newline (a row still being written is read on a later call, whole). Rows go into
one table per ``event`` (train, val, checkpoint, custom, final, resume), each a set of float64
columns with NaN where a row lacks a key; non-numbers read as NaN. A file that got shorter or was
replaced (the local store rewrites it when a run resumes from an earlier step) is read again from
the start. The file is opened as :func:`hf_tracking.run_files.open_regular` opens it (a FIFO is
refused, never waited on).

A line longer than ``CHUNK_BYTES`` is skipped (counted in :attr:`MetricsIndex.skipped_lines`)
and the rows after it are read. With ``root``, a file whose resolved path leads out of it (a
symlink) is not read.

Memory: 16 bytes per number a row holds (a value and its row position: 290 MiB for 1,000,000
train rows of 19 keys), however many distinct keys the rows have between them. With
``max_bytes``, a table that would grow past it is thinned while it is read (:meth:`Table.thin`):
each key keeps its first, last, lowest and highest value per bucket of rows, the bucket doubling
each time, so a run of any length is held in ``max_bytes`` and read once, and every curve drawn
with at least a bucket of rows per point is what the full rows give (a zoom deeper than that
shows the rows kept). :class:`hf_tracking.serve.runs.RunCatalog` gives each index a share of its
budget.
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
from hf_tracking.serve.thin import extreme_picks

try:  # orjson (the serve extra) parses a row about ten times faster than the json module
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    from json import loads as _loads

CHUNK_BYTES = 16 * 1024**2
READ_BYTES = 1024**2  # read, parsed and added this many bytes at a time
FIRST_BUCKET = 4  # the rows a bucket the first time a table is thinned (then 8, 16, ...)
AXIS_KEYS = frozenset(("time/gradient_steps", "time/wallclock_hours", "time/tokens_seen"))


class Table:
    """Rows of one event kind. Each key is a column of only the rows that hold it (their
    numbers and row positions), so a row costs what its own keys hold however many distinct
    keys the table has; :meth:`column` spreads a column over the rows kept, NaN where it is
    absent. Every row is kept until :meth:`thin` keeps, per bucket of ``bucket`` rows, each
    key's first, last, lowest and highest value (:mod:`hf_tracking.serve.thin`), and the axes
    at every row kept; rows read after that are kept whole until the next :meth:`thin`."""

    def __init__(self) -> None:
        self.rows = 0  # rows read
        self.columns: dict[str, tuple[array, array]] = {}  # key -> (values, row positions)
        self.counts: dict[str, int] = {}  # key -> rows read that hold it
        self.bucket = 1  # rows a bucket of the thinned part (1: nothing thinned)
        self.kept: array | None = None  # positions of the rows kept, once thinned
        self.thinned_rows = 0  # rows read when last thinned

    def extend(self, keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Append rows that all have exactly ``keys`` (in that order)."""
        positions = array("q", range(self.rows, self.rows + len(rows)))
        for key, values in zip(keys, zip(*rows, strict=True), strict=True):
            column = self.columns.get(key)
            if column is None:
                column = self.columns[key] = (array("d"), array("q"))
            size = len(column[0])
            try:
                column[0].extend(values)
            except TypeError:  # null, a string or a list among the values
                del column[0][size:]  # extend appended the values before the one it refused
                column[0].extend(_as_float(value) for value in values)
            column[1].extend(positions)
            self.counts[key] = self.counts.get(key, 0) + len(rows)
        if self.kept is not None:
            self.kept.extend(positions)
        self.rows += len(rows)

    def thin(self, bucket: int) -> None:
        """Keep each key's first, last, lowest and highest value per bucket of ``bucket`` rows,
        and the axes (:data:`AXIS_KEYS`) at every row any key keeps. At the bucket of the last
        thinning, only the rows from the first bucket holding rows read since are looked at
        (the rows before are thinned already), so thinning as a run is read costs what was
        read since."""
        start = 0
        if bucket == self.bucket and self.kept is not None:
            start = self.thinned_rows // bucket * bucket
        kept = np.zeros(self.rows - start, dtype=bool)
        picks = {}
        for key, (values, at) in self.columns.items():
            positions = np.frombuffer(at, dtype=np.int64)
            first = int(np.searchsorted(positions, start))
            numbers = np.frombuffer(values, np.float64)[first:]
            picks[key] = first + extreme_picks(positions[first:], numbers, bucket)
            kept[positions[picks[key]] - start] = True
        del positions, numbers  # no view may be left on an array that is cut below
        for key, (values, at) in self.columns.items():
            positions = np.frombuffer(at, dtype=np.int64)
            first = int(np.searchsorted(positions, start))
            if key in AXIS_KEYS:
                chosen = first + np.flatnonzero(kept[positions[first:] - start])
            else:
                chosen = picks[key]
            tail = np.frombuffer(values, np.float64)[chosen].tobytes(), positions[chosen].tobytes()
            del positions
            del values[first:], at[first:]  # the rows before ``start`` stay as they are
            values.frombytes(tail[0])
            at.frombytes(tail[1])
        if self.kept is None:
            self.kept = array("q")
        else:
            del self.kept[bisect_left(self.kept, start) :]
        self.kept.frombytes((np.flatnonzero(kept) + start).astype(np.int64).tobytes())
        self.bucket, self.thinned_rows = bucket, self.rows

    def _positions(self) -> np.ndarray | None:
        return None if self.kept is None else np.frombuffer(self.kept, dtype=np.int64)

    def column(self, key: str) -> np.ndarray | None:
        """A key's numbers over every row kept (NaN where a row lacks it)."""
        column = self.columns.get(key)
        if column is None:
            return None
        values, positions = column
        kept = self._positions()
        if kept is None and len(values) == self.rows:  # in every row: a plain copy
            return np.frombuffer(values, dtype=np.float64).copy()
        at = np.frombuffer(positions, dtype=np.int64)
        out = np.full(self.rows if kept is None else len(kept), math.nan)
        out[at if kept is None else np.searchsorted(kept, at)] = np.frombuffer(values, np.float64)
        return out

    def tail(self, count: int) -> list[dict[str, float]]:
        """The last ``count`` rows kept as {key: value}, each holding only its own keys."""
        kept = self._positions()
        positions = range(max(self.rows - count, 0), self.rows) if kept is None else kept[-count:]
        if not len(positions):
            return []
        where = {int(position): number for number, position in enumerate(positions)}
        rows: list[dict[str, float]] = [{} for _ in positions]
        for key, (values, at) in self.columns.items():
            for position in range(bisect_left(at, positions[0]), len(at)):
                rows[where[at[position]]][key] = values[position]
        return rows

    def last(self) -> dict[str, float]:
        """The last row's values (always kept)."""
        row = self.rows - 1
        return {key: values[-1] for key, (values, at) in self.columns.items() if at[-1] == row}

    def nbytes(self) -> int:
        kept = 0 if self.kept is None else self.kept.itemsize * len(self.kept)
        return kept + sum(
            values.itemsize * len(values) + at.itemsize * len(at)
            for values, at in self.columns.values()
        )


def _as_float(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return math.nan


class MetricsIndex:
    """The rows of one ``metrics.jsonl`` read so far, by event kind."""

    def __init__(
        self,
        path: str | os.PathLike,
        root: str | os.PathLike | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.root = None if root is None else os.path.realpath(root)
        self.max_bytes = max_bytes  # past it, the largest table is thinned (None: never)
        self.bytes_read = 0  # lines of the file parsed, in all: a finished run is read once
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
                    chunk = _next_chunk(stream, size - self.offset)
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
                        self._fit()
                        self.offset += end + 1
                        self.rows += len(records)
                    self.bytes_read += end + 1
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

    def _fit(self) -> None:
        """Past ``max_bytes``, thin the largest table until the index is within half of it
        (room for the rows read next): first the rows read since its last thinning at its
        bucket, then one level coarser at a time."""
        if self.max_bytes is None or self.nbytes() <= self.max_bytes:
            return
        while self.nbytes() > self.max_bytes // 2:
            table = max(self.tables.values(), key=Table.nbytes)
            if table.bucket >= table.rows:
                return  # one bucket: nothing left to thin
            fresh = table.rows > table.thinned_rows and table.bucket > 1
            table.thin(table.bucket if fresh else max(2 * table.bucket, FIRST_BUCKET))

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

    def detail(self, event: str, key: str) -> tuple[int, int]:
        """How many rows read hold ``key``, and how many rows a bucket of the table's thinned
        part holds (1: every row kept)."""
        with self.lock:
            table = self.tables.get(event)
            return (0, 1) if table is None else (table.counts.get(key, 0), table.bucket)

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


def _next_chunk(stream: Any, left: int) -> bytes:
    """The next ``READ_BYTES`` of ``left`` bytes, or more, up to ``CHUNK_BYTES``, until they
    hold a line's end: a long line is read whole, and memory holds only a slice of the file."""
    parts = [stream.read(min(READ_BYTES, CHUNK_BYTES, left))]
    read = len(parts[0])
    while b"\n" not in parts[-1] and read < min(CHUNK_BYTES, left):
        more = stream.read(min(READ_BYTES, CHUNK_BYTES - read, left - read))
        if not more:
            break
        parts.append(more)
        read += len(more)
    return parts[0] if len(parts) == 1 else b"".join(parts)


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
