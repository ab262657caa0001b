"""MLflow's points on their way to a store that stops answering: kept, sent again in order, and
given up on past the bound with true counts (a store that raises, the fault injected)."""

from __future__ import annotations

import pytest

import hf_tracking.backends.mlflow_delivery as delivery_module
from hf_tracking.backends.mlflow_delivery import Delivery
from hf_tracking.backends.mlflow_reach import StoreUnavailable


class Store:
    """Takes calls while ``up``; records what it holds, in order."""

    def __init__(self) -> None:
        self.up = True
        self.held: list[int] = []
        self.calls = 0

    def send(self, points: list[int]) -> None:
        self.calls += 1
        if not self.up:
            raise StoreUnavailable("connection refused")
        self.held.extend(points)


class Clock:
    """The delivery's time: it moves only when the test or a sleep moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(delivery_module, "time", clock)
    return clock


def test_points_wait_through_an_outage_and_go_in_order(clock):
    store = Store()
    delivery = Delivery(store.send, "http://team:5000", retry_seconds=60)
    delivery.add([1, 2])
    delivery.flush()
    store.up = False
    for record in ([3], [], [4, 5]):
        delivery.add(record)
        delivery.flush()  # one failed call, then none before the wait is over
    assert (store.calls, delivery.failed_calls, delivery.waiting) == (2, 1, 3)
    assert delivery.records_delivered == 1 and delivery.down
    clock.sleep(1.0)  # the first wait
    delivery.flush()
    assert store.calls == 3  # tried again once the wait passed
    store.up = True
    began = clock.now
    delivery.flush(finishing=True)  # sleeps until the next try is due (2 s after the last)
    assert clock.now - began == 2.0
    assert store.held == [1, 2, 3, 4, 5] and delivery.records_delivered == 4
    assert (delivery.outages, delivery.failed_calls, delivery.gave_up) == (1, 2, None)
    assert delivery.longest_outage == 3.0 and not delivery.down


def test_past_the_bound_the_delivery_gives_up_and_counts_what_the_store_holds(clock):
    store = Store()
    delivery = Delivery(store.send, "http://team:5000", retry_seconds=20)
    delivery.add([1])
    delivery.flush()
    store.up = False
    delivery.add([2, 3])
    began = clock.now
    delivery.flush(finishing=True)  # tries after 1, 2, 4, 8 s, then at the bound
    assert clock.now - began == 20 and delivery.failed_calls == 6
    assert delivery.gave_up is not None and "http://team:5000" in delivery.gave_up
    assert "2 points of 1 records" in delivery.gave_up
    assert store.held == [1] and delivery.records_delivered == 1
    assert delivery.info()["points_not_delivered"] == 2
    store.up = True
    delivery.add([4])
    delivery.flush(finishing=True)
    assert store.held == [1]  # given up for good: nothing later is sent
