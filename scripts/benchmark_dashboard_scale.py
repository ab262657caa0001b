"""The dashboard and ``hf-tracking compare`` at scale and under load, side by side with an older
tree.

    .venv/bin/python scripts/benchmark_dashboard_scale.py --against /tmp/old   # a checkout
    .venv/bin/python scripts/benchmark_dashboard_scale.py --quick             # smoke test

Made in a temporary directory, from a real tracker run's rows and summary: a run of
``--big-rows`` train rows (2,900,000: about 2 GB); ``--runs`` finished runs (10,000); a run of
``--names`` custom metric names (20,000), one a row; and a store of 20 runs for the load figures.
Each tree's ``hf-tracking serve`` runs as a child process (``PYTHONPATH`` set to the tree) with
``--memory-mb`` (256). Measured, per tree:

- ``big``: the first read of the big run (until ``/api/series`` says it is complete), then five
  curve requests (whole, three zooms, whole): each one's time and the bytes the server read from
  files meanwhile (``rchar`` of ``/proc/PID/io``); the server's peak RSS (``VmHWM``);
- ``runs``: ``/api/runs`` as the page asks for it (a first page of 100) on a fresh server and
  again, and the whole list (``limit=5000``; an older tree sends every row anyway): time, bytes;
- ``compare``: ``hf-tracking compare`` of every summary: wall time and peak RSS (``wait4``);
- ``wide``: ``/api/run`` of the wide run: time, bytes, and the events sent and the distinct names
  among them (an older page drew a table of one column a name: their product in cells);
- ``clients``: 200 concurrent GETs of ``/api/runs`` on the small store: answered within 10 s,
  median and maximum time; ``idle``: 1,000 idle connections held open: the server's threads,
  a request's time meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_dashboard import template_run, write_run  # noqa: E402
from benchmark_overhead import git_state, machine, print_table, versions  # noqa: E402


def status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def read_chars(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise KeyError("rchar")


def fetch(url: str, timeout: float = 600) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read()
    return time.perf_counter() - start, body


class Server:
    """``hf-tracking serve DIR`` of one tree, in a child process."""

    def __init__(self, tree: Path, directory: Path, memory_mb: int) -> None:
        environment = {**os.environ, "PYTHONPATH": str(tree), "WANDB_MODE": "disabled"}
        command = [sys.executable, "-m", "hf_tracking.cli", "serve", str(directory)]
        command += ["--port", "0", "--memory-mb", str(memory_mb)]
        self.process = subprocess.Popen(
            command, cwd=tree, env=environment, stdout=subprocess.PIPE, text=True
        )
        line = ""
        while "open http" not in line:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError(f"the server of {tree} did not start")
        self.url = line.rsplit("open ", 1)[1].strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def make_data(base: Path, args: argparse.Namespace) -> dict[str, Path]:
    train_row, summary = template_run(base / "template")
    places = {name: base / name for name in ("big", "runs", "wide", "small")}
    write_run(places["big"], "big", args.big_rows, train_row, summary)
    write_run(places["small"], "source", 200, train_row, summary)
    for number in range(20):
        shutil.copytree(places["small"] / "source", places["small"] / f"run{number:02d}")
        (places["small"] / f"run{number:02d}_summary.json").write_bytes(
            (places["small"] / "source_summary.json").read_bytes()
        )
    write_run(places["runs"], "source", 50, train_row, summary)
    source = places["runs"] / "source"
    for number in range(args.runs):
        name = f"run{number:05d}"
        (places["runs"] / name).mkdir()
        for file in source.iterdir():
            os.link(file, places["runs"] / name / file.name)
        copy = {**summary, "experiment_name": name, "run_dir": str(places["runs"] / name)}
        copy["config"] = {**summary.get("config", {}), "learning_rate": number * 1e-7}
        (places["runs"] / f"{name}_summary.json").write_text(json.dumps(copy))
    shutil.rmtree(source)
    (places["runs"] / "source_summary.json").unlink()
    write_run(places["wide"], "wide", 50, train_row, summary)
    with open(places["wide"] / "wide" / "metrics.jsonl", "a") as stream:
        for number in range(args.names):
            row = {"event": "custom", "time/gradient_steps": 50, f"custom/m{number:05d}": 1.0}
            stream.write(json.dumps(row) + "\n")
    return places


def measure_big(tree: Path, place: Path, memory_mb: int) -> dict[str, Any]:
    server = Server(tree, place, memory_mb)
    try:
        series = server.url + "api/series?run=big&y=train/loss&points=2800"
        start = time.perf_counter()
        while not json.loads(fetch(series)[1])["runs"][0].get("complete", True):
            time.sleep(0.5)  # read in the background since the server started
        first_read_s = time.perf_counter() - start
        requests = []
        rows = json.loads(fetch(series)[1])["runs"][0]["rows"]
        for lo, hi in ((None, None), (0.2, 0.4), (0.5, 0.51), (0.9, 0.9001), (None, None)):
            url = series if lo is None else f"{series}&lo={lo * rows:.0f}&hi={hi * rows:.0f}"
            before = read_chars(server.process.pid)
            seconds, body = fetch(url)
            read = read_chars(server.process.pid) - before
            points = len(json.loads(body)["runs"][0]["line"]["x"])
            requests.append({"seconds": seconds, "read_mb": read / 1024**2, "points": points})
        peak = status_kib(server.process.pid, "VmHWM") / 1024
    finally:
        server.stop()
    size = (place / "big" / "metrics.jsonl").stat().st_size / 1024**2
    return {"file_mb": size, "rows": rows, "first_read_s": first_read_s, "peak_rss_mb": peak,
            "requests": requests}  # fmt: skip


def measure_runs(tree: Path, place: Path, memory_mb: int) -> dict[str, Any]:
    server = Server(tree, place, memory_mb)
    try:
        page = server.url + "api/runs?offset=0&limit=100&sort=updated&dir=desc"
        first_s, first = fetch(page)
        second_s, _ = fetch(page)
        whole_s, whole = fetch(server.url + "api/runs?limit=5000")
    finally:
        server.stop()
    return {"first_s": first_s, "second_s": second_s, "page_kb": len(first) / 1024,
            "page_rows": len(json.loads(first)["runs"]), "whole_s": whole_s,
            "whole_mb": len(whole) / 1024**2}  # fmt: skip


def measure_compare(tree: Path, place: Path) -> dict[str, Any]:
    summaries = sorted(str(path) for path in place.glob("*_summary.json"))
    output = place.parent / f"compare-{tree.name}"
    environment = {**os.environ, "PYTHONPATH": str(tree), "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "hf_tracking.cli", "compare", *summaries, "--output"]
    start = time.perf_counter()
    process = subprocess.Popen([*command, str(output)], cwd=tree, env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    shutil.rmtree(output, ignore_errors=True)
    return {"runs": len(summaries), "seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024,
            "exit": process.returncode}  # fmt: skip


def measure_wide(tree: Path, place: Path, memory_mb: int) -> dict[str, Any]:
    server = Server(tree, place, memory_mb)
    try:
        first_s, body = fetch(server.url + "api/run?id=wide")
        again_s, _ = fetch(server.url + "api/run?id=wide")
    finally:
        server.stop()
    detail = json.loads(body)
    names = {key for event in detail["events"] for key in event}
    return {"first_s": first_s, "again_s": again_s, "mb": len(body) / 1024**2,
            "events": len(detail["events"]), "event_names": len(names)}  # fmt: skip


def measure_load(tree: Path, place: Path, memory_mb: int, clients: int, idle: int) -> dict:
    server = Server(tree, place, memory_mb)
    try:
        url = server.url + "api/runs?limit=100"
        fetch(url)
        barrier, results = threading.Barrier(clients), []

        def client() -> None:
            barrier.wait()
            try:
                results.append(fetch(url, timeout=10)[0])
            except Exception as error:
                results.append(type(error).__name__)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        times = [result for result in results if isinstance(result, float)]
        host, port = server.url.split("//")[1].strip("/").rsplit(":", 1)
        held = [socket.create_connection((host, int(port)), timeout=30) for _ in range(idle)]
        time.sleep(2.0)
        threads_held = status_kib(server.process.pid, "Threads")
        try:
            during_s = fetch(url, timeout=60)[0]
        except Exception as error:
            during_s = type(error).__name__
        for connection in held:
            connection.close()
    finally:
        server.stop()
    return {"answered": len(times), "clients": clients,
            "median_s": statistics.median(times) if times else None,
            "max_s": max(times) if times else None, "idle": idle,
            "threads_while_idle": threads_held, "request_while_idle_s": during_s}  # fmt: skip


def measure(tree: Path, places: dict[str, Path], args: argparse.Namespace) -> dict[str, Any]:
    print(f"measuring {tree}", flush=True)
    return {
        "big": measure_big(tree, places["big"], args.memory_mb),
        "runs": measure_runs(tree, places["runs"], args.memory_mb),
        "compare": measure_compare(tree, places["runs"]),
        "wide": measure_wide(tree, places["wide"], args.memory_mb),
        "load": measure_load(tree, places["small"], args.memory_mb, args.clients, args.idle),
    }


def table(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    def cell(tree: str, figure: Any) -> str:
        try:
            return figure(results[tree])
        except (KeyError, TypeError, ValueError):
            return "-"

    rows = [
        ("big run: first read (s)", lambda r: f"{r['big']['first_read_s']:.1f}"),
        ("big run: server peak RSS (MB)", lambda r: f"{r['big']['peak_rss_mb']:.0f}"),
        ("big run: 5 curve/zoom requests (s each)",
         lambda r: ", ".join(f"{q['seconds']:.2f}" for q in r["big"]["requests"])),
        ("big run: MB read for those 5", lambda r: f"{sum(q['read_mb'] for q in r['big']['requests']):.0f}"),
        ("/api/runs page, first / second (s)", lambda r: f"{r['runs']['first_s']:.2f} / {r['runs']['second_s']:.2f}"),
        ("/api/runs page size (KB, rows)", lambda r: f"{r['runs']['page_kb']:.0f}, {r['runs']['page_rows']}"),
        ("/api/runs whole list (s, MB)", lambda r: f"{r['runs']['whole_s']:.2f}, {r['runs']['whole_mb']:.1f}"),
        ("compare of every summary (s, peak MB)",
         lambda r: f"{r['compare']['seconds']:.1f}, {r['compare']['peak_rss_mb']:.0f} (exit {r['compare']['exit']})"),
        ("wide run /api/run (s, MB)", lambda r: f"{r['wide']['first_s']:.2f}, {r['wide']['mb']:.1f}"),
        ("wide run: events sent, names among them",
         lambda r: f"{r['wide']['events']:,}, {r['wide']['event_names']:,}"),
        ("concurrent clients answered in 10 s",
         lambda r: f"{r['load']['answered']} of {r['load']['clients']} (median {r['load']['median_s']:.2f} s, max {r['load']['max_s']:.2f} s)"),
        ("server threads with idle connections open",
         lambda r: f"{r['load']['threads_while_idle']} ({r['load']['idle']} idle)"),
        ("a request meanwhile (s)", lambda r: f"{r['load']['request_while_idle_s']:.2f}"),
    ]  # fmt: skip
    return [[name, *(cell(tree, figure) for tree in results)] for name, figure in rows]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", help="another tree (a checkout) to measure the same way")
    parser.add_argument("--big-rows", type=int, default=2_900_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--names", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--output", default="benchmark_dashboard_scale.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.big_rows, args.runs, args.names, args.clients, args.idle = 5_000, 10, 200, 20, 30
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    trees = {"this tree": ROOT}
    if args.against:
        trees["against"] = Path(args.against).resolve()
    with tempfile.TemporaryDirectory(prefix="hf-tracking-scale-") as temp:
        places = make_data(Path(temp), args)
        results = {name: measure(tree, places, args) for name, tree in trees.items()}
    output = {
        "sizes": {key: getattr(args, key) for key in ("big_rows", "runs", "names", "clients", "idle", "memory_mb")},
        "trees": {name: str(tree) for name, tree in trees.items()},
        "results": results, "versions": versions(), "machine": machine(), "git": git_state(),
        "load_average": os.getloadavg(),
    }  # fmt: skip
    print_table("dashboard at scale", ["what", *results], table(results))
    Path(args.output).write_text(json.dumps(output, indent=2) + "\n")
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "disabled")
    sys.exit(main())
