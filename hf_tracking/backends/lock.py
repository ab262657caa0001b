"""One writer per run directory: an exclusive ``flock`` on ``{run_dir}/.lock``.

The lock is taken without waiting and held until :meth:`RunDirLock.release` or the death of the
process (the kernel drops it then, so a ``kill -9`` never leaves a stale lock). The file holds the
owner's pid, for the error a second writer gets. Where the filesystem has no ``flock`` (some
network mounts), the lock is reported unavailable and writing goes on unlocked.

A ``flock`` belongs to the open file, which a forked child shares: a DataLoader worker still
alive after the run ended would keep the run locked. A child forked from Python (``os.fork``,
``multiprocessing``) closes its copies at once; a child that ``exec``s has none (the descriptor
is not inheritable).
"""

from __future__ import annotations

import contextlib
import errno
import os
import weakref
from pathlib import Path

LOCK_FILE = ".lock"
_held: weakref.WeakSet[RunDirLock] = weakref.WeakSet()


def _close_in_child() -> None:
    """After a fork, in the child: drop its copies of the held locks (the parent keeps them)."""
    for lock in list(_held):
        lock.forget()


class RunDirLocked(RuntimeError):
    """Another process (or another store in this one) writes this run directory; ``holder``
    says which."""

    def __init__(self, run_dir: Path, holder: str) -> None:
        super().__init__(
            f"the run directory {str(run_dir)!r} is being written by {holder}; this one writes "
            "no local files"
        )
        self.holder = holder


class RunDirLock:
    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None
        self.state = "not taken"
        self.adopted = False

    def adopt(self) -> RunDirLock:
        """Take over this lock, taken by another part of this process (the run session), to
        release it when done (the local store, at its finish)."""
        self.adopted = True
        return self

    def acquire(self) -> None:
        """Take the lock or raise :class:`RunDirLocked` naming the holder."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            if holder == str(os.getpid()):
                who = "another tracker of this process (finish it before resuming the run)"
            else:
                who = f"another process{f' (pid {holder})' if holder else ''}"
            raise RunDirLocked(self.path.parent, who) from None
        except OSError as error:
            if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                os.close(fd)
                raise
            self.state = f"unavailable ({error.strerror})"
            self._fd = fd
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        self.state = "held"
        _held.add(self)

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases it)."""
        _held.discard(self)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.state = "released"

    def forget(self) -> None:
        """Close this process's descriptor without unlocking the file: a forked child's copy."""
        _held.discard(self)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
            self.state = "held by the parent process"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
