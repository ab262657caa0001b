"""Backends that fail on purpose, to inject faults (the only fakes the tests use)."""

from __future__ import annotations

import threading

from hf_tracking.backends.base import Backend, Record


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
