"""The runs under the served directories: discovery, summaries, indexes within a memory budget.

A run named N under a directory D is ``D/N/metrics.jsonl`` and/or ``D/N_summary.json``. Runs are
found by listing the directories (at most once a second); a run is only ever looked up by its id in
that listing, never by a path taken from a request. The id is the run's name (``ROOT:name`` with
several directories), or for a name that would be shown masked, the masked name and a hash.
Summaries and ``config.yaml`` are read within the limits of :mod:`hf_tracking.run_files`, again
when they change, and masked again as their writer masked them (:func:`mask`).

Status: the summary's (running, finished, failed, interrupted), or ``running`` while a run has no
summary yet; a running run is *live* while its metrics were written in the last five minutes.
Metrics indexes (:mod:`hf_tracking.serve.index`) are built on first use, each held within a
quarter of ``memory_budget`` bytes (thinned while read, so a run of any size is read once), and
kept within the budget in all: past it, the indexes of runs not running are dropped, least
recently used first, and rebuilt when asked for again.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from hf_tracking.backends.local import CONFIG_FILE, METRICS_FILE, SUMMARY_SUFFIX
from hf_tracking.redact import current_pattern, mask_text, redact
from hf_tracking.run_files import read_json_file, read_yaml_file
from hf_tracking.serve.index import MetricsIndex

LIVE_SECONDS = 300.0
SCAN_SECONDS = 1.0
DEFAULT_MEMORY_BUDGET = 1024**3
RUN_SHARE = 4  # an index is held within a quarter of the budget


class Run:
    """One run: where its files are, its summary and config as last read, its index."""

    def __init__(self, run_id: str, name: str, root: Path) -> None:
        self.id = run_id
        self.name = name
        self.root = root
        self.run_dir = root / name
        self.metrics_path = self.run_dir / METRICS_FILE
        self.summary_path = root / f"{name}{SUMMARY_SUFFIX}"
        self.index: MetricsIndex | None = None
        self.used = 0.0
        self._files: dict[str, tuple[tuple[int, int, int], Any]] = {}

    def _cached(self, path: Path, read: Any) -> Any:
        """``read(path)``, masked, re-read only when the file's identity, size or modification
        time changes. A file that cannot be read (refused by the limits of
        :mod:`hf_tracking.run_files`, or caught mid-rename) keeps the last value read; the
        failure is remembered too, so a refused file is not read again on every request."""
        try:
            status = path.stat()
        except OSError:
            return None
        key = (status.st_ino, status.st_size, status.st_mtime_ns)
        cached = self._files.get(str(path))
        if cached is None or cached[0] != key:
            try:
                if not inside(path, self.root):
                    raise OSError(f"{path} leads out of {self.root}")
                value = mask(read(path))
            except (OSError, ValueError, RecursionError):
                value = cached[1] if cached else None
            cached = self._files[str(path)] = (key, value)
        return cached[1]

    def summary(self) -> dict[str, Any] | None:
        value = self._cached(self.summary_path, read_json_file)
        return value if isinstance(value, dict) else None

    def config(self) -> dict[str, Any]:
        summary = self.summary()
        if summary and isinstance(summary.get("config"), dict):
            return summary["config"]
        value = self._cached(
            self.run_dir / CONFIG_FILE, lambda path: {"config": read_yaml_file(path)}
        )
        value = value.get("config") if isinstance(value, dict) else None
        return value if isinstance(value, dict) else {}

    def files_key(self) -> tuple:
        """The identity, size and modification time of the run's files: a change to any of
        them changes this."""
        key = []
        for path in (self.summary_path, self.run_dir / CONFIG_FILE, self.metrics_path):
            try:
                status = path.stat()
                key.append((status.st_ino, status.st_size, status.st_mtime_ns))
            except OSError:
                key.append(None)
        return tuple(key)

    def metrics_mtime(self) -> float | None:
        try:
            return self.metrics_path.stat().st_mtime
        except OSError:
            return None

    def status(self) -> str:
        summary = self.summary()
        status = (summary or {}).get("status")
        return status if isinstance(status, str) and status else "running"

    def live(self) -> bool:
        mtime = self.metrics_mtime()
        return (
            self.status() == "running" and mtime is not None and time.time() - mtime < LIVE_SECONDS
        )

    def flops_per_token(self) -> float | None:
        """The summary's FLOPs per token, or else the ratio of model FLOP/s to tokens/s that
        every train row carries (a run still writing has no summary yet)."""
        summary = self.summary() or {}
        total = field(summary, "flops", "flops_per_token", "total")
        if _finite(total):
            return float(total)
        if self.index is not None:
            last = self.index.last("train")
            tflops = last.get("throughput/model_tflops_per_second")
            rate = last.get("throughput/tokens_per_second")
            if _finite(tflops) and _finite(rate) and rate > 0:
                return tflops * 1e12 / rate
        return None


def mask(value: Any, pattern: re.Pattern[str] | None = None) -> Any:
    """The masking the files had when written: credential-like keys of a config and the
    environment's known secrets in any string. (Key masking over a whole summary would hide
    figures such as ``flops_per_token``, whose name ends in "token".) The environment is
    scanned once a document, not once a string."""
    pattern = pattern or current_pattern()
    if isinstance(value, dict):
        return {
            key: redact(item) if key == "config" and isinstance(item, dict) else mask(item, pattern)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask(item, pattern) for item in value]
    return mask_text(value, pattern) if isinstance(value, str) else value


def field(document: Any, *path: str) -> Any:
    """``document[path[0]][path[1]]...``, or None where a step is missing or not a dict (a
    malformed summary reads as one without that field)."""
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def inside(path: str | os.PathLike, root: Path) -> bool:
    """Whether ``path``, symlinks resolved, lies under ``root`` (resolved): a link that leads out
    of a served directory is not served."""
    return Path(os.path.realpath(path)).is_relative_to(root)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


class RunCatalog:
    """Every run under ``roots``, by id."""

    def __init__(self, roots: list[str | os.PathLike], memory_budget: int = DEFAULT_MEMORY_BUDGET):
        self.roots = [Path(root).resolve() for root in roots]
        self.memory_budget = memory_budget
        self._runs: dict[str, Run] = {}
        self._scanned = -math.inf
        self._lock = threading.RLock()
        self._key = os.urandom(16)  # for the ids of runs whose names are masked

    def runs(self) -> list[Run]:
        with self._lock:
            if time.monotonic() - self._scanned >= SCAN_SECONDS:
                self._scan()
            return list(self._runs.values())

    def get(self, run_id: str) -> Run | None:
        self.runs()
        return self._runs.get(run_id)

    def _scan(self) -> None:
        found: list[tuple[Path, str]] = []
        for root in self.roots:
            names = set()
            try:
                entries = list(os.scandir(root))
            except OSError:
                continue
            for entry in entries:
                if entry.name.endswith(SUMMARY_SUFFIX) and entry.is_file():
                    if inside(entry.path, root):
                        names.add(entry.name[: -len(SUMMARY_SUFFIX)])
                    continue
                metrics = os.path.join(entry.path, METRICS_FILE)
                if entry.is_dir() and os.path.isfile(metrics) and inside(metrics, root):
                    names.add(entry.name)
            found.extend((root, name) for name in sorted(names))
        several = len(self.roots) > 1
        runs = {}
        pattern = current_pattern()
        for root, name in found:
            place = self.roots.index(root)
            run_id = self._id(place, name, pattern)
            run_id = f"{place}:{run_id}" if several else run_id
            runs[run_id] = self._runs.get(run_id) or Run(run_id, name, root)
        self._runs = runs
        self._scanned = time.monotonic()

    def _id(self, place: int, name: str, pattern: re.Pattern[str]) -> str:
        """The run's name, or, where the name holds something that looks like a secret (it is
        shown masked), the masked name and a keyed hash of the real one: unique and openable,
        and saying nothing about the secret."""
        shown = mask_text(name, pattern)
        if shown == name:
            return name
        digest = hashlib.blake2b(f"{place}/{name}".encode(), key=self._key, digest_size=6)
        return f"{shown}~{digest.hexdigest()}"

    def index(self, run: Run) -> MetricsIndex:
        """The run's index, brought up to date (only the bytes written since the last call)."""
        with self._lock:
            if run.index is None:
                share = max(self.memory_budget // RUN_SHARE, 1)
                run.index = MetricsIndex(run.metrics_path, run.root, max_bytes=share)
            run.used = time.monotonic()
            index = run.index
        index.update()
        self._trim()
        return index

    def memory(self) -> int:
        return sum(run.index.nbytes() for run in list(self._runs.values()) if run.index)

    def _trim(self) -> None:
        with self._lock:
            held = [run for run in self._runs.values() if run.index is not None]
            total = sum(run.index.nbytes() for run in held)
            for run in sorted(held, key=lambda item: item.used):
                if total <= self.memory_budget:
                    break
                if run.status() == "running" or time.monotonic() - run.used < 1.0:
                    continue
                total -= run.index.nbytes()
                run.index = None
