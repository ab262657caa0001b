"""Backends that fail on purpose, to inject faults (the only fakes the tests use)."""

from __future__ import annotations

import threading

from hf_tracking.backends.base import Backend, Record
from hf_tracking.backends.local import LocalRunStore


class RaisingOnLog(Backend):
    """A remote backend whose ``log`` raises on the ``fail_on``-th call and works otherwise."""

    name = "flaky"

    def __init__(self, fail_on: int = 5) -> None:
        self.fail_on = fail_on
        self.calls = 0
        self.received: list[Record] = []

    def log(self, record: Record) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ConnectionError("service unavailable")
        self.received.append(record)


class HangingFinish(Backend):
    """A remote backend whose ``finish`` never returns."""

    name = "hanging"

    def __init__(self) -> None:
        self.received = 0

    def log(self, record: Record) -> None:
        self.received += 1

    def finish(self, status: str, exit_code: int) -> None:
        threading.Event().wait()


class StuckLog(Backend):
    """A remote backend whose ``log`` blocks until released (a service stuck for minutes)."""

    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()

    def log(self, record: Record) -> None:
        self.release.wait()


class BlockingLocalStore(LocalRunStore):
    """The real local run store whose writes block, from the ``block_on``-th call on, until
    ``release`` is set (a hung network filesystem)."""

    def __init__(self, block_on: int = 1) -> None:
        super().__init__()
        self.block_on = block_on
        self.calls = 0
        self.release = threading.Event()
        self.blocked = threading.Event()

    def log_batch(self, records: list[Record]) -> None:
        self.calls += 1
        if self.calls >= self.block_on and not self.release.is_set():
            self.blocked.set()
            self.release.wait()
        super().log_batch(records)


class ExitingOnLog(Backend):
    """A backend whose ``log`` calls ``sys.exit`` (a library that exits) from the ``fail_on``-th
    call on; ``remote`` says on which thread it runs."""

    name = "exiting"

    def __init__(self, remote: bool, fail_on: int = 50) -> None:
        self.remote = remote  # type: ignore[misc]
        self.fail_on = fail_on
        self.calls = 0

    def log(self, record: Record) -> None:
        self.calls += 1
        if self.calls >= self.fail_on:
            raise SystemExit(3)


class BlockingBackend(Backend):
    """A backend beside the local store (``remote = False``: local files of its own) whose
    ``log`` blocks from the ``block_on``-th call until ``release`` is set."""

    name = "blocking"
    remote = False

    def __init__(self, block_on: int = 50) -> None:
        self.block_on = block_on
        self.calls = 0
        self.release = threading.Event()

    def log(self, record: Record) -> None:
        self.calls += 1
        if self.calls >= self.block_on:
            self.release.wait()


class MutatingBackend(Backend):
    """A backend that changes the records it gets, at once and again later (it keeps them)."""

    name = "mutating"

    def __init__(self) -> None:
        self.kept: list[Record] = []

    def log(self, record: Record) -> None:
        for earlier in self.kept[-5:]:
            earlier.values.clear()
        record.values["train/loss"] = -1.0
        record.values.pop("time/gradient_steps", None)
        self.kept.append(record)
