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
