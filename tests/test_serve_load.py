"""The dashboard under load: many clients at once, idle connections, and big run stores."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import pytest

from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.server import DashboardServer
from tests.support.dashboard import finished_run

CLIENTS = 200


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    directory = tmp_path_factory.mktemp("store")
    for name in ("first", "second"):
        finished_run(directory, name, steps=30)
    return directory


def test_200_concurrent_clients_are_all_answered(store):
    server = DashboardServer(RunCatalog([store]), "127.0.0.1", 0)
    server.start()
    barrier = threading.Barrier(CLIENTS)
    results: list[tuple[int, float] | str] = []

    def client(number: int) -> None:
        page = "api/runs" if number % 2 else "api/series?run=first"
        barrier.wait(timeout=30)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(server.url + page, timeout=10) as response:
                json.loads(response.read())
                results.append((response.status, time.monotonic() - started))
        except Exception as error:
            results.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    failures = [result for result in results if isinstance(result, str) or result[0] != 200]
    assert len(results) == CLIENTS and not failures, failures[:5]


def test_idle_connections_hold_no_thread_and_are_closed(store):
    server = DashboardServer(RunCatalog([store]), "127.0.0.1", 0, idle_timeout=1.0)
    server.start()
    host, port = server.server_address[:2]
    before = threading.active_count()
    idle = [socket.create_connection((host, port), timeout=10) for _ in range(CLIENTS)]
    try:
        deadline = time.monotonic() + 10
        while server.idle_connections() < CLIENTS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.idle_connections() == CLIENTS
        assert threading.active_count() - before <= 20  # the pool, not a thread a connection
        with urllib.request.urlopen(server.url + "api/runs", timeout=10) as response:
            assert response.status == 200
        for connection in idle:  # each closed by the server once idle for a second
            assert connection.recv(1) == b""
        assert server.idle_connections() == 0
    finally:
        for connection in idle:
            connection.close()
        server.shutdown()
        server.server_close()
