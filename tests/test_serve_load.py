"""The dashboard under load: many clients at once, idle connections, and big run stores."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from hf_tracking.jsonio import iter_jsonl
from hf_tracking.serve import api
from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.server import DashboardServer
from hf_tracking.serve.table import RunsTable, TableError
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


MEMORY_CHILD = r"""
import json, re, sys
from hf_tracking.serve import api
from hf_tracking.serve.runs import RunCatalog

def kib(name):
    return int(re.search(name + r":\s+(\d+)", open("/proc/self/status").read()).group(1))

root, budget = sys.argv[1], int(sys.argv[2])
catalog = RunCatalog([root], memory_budget=budget)
run = catalog.get("big")
with open("/proc/self/clear_refs", "w") as stream:
    stream.write("5")  # the peak RSS (VmHWM) starts again from here
base = kib("VmRSS")
index = catalog.index(run)
answers = []
for lo, hi in ((None, None), (5000, 9000), (20000, 20100), (None, None)):
    query = {"run": ["big"], "y": ["train/loss"], "points": ["400"]}
    query.update({"lo": [str(lo)], "hi": [str(hi)]} if lo is not None else {})
    answers.append(api.series(catalog, query)["runs"][0])
print(json.dumps({
    "peak_mb": (kib("VmHWM") - base) / 1024, "index_bytes": index.nbytes(),
    "bytes_read": index.bytes_read, "same_index": catalog.get("big").index is index,
    "lines": [answer["line"] for answer in answers], "total": answers[0]["total"],
}))
"""


def big_run(directory, rows: int):
    """A run of ``rows`` train rows with the keys of a real one, a spike at row 12,345."""
    finished_run(directory, "big", steps=10)
    metrics = directory / "big" / "metrics.jsonl"
    template = next(row for row in iter_jsonl(metrics) if row["event"] == "train")
    with open(metrics, "w") as stream:
        for step in range(1, rows + 1):
            loss = 50.0 if step == 12345 else 2.0 + 1.0 / step + 0.01 * (step % 7)
            row = {**template, "time/gradient_steps": step, "train/loss": loss}
            row["time/tokens_seen"] = 64 * step
            stream.write(json.dumps(row) + "\n")
    return metrics


def test_a_big_finished_run_is_read_once_within_the_memory_cap(tmp_path):
    """A run of about 40 MB served with a 4 MiB budget: the index stays in its share, the
    process's peak memory grows by a bounded amount (it grew by the whole index and every
    parsed row before), and series and zooms read nothing more from the file."""
    metrics = big_run(tmp_path, 80_000)
    budget = 4 * 1024**2
    child = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(tmp_path), str(budget)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    found = json.loads(child.stdout)
    assert found["index_bytes"] <= budget // 4
    assert found["peak_mb"] < 32, found["peak_mb"]  # 164 MB before
    assert found["bytes_read"] == metrics.stat().st_size and found["same_index"]
    whole, zoom, deep, again = found["lines"]
    assert found["total"] == 80_000 and whole == again
    assert whole["x"][0] == 1 and whole["x"][-1] == 80_000 and max(whole["y"]) == 50.0
    assert min(zoom["x"]) <= 5000 and max(zoom["x"]) >= 9000 and len(zoom["x"]) > 100
    assert deep["x"][0] <= 20000 and deep["x"][-1] >= 20100


def many_runs(directory, source, count: int) -> None:
    """``count`` copies of one finished run, each with its own steps, tags and learning rate."""
    summary = json.loads((source.parent / f"{source.name}_summary.json").read_text())
    for number in range(count):
        name = f"run{number:04d}"
        shutil.copytree(source, directory / name)
        copy = {**summary, "experiment_name": name, "tags": ["odd" if number % 2 else "even"]}
        copy["totals"] = {**summary["totals"], "gradient_steps": (number * 7919) % count}
        copy["config"] = {**summary["config"], "learning_rate": number / 1000}
        (directory / f"{name}_summary.json").write_text(json.dumps(copy))


def test_the_runs_table_is_paged_sorted_filtered_and_built_once_a_run(store, tmp_path):
    many_runs(tmp_path, store / "first", 120)
    catalog = RunCatalog([tmp_path])
    built = []
    table = RunsTable(catalog, lambda run: built.append(run.id) or api.run_row(catalog, run))
    query = {"offset": ["60"], "limit": ["30"], "sort": ["steps"], "dir": ["asc"]}
    page = table.page({**query, "run": ["run0007", "run0119"]})
    assert page["total"] == page["matched"] == 120 and len(page["runs"]) == 30
    assert [row["steps"] for row in page["runs"]] == list(range(60, 90))
    assert [row["id"] for row in page["selected"]] == ["run0007", "run0119"]
    assert page["tags"] == ["even", "odd"] and len(built) == 120
    odd = table.page({"q": ["RUN01"], "tag": ["odd"], "sort": ["config.learning_rate"]})
    assert odd["matched"] == 10 and odd["runs"][0]["id"] == "run0119"
    assert len(built) == 120  # every row came from the cache
    with pytest.raises(TableError, match="limit must be between 0 and"):
        table.page({"limit": ["100000"]})
    fresh = RunsTable(catalog, lambda run: api.run_row(catalog, run))
    first = fresh.page({"limit": ["10"], "run": ["run0003"]})  # rows built for this page only
    assert len(first["runs"]) == 10 and first["total"] == 120 and first["newest"]
    assert [row["id"] for row in first["selected"]] == ["run0003"]
    fresh._filling.join(timeout=60)  # the rest, built on a thread
    assert len(fresh.rows()) == 120 and fresh.page({"tag": ["odd"]})["matched"] == 60
    server = DashboardServer(catalog, "127.0.0.1", 0)
    server.start()
    try:
        with urllib.request.urlopen(server.url + "api/runs?limit=20&offset=110") as response:
            answer = json.loads(response.read())
        assert answer["total"] == 120 and len(answer["runs"]) == 10
    finally:
        server.shutdown()
        server.server_close()
