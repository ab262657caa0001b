"""Strict JSON and atomic files: the only place the project writes JSON or replaces a file.

JSON written here never holds ``NaN`` or ``Infinity`` tokens (they become ``null``), and a file is
written to a temporary sibling and renamed into place, so a reader sees the old file or the new
one, never half of one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger("hf_tracking")


def finite_or_none(value: Any) -> Any:
    """Replace non-finite floats, recursively, with None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def dumps_strict(value: Any, indent: int | None = None) -> str:
    """JSON text with NaN/inf as null; objects json cannot encode are written with ``str``."""
    return json.dumps(finite_or_none(value), indent=indent, allow_nan=False, default=str)


# One encoder for every line: json.dumps with a non-default option builds a new one per call.
_LINE_ENCODER = json.JSONEncoder(allow_nan=False)


def dumps_line(value: dict[str, Any]) -> str:
    """One JSONL line. The plain encoder first (most records are finite floats); a record with a
    non-finite number or an odd type takes the strict path."""
    try:
        return _LINE_ENCODER.encode(value) + "\n"
    except (ValueError, TypeError):
        return dumps_strict(value) + "\n"


def atomic_write_text(
    path: str | os.PathLike, text: str, temporary_dir: str | os.PathLike | None = None
) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename. The temporary file is
    made in ``temporary_dir`` (on the same filesystem; default: beside ``path``), which is where
    a kill between the write and the rename leaves it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    directory = path.parent if temporary_dir is None else temporary_dir
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_json(
    path: str | os.PathLike, value: Any, temporary_dir: str | os.PathLike | None = None
) -> None:
    atomic_write_text(path, dumps_strict(value, indent=2) + "\n", temporary_dir)


def dump_yaml(value: Any) -> str:
    import yaml

    # libyaml's emitter writes the same text as the pure-Python one, several times faster.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(finite_or_none(value), Dumper=dumper, sort_keys=False, allow_unicode=True)


# Readers refuse integers longer than this: no metric needs more, and a huge one overflows every
# float conversion downstream (plots, percentiles).
MAX_INT_DIGITS = 20


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def loads_bounded(text: str | bytes) -> Any:
    """``json.loads`` that raises ValueError, never RecursionError, on deep nesting, and refuses
    integers of more than ``MAX_INT_DIGITS`` digits."""
    try:
        return json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """The complete records of a JSONL file.

    A torn last line (a crash mid-write) ends the file. A line that is not a JSON object, is
    nested too deeply or holds an oversized integer is skipped; the number skipped is logged once
    per file, when the iteration ends.
    """
    skipped = 0
    try:
        with open(path, "rb") as stream:
            for raw in stream:
                if not raw.endswith(b"\n"):
                    return
                try:
                    record = loads_bounded(raw)
                except ValueError:
                    skipped += 1
                    continue
                if isinstance(record, dict):
                    yield record
                else:
                    skipped += 1
    finally:
        if skipped:
            logger.warning(
                "hf_tracking: skipped %d unreadable line(s) of %s (not a JSON object, nested too "
                "deeply or an oversized number)",
                skipped,
                path,
            )


def last_jsonl_record(path: str | os.PathLike, tail_bytes: int = 65536) -> dict[str, Any]:
    """The last complete record of a JSONL file, read from its tail ({} when there is none)."""
    with open(path, "rb") as stream:
        stream.seek(max(stream.seek(0, os.SEEK_END) - tail_bytes, 0))
        lines = stream.read().split(b"\n")[:-1]  # what follows the last newline is torn
    for raw in reversed(lines):
        try:
            record = loads_bounded(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            return record
    return {}


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file's value; ValueError for bad JSON, deep nesting or an oversized integer."""
    with open(path, encoding="utf-8") as stream:
        return loads_bounded(stream.read())
