"""Reading what a run left on disk."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hf_tracking.jsonio import iter_jsonl


def strict_json(path: str | Path) -> Any:
    """Parse a file as strict JSON: NaN/Infinity tokens are an error."""

    def reject(token: str) -> float:
        raise ValueError(f"non-strict JSON token {token} in {path}")

    return json.loads(Path(path).read_text(), parse_constant=reject)


def metrics_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    for line in path.read_text().splitlines():
        strict_json_line(line)
    return list(iter_jsonl(path))


def strict_json_line(line: str) -> Any:
    def reject(token: str) -> float:
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(line, parse_constant=reject)


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def crashed_and_resumed(config: Any) -> tuple[dict[str, Any], Any]:
    """A run that saves its state at step 3, fails after step 6 and is resumed from that state
    to step 8 (loss 2.0 before the resume, 1.5 after); returns the state and the resumed
    tracker, not finished yet."""
    from hf_tracking import ExperimentTracker

    first = ExperimentTracker(config)
    state = None
    for iteration in range(6):
        first.log_train_step(loss=2.0, tokens=16, iteration=iteration)
        if iteration == 2:
            state = first.state_dict()  # the checkpoint at step 3
    first.finish(status="failed", wait=True)  # the crash after step 6
    second = ExperimentTracker(config)
    second.load_state_dict(state)
    for iteration in range(3, 8):
        second.log_train_step(loss=1.5, tokens=16, iteration=iteration)
    return state, second
