"""The runs table of ``/api/runs``: a row per run, cached, then sorted, filtered and paged here.

With thousands of runs, building every row on every poll (reading and masking each summary,
flattening each config) took most of a minute, and the page then sorted 11 MB of rows. So a
row is built once and kept with the identity, size and modification time of the run's files;
a finished run's files are looked at again at most every ``RECHECK_SECONDS``, a running run's on
every request. Until every row is built (on a thread), the default order (most recently
written first) is answered from the files' times alone, building only the page's rows. A request asks for one page of rows (``offset``, ``limit``) in an order
(``sort``, ``dir``) among those matching a text (``q``, in the name or a tag) and a ``tag``; it
gets the page, the counts, the rows of the runs it names with ``run`` (the selection, wherever
they sort), every tag, how many runs are live, and the most recently written run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hf_tracking.serve.runs import Run, RunCatalog

RECHECK_SECONDS = 10.0
DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_TAGS = 500
SETTLED = ("finished", "failed", "interrupted")


class TableError(ValueError):
    """A query the table cannot answer (a 400)."""


class RunsTable:
    """Rows of ``catalog``'s runs, built with ``build(run)`` and kept while the files stay."""

    def __init__(self, catalog: RunCatalog, build: Callable[[Run], dict[str, Any]]) -> None:
        self.catalog = catalog
        self.build = build
        self._rows: dict[str, tuple[float, tuple, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._filling: threading.Thread | None = None

    def _complete(self) -> bool:
        """Whether every run listed has a row built (then every query is answered from them)."""
        runs = self.catalog.runs()
        with self._lock:
            return all(run.id in self._rows for run in runs)

    def rows(self) -> list[dict[str, Any]]:
        """Every run's row, rebuilt where its files changed."""
        runs = self.catalog.runs()
        now = time.monotonic()
        with self._lock:
            cached = dict(self._rows)
        fresh = {run.id: self._row(run, cached.get(run.id), now) for run in runs}
        with self._lock:
            self._rows = fresh
        return [fresh[run.id][2] for run in runs]

    def _row(self, run: Run, held: tuple | None, now: float) -> tuple[float, tuple, dict]:
        """(checked at, files key, row) of one run, from ``held`` while it stands."""
        if held and held[2].get("status") in SETTLED and now - held[0] < RECHECK_SECONDS:
            return held
        key = run.files_key()
        if held and held[1] == key and held[2].get("status") in SETTLED:
            return (now, key, held[2])
        return (now, key, self._build(run))

    def _first_page(self, offset: int, limit: int, descending: bool, wanted: set) -> tuple:
        """The rows of one page in the order of the time the metrics were written, known
        without reading summaries, while the rows not built yet are built on a thread: a first
        visit to thousands of runs is not kept waiting for all of them."""
        runs = self.catalog.runs()
        times = {run.id: run.metrics_mtime() for run in runs}
        dated = sorted(
            (run for run in runs if times[run.id] is not None), key=lambda r: times[r.id]
        )
        order = [*(reversed(dated) if descending else dated)]
        order += [run for run in runs if times[run.id] is None]
        newest = dated[-1:] or order[:1]
        chosen = order[offset : offset + limit]
        extra = [run for run in runs if run.id in wanted] + newest
        now = time.monotonic()
        with self._lock:
            cached = dict(self._rows)
        built = {run.id: self._row(run, cached.get(run.id), now) for run in [*chosen, *extra]}
        with self._lock:
            self._rows.update(built)
            if self._filling is None or not self._filling.is_alive():
                self._filling = threading.Thread(target=self.rows, name="hf-tracking-rows")
                self._filling.daemon = True
                self._filling.start()
        rows = [built[run.id][2] for run in chosen]
        known = [held[2] for held in {**cached, **built}.values()]
        selected = [built[run.id][2] for run in runs if run.id in wanted]
        return rows, selected, known, len(order), built[newest[0].id][2] if newest else None

    def _build(self, run: Run) -> dict[str, Any]:
        try:
            return self.build(run)
        except Exception as error:  # one bad run never breaks the list
            note = f"unreadable: {type(error).__name__}: {error}"
            return {"id": run.id, "name": run.name, "status": "unknown", "note": note[:300]}

    def page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        offset = _count(query, "offset", 0, None)
        limit = _count(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        sort = _text(query, "sort") or "updated"
        descending = _text(query, "dir") != "asc"
        text = (_text(query, "q") or "").lower()
        tag = _text(query, "tag")
        wanted = set(query.get("run") or [])
        if not text and not tag and sort == "updated" and not self._complete():
            page, selected, rows, total, newest = self._first_page(
                offset, limit, descending, wanted
            )
            matched = total
        else:
            filling = self._filling
            if filling is not None:
                filling.join()  # the rows it is building are not built twice
            rows = self.rows()
            found = [row for row in rows if _matches(row, text, tag)]
            page = _sorted(found, sort, descending)[offset : offset + limit]
            selected = [row for row in rows if row["id"] in wanted]
            total, matched = len(rows), len(found)
            newest = max(rows, key=lambda row: row.get("updated") or 0, default=None)
        tags = sorted({t for row in rows for t in row.get("tags") or [] if isinstance(t, str)})
        return {
            "runs": page,
            "total": total,
            "matched": matched,
            "offset": offset,
            "limit": limit,
            "selected": selected,
            "tags": tags[:MAX_TAGS],
            "live": sum(1 for row in rows if row.get("live")),
            "newest": newest["id"] if newest else None,
            "dirs": [str(root) for root in self.catalog.roots],
        }


def _matches(row: dict[str, Any], text: str, tag: str | None) -> bool:
    tags = row.get("tags") or []
    if tag and tag not in tags:
        return False
    if not text:
        return True
    return text in str(row.get("name", "")).lower() or any(text in str(t).lower() for t in tags)


def _sorted(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Rows by ``key`` (``config.NAME`` for a config field): numbers before text, and rows
    without the value last either way."""

    def value(row: dict[str, Any]) -> Any:
        if key.startswith("config."):
            return (row.get("config") or {}).get(key[len("config.") :])
        return row.get(key)

    present = [row for row in rows if value(row) is not None]
    missing = [row for row in rows if value(row) is None]

    def order(row: dict[str, Any]) -> tuple[int, Any]:
        item = value(row)
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return (0, item) if not descending else (1, item)
        return (1, str(item)) if not descending else (0, str(item))

    return sorted(present, key=order, reverse=descending) + missing


def _text(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _count(query: dict[str, list[str]], name: str, default: int, most: int | None) -> int:
    given = _text(query, name)
    if given in (None, ""):
        return default
    try:
        value = int(given)
    except ValueError:
        raise TableError(f"{name} must be a whole number, got {given!r}") from None
    if value < 0 or (most is not None and value > most):
        limit = f" and {most}" if most is not None else ""
        raise TableError(f"{name} must be between 0{limit}, got {value}")
    return value
