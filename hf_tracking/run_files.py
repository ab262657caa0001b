"""Opening the files of a run store that readers did not write: regular files only, size-capped.

The dashboard and the reports read directories that anything may have written into. A FIFO in
place of ``metrics.jsonl`` would block ``open()`` until a writer came, ``/dev/zero`` behind a
symlink would never end, a YAML alias bomb expands exponentially and a 300 MB ``config.yaml``
takes minutes to parse. So every run file is opened with ``O_NONBLOCK`` (opening a FIFO returns
at once), checked with ``fstat`` to be a regular file before a byte is read, and read up to a
cap; YAML is parsed under the limits of :mod:`hf_tracking.config_files` (aliases, depth).
Every refusal is an ``OSError`` or a ``ValueError`` saying why.
"""

from __future__ import annotations

import os
import stat
from typing import IO, Any

from hf_tracking.config_files import MAX_CONFIG_BYTES, parse_yaml_limited
from hf_tracking.jsonio import loads_bounded

MAX_SUMMARY_BYTES = 16 * 1024**2


def open_regular(path: str | os.PathLike) -> tuple[IO[bytes], os.stat_result]:
    """``path`` opened for binary reading and its ``fstat``; ``OSError`` when it is not a
    regular file (a FIFO, a device, a directory), without waiting for anything."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{os.fspath(path)!r} is not a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb"), status
    except BaseException:
        os.close(descriptor)
        raise


def read_capped(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (``ValueError`` when larger)."""
    stream, status = open_regular(path)
    with stream:
        if status.st_size > limit:
            raise ValueError(f"{os.fspath(path)!r} is larger than {limit:,} bytes")
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{os.fspath(path)!r} is larger than {limit:,} bytes")
    return data


def read_json_file(path: str | os.PathLike, limit: int = MAX_SUMMARY_BYTES) -> Any:
    """A JSON file's value (a summary), read within the limits above."""
    return loads_bounded(read_capped(path, limit))


def read_yaml_file(path: str | os.PathLike, limit: int = MAX_CONFIG_BYTES) -> Any:
    """A YAML file's value (``config.yaml``), with config loading's limits on size, aliases and
    depth; a ``ValueError`` names what was refused."""
    data = read_capped(path, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{os.fspath(path)!r} is not UTF-8: {error}") from None
    try:
        return parse_yaml_limited(text)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{os.fspath(path)!r}: {error}") from None
