"""Read an offline W&B run back from its ``run-<id>.wandb`` file, for tests.

The file is a LevelDB-style log: a 7-byte header (``:W&B``, uint16 0xBEE1, uint8 0), then 32 KiB
blocks of records with a 7-byte header each (uint32 masked CRC, uint16 length, uint8 type:
FULL=1, FIRST=2, MIDDLE=3, LAST=4). Payloads are ``wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK_SIZE = 32 * 1024
HEADER_SIZE = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    run_id: str = ""
    name: str = ""
    project: str = ""
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    group: str = ""
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None


def _payloads(data: bytes) -> list[bytes]:
    assert data[:4] == b":W&B", "not a .wandb file"
    position = HEADER_SIZE
    payloads: list[bytes] = []
    pending = b""
    while position + HEADER_SIZE <= len(data):
        left_in_block = BLOCK_SIZE - position % BLOCK_SIZE
        if left_in_block < HEADER_SIZE:
            position += left_in_block
            continue
        _checksum, length, kind = struct.unpack("<IHB", data[position : position + HEADER_SIZE])
        position += HEADER_SIZE
        chunk = data[position : position + length]
        position += length
        if kind == FULL:
            payloads.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            payloads.append(pending + chunk)
            pending = b""
        else:
            break
    return payloads


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_run(run_dir: str | Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2

    run_dir = Path(run_dir)
    (path,) = run_dir.glob("run-*.wandb")
    run = OfflineRun()
    for payload in _payloads(path.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id = record.run.run_id
            run.name = record.run.display_name
            run.project = record.run.project
            run.tags = list(record.run.tags)
            run.notes = record.run.notes
            run.group = record.run.run_group
            for item in record.run.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "history":
            run.history.append(
                {_key(item): json.loads(item.value_json) for item in record.history.item}
            )
        elif kind == "summary":
            for item in record.summary.update:
                run.summary[_key(item)] = json.loads(item.value_json)
        elif kind == "metric":
            metric = record.metric
            name = metric.name or metric.glob_name
            run.metrics[name] = {"step_metric": metric.step_metric, "glob": bool(metric.glob_name)}
        elif kind == "artifact":
            artifact = record.artifact
            run.artifacts.append(
                {"name": artifact.name, "type": artifact.type, "aliases": list(artifact.aliases)}
            )
        elif kind == "alert":
            alert = record.alert
            run.alerts.append({"title": alert.title, "text": alert.text, "level": alert.level})
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


def find_offline_runs(root: str | Path) -> list[Path]:
    """The offline runs under ``root``, the deferred ones written first from their local stores
    (as ``hf-tracking sync --no-upload`` writes them)."""
    from hf_tracking.backends.wandb_deferred import SPEC_FILE, write_offline_run

    for spec in Path(root).rglob(SPEC_FILE):
        write_offline_run(spec.parent)
    return sorted(Path(root).rglob("offline-run-*"))


def wait_for_exit(run_dir: str | Path, timeout: float = 60.0) -> OfflineRun:
    """Read the run once its ``exit`` record is written (finish can return a little earlier)."""
    deadline = time.monotonic() + timeout
    while True:
        run = read_run(run_dir)
        if run.exit_code is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.1)
