"""An append-only file whose content always ends with a whole write.

Each batch is one unbuffered ``os.write`` loop. After a failed write (a full disk) the file is
cut back to the end of its last whole write, at once if it can be and otherwise before the next
write, so a torn record is never followed by more. The local store (JSON lines) and the
TensorBoard event file both write this way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class WholeAppends:
    """``path`` opened for appending. ``whole_end`` is where the file's last whole record ends
    (its size when not given); bytes past it are cut before the first write. ``write`` writes
    every byte or raises (the point where tests inject a full disk)."""

    def __init__(
        self,
        path: str | Path,
        whole_end: int | None = None,
        write: Callable[[int, bytes], None] = write_all,
    ) -> None:
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        self._good_offset = size if whole_end is None else whole_end
        self._torn = self._good_offset != size
        self._write = write
        self.repairs = 0

    def append(self, data: bytes) -> None:
        """Append ``data`` whole; raises the ``OSError`` of a failed write, after which the
        file is cut back to its last whole write."""
        assert self._fd is not None, "WholeAppends.append after close"
        if self._torn:
            self._repair()
        try:
            self._write(self._fd, data)
        except BaseException:
            self._torn = True
            # Cut the partial write now, so a crash before the next write leaves a clean file;
            # if that fails too, it is tried again before the next write.
            with contextlib.suppress(OSError):
                self._repair()
            raise
        self._good_offset += len(data)

    def _repair(self) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, self._good_offset)
        self._torn = False
        self.repairs += 1

    def close(self) -> None:
        if self._fd is not None:
            if self._torn:
                with contextlib.suppress(OSError):  # readers skip a torn record left in place
                    self._repair()
            os.close(self._fd)
            self._fd = None
