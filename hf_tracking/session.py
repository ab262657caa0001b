"""The run session: the run directory, summary ownership, the writer thread and the way out.

A session opens once (under a lock, so concurrent first calls make one run): it resolves the
output directory to an absolute path (a later ``os.chdir`` moves nothing), reserves a fresh run
directory (or reuses the one being resumed) and takes its lock (:mod:`hf_tracking.backends.lock`,
handed to the local store), takes ownership of the summary file and starts the dispatcher,
which starts every backend on its own thread.

A resume whose run directory another writer holds (two processes resuming one run, or a run
resumed in the process that still writes it) goes on in a run of its own, with a warning: the
sibling directory ``{name}.conflict-{pid}``, which starts with the run's rows up to the resume
step, and its own summary. Nothing is lost and neither writer touches the other's files; the
backends start it as a new run (their saved states are left to the run's own writer).

At the end the session drains the queue, finishes the local stores at once and the remote
backends in the background, and writes the summary: from a snapshot, on the writer thread while
the run lives, then once more with the backends' final reports.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hf_tracking import lifecycle
from hf_tracking.backends.base import Backend, RunInfo
from hf_tracking.backends.local import SUMMARY_SUFFIX, reserve_run_dir
from hf_tracking.backends.lock import RunDirLock, RunDirLocked
from hf_tracking.config import safe_name
from hf_tracking.dispatch import Dispatcher
from hf_tracking.summary import build_summary, write_summary

logger = logging.getLogger("hf_tracking")

# The session that last opened each summary file. A run resumed in the same process shares its
# summary file with the session before it, whose late rewrite (after W&B finishes) must not
# replace the resumed run's summary.
_owners: weakref.WeakValueDictionary[str, RunSession] = weakref.WeakValueDictionary()
_owners_lock = threading.Lock()


class RunSession:
    def __init__(
        self,
        output_dir: str,
        backends: list[Backend],
        finish_timeout: float,
        writer_block_timeout: float = 5.0,
    ) -> None:
        self.output_dir = Path(output_dir).expanduser().absolute()
        self.backends = backends
        self.finish_timeout = finish_timeout
        self.writer_block_timeout = writer_block_timeout
        self._summary_failure_said = False
        self.run_dir: Path | None = None
        self.summary_path: Path | None = None
        self.lock: RunDirLock | None = None
        # The run directory a resume found held by another writer (this run is its sibling).
        self.forked_from: Path | None = None
        self.dispatcher: Dispatcher | None = None
        self.error: str | None = None
        self.save_summary = True
        self._finalizer: threading.Thread | None = None

    def open(
        self,
        name: str,
        resuming: bool,
        run_info: Callable[[str, Path | None], RunInfo],
        track_memory: bool,
        queue_size: int,
    ) -> str:
        """Reserve the run directory and start the backends; returns the run's final name."""
        backends = self.backends
        try:
            name, self.run_dir = self._reserve(name, resuming)
            self.summary_path = self.output_dir / f"{name}{SUMMARY_SUFFIX}"
            with _owners_lock:
                _owners[str(self.summary_path)] = self
        except OSError as error:
            # A run that cannot write its files still trains, and still reaches remote backends.
            logger.error(
                "hf_tracking: cannot create the run directory in %s (%s); no local files for "
                "this run",
                self.output_dir,
                error,
            )
            self.error = f"run directory: {type(error).__name__}: {error}"
            self.run_dir = None
            backends = [backend for backend in backends if backend.remote]
        from hf_tracking.system import hardware_fingerprint, host_memory_metrics

        probe = host_memory_metrics if track_memory else None
        self.dispatcher = Dispatcher(
            backends,
            self._with_run_dir(run_info(name, self.run_dir)),
            probe,
            queue_size,
            block_timeout=self.writer_block_timeout,
            drain_timeout=self.finish_timeout,
        )
        # The summary's hardware fingerprint (ms of probes) is taken off the training thread.
        self.dispatcher.put(hardware_fingerprint)
        lifecycle.install_exit_hooks()
        return name

    def before_training(self) -> None:
        """Let each backend get ready for the user's code of the first step (bounded waits)."""
        for slot in self.dispatcher.slots if self.dispatcher is not None else []:
            try:
                slot.backend.before_training()
            except Exception:  # a backend never stops training
                logger.exception(
                    "hf_tracking: backend %r failed before training", slot.backend.name
                )

    def _reserve(self, name: str, resuming: bool) -> tuple[str, Path]:
        """The run's name and directory, locked: the one being resumed, or a fresh one."""
        if resuming and (self.output_dir / name).is_dir():
            run_dir = self.output_dir / name
        else:
            name, run_dir = reserve_run_dir(self.output_dir, safe_name(name))
        lock = RunDirLock(run_dir)
        try:
            lock.acquire()
        except RunDirLocked as error:
            held, origin = error, run_dir
            name, run_dir = reserve_run_dir(self.output_dir, f"{name}.conflict-{os.getpid()}")
            lock = RunDirLock(run_dir)
            lock.acquire()
            self.forked_from = origin
            logger.warning(
                "hf_tracking: the run %s is being written by %s; this process goes on in a run "
                "of its own, %s, which starts with that run's rows up to the resume",
                origin,
                held.holder,
                run_dir,
            )
        self.lock = lock
        return name, run_dir

    def _with_run_dir(self, run: RunInfo) -> RunInfo:
        """The run as the backends get it: with the directory's lock, for the local store to
        adopt, and the run it forked from."""
        forked_from = None if self.forked_from is None else str(self.forked_from)
        return dataclasses.replace(run, run_dir_lock=self.lock, forked_from=forked_from)

    @property
    def earlier_summary_path(self) -> Path | None:
        """The summary of the run before this session: its own, or, for a run that forked,
        the summary of the run it came from."""
        if self.forked_from is not None:
            return self.forked_from.parent / f"{self.forked_from.name}{SUMMARY_SUFFIX}"
        return self.summary_path

    @property
    def has_remote_backends(self) -> bool:
        return self.dispatcher is not None and self.dispatcher.has_remote_backends

    def backend_reports(self) -> list[dict[str, Any]]:
        return self.dispatcher.reports() if self.dispatcher is not None else []

    def write_summary_soon(self, snapshot: Any) -> None:
        """Build, encode and write a summary of ``snapshot`` on the writer thread."""
        path = self.summary_path
        if path is None or self.dispatcher is None:
            return
        self.dispatcher.put(lambda: self._write_if_owner(path, snapshot))

    def _write_if_owner(self, path: Path, snapshot: Any) -> bool:
        with _owners_lock:
            if _owners.get(str(path)) is not self:
                return False
        write_summary(path, build_summary(snapshot), self.run_dir)
        return True

    def close(
        self, status: str, exit_code: int, snapshot: Callable[[], Any], wait: bool
    ) -> Path | None:
        """Drain, finish the backends and write the summary; remote backends finish in the
        background unless ``wait``. Returns the summary path when one was written."""
        assert self.dispatcher is not None
        self.dispatcher.close(status, exit_code)
        if self.lock is not None and not self.lock.adopted:  # no local store took it over
            self.lock.release()
        if not wait and self.dispatcher.has_remote_backends:
            written = self.write_final_summary(snapshot)
            finalizer = threading.Thread(
                target=self._finish_remote,
                args=(snapshot,),
                name="hf_tracking-finish",
                daemon=False,
            )
            try:
                finalizer.start()
                self._finalizer = finalizer
                return self.summary_path if written else None
            except RuntimeError:  # no new threads at interpreter shutdown: finish here
                pass
        self._finish_remote(snapshot, rewrite=False)
        return self.summary_path if self.write_final_summary(snapshot) else None

    def _finish_remote(self, snapshot: Callable[[], Any], rewrite: bool = True) -> None:
        assert self.dispatcher is not None
        self.dispatcher.wait_for_remote(self.finish_timeout)
        if rewrite:
            self.write_final_summary(snapshot)

    def write_final_summary(self, snapshot: Callable[[], Any]) -> bool:
        """Write the summary, trying twice (a disk that was full may have room again); if it
        cannot be written the reason goes to stderr, once per run."""
        if not self.save_summary or self.summary_path is None:
            return False
        for attempt in range(2):
            try:
                return self._write_if_owner(self.summary_path, snapshot())
            except Exception as error:  # the summary never takes the training program down
                failure = error
                if attempt == 0:
                    time.sleep(0.2)
        if not self._summary_failure_said:
            self._summary_failure_said = True
            print(
                f"hf_tracking: could not write the summary {self.summary_path}: "
                f"{type(failure).__name__}: {failure}",
                file=sys.stderr,
                flush=True,
            )
        return False

    def wait_for_backends(self, timeout: float | None = None) -> bool:
        if self._finalizer is None:
            return True
        self._finalizer.join(timeout)
        return not self._finalizer.is_alive()

    def flush(self, timeout: float = 10.0) -> bool:
        return self.dispatcher.flush(timeout) if self.dispatcher is not None else True
