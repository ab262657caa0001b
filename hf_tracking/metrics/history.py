"""A history of rows with a fixed memory bound that thins old rows instead of forgetting the start.

When ``max_rows`` is reached every other kept row is dropped and the sampling stride doubles, so
a million-step run keeps an evenly spaced picture of the whole run in at most ``max_rows`` rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class BoundedHistory:
    def __init__(self, max_rows: int) -> None:
        self.max_rows = max(2, max_rows)
        self._rows: list[Any] = []
        self._stride = 1
        self._offered = 0

    def append(self, row: Any) -> None:
        offered = self._offered
        self._offered += 1
        if offered % self._stride:
            return
        self._rows.append(row)
        if len(self._rows) >= self.max_rows:
            self._rows = self._rows[::2]
            self._stride *= 2

    @property
    def stride(self) -> int:
        return self._stride

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def rows(self) -> list[Any]:
        return list(self._rows)


def evenly_spaced(values: list[Any], count: int) -> list[Any]:
    """At most ``count`` of ``values``, evenly spaced, the first and last included."""
    if len(values) <= count:
        return list(values)
    if count <= 1:
        return values[-1:] if count == 1 else []
    last = len(values) - 1
    return [values[round(index * last / (count - 1))] for index in range(count)]
