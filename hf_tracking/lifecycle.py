"""How runs end when the program does: normal exit, an uncaught exception, Ctrl-C, a signal.

A tracker never finished is finished when the main thread ends: "finished" after a normal exit,
"failed" after an uncaught exception, "interrupted" after Ctrl-C or a terminating signal: SIGTERM,
and SIGHUP (the ssh session ended), SIGUSR1 (SLURM's ``--signal`` before a pre-emption) and
SIGALRM where the program left them at their default (which ends the process). Queued records
are written first and W&B is finished with a non-zero exit code. The program then exits the way
it would have without hf_tracking: the same exit status, the same signal.

A signal that arrives while a run is finishing does not cut the drain short: the run is marked
"interrupted", its queue drains (bounded by the writer's timeouts), its summary is written, and
then the signal takes effect as it would have (Ctrl-C raises KeyboardInterrupt, SIGTERM ends the
process by SIGTERM). A second signal during that time ends the program at once.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
import weakref
from collections.abc import Iterator
from typing import Any, Protocol


class Run(Protocol):
    """What the exit hooks need of a tracked run (:class:`~hf_tracking.ExperimentTracker`)."""

    def finish(
        self,
        save_summary: bool = ...,
        status: str | None = ...,
        error: str | None = ...,
        wait: bool = ...,
    ) -> Any: ...

    def mark_interrupted(self, reason: str) -> None: ...


logger = logging.getLogger("hf_tracking")
_live: weakref.WeakSet[Run] = weakref.WeakSet()
# Runs whose training ended but which stay open for evaluations after it: held here so that the
# exit hooks (which hold runs weakly) still find and finish them once the Trainer is gone.
_open_after_training: set[Run] = set()
# Trackers inside finish(), and the signals that arrived meanwhile, to take effect after it.
_finishing: weakref.WeakSet[Run] = weakref.WeakSet()
_deferred: list[int] = []
_state = {"exit_hooks": False, "signal_handlers": False, "finished_at_exit": False}


def _forget_runs_of_parent() -> None:
    """A forked child (a DataLoader worker) must never finish or write its parent's runs."""
    _live.clear()
    _state["finished_at_exit"] = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_runs_of_parent)


def track(tracker: Run) -> None:
    _live.add(tracker)


def keep_open(tracker: Run) -> None:
    """Hold a run whose training ended, until it is finished (at exit at the latest)."""
    _open_after_training.add(tracker)


def untrack(tracker: Run) -> None:
    _live.discard(tracker)
    _open_after_training.discard(tracker)


@contextlib.contextmanager
def finishing(tracker: Run) -> Iterator[None]:
    """Around a finish: Ctrl-C and SIGTERM on the main thread wait for it, then take effect."""
    on_main = threading.current_thread() is threading.main_thread()
    previous_sigint = None
    if on_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous_sigint = signal.signal(signal.SIGINT, _defer_signal)
    _finishing.add(tracker)
    try:
        yield
    finally:
        _finishing.discard(tracker)
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
        if on_main and _deferred and not _finishing:
            _take_deferred_signal()


def _defer_signal(signum: int, frame: Any) -> None:
    """A signal during a finish on the main thread: mark the runs interrupted, act after it."""
    if _deferred:  # the second one: stop now
        _deferred.clear()
        _act_on(signum)
        return
    _deferred.append(signum)
    name = signal.Signals(signum).name
    for tracker in list(_finishing):
        tracker.mark_interrupted(f"{name} while finishing")
    with contextlib.suppress(Exception):
        sys.stderr.write(
            f"hf_tracking: {name} while the run is finishing; writing its queued records and "
            "summary first (send it again to stop at once)\n"
        )


def _take_deferred_signal() -> None:
    signum = _deferred.pop()
    _deferred.clear()
    _act_on(signum)


def _act_on(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    handler = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(handler):
        handler(signum, None)
        return
    if handler == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_previous_handlers: dict[int, Any] = {}


def failure_status(exc: BaseException) -> str:
    """ "interrupted" for Ctrl-C and termination, "failed" for any other exception."""
    return "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed"


def finish_live_trackers(status: str | None = None, error: str | None = None) -> None:
    for tracker in list(_live):
        _state["finished_at_exit"] = True
        try:
            tracker.finish(status=status, error=error, wait=True)
        except Exception:
            logger.exception("hf_tracking: finishing a run at exit failed")


def _finish_at_exit() -> None:
    exc = getattr(sys, "last_value", None)
    if exc is None:
        finish_live_trackers()
    else:
        finish_live_trackers(failure_status(exc), f"{type(exc).__name__}: {exc}")


def install_exit_hooks() -> None:
    """Finish live runs when the main thread ends, before ``concurrent.futures`` refuses new work
    (W&B needs it to finish), and again at interpreter exit as a fallback."""
    if _state["exit_hooks"]:
        return
    _state["exit_hooks"] = True
    import concurrent.futures.thread  # noqa: F401  (its shutdown hook must be registered first)

    register_before_thread_shutdown = getattr(threading, "_register_atexit", None)
    if register_before_thread_shutdown is not None:
        register_before_thread_shutdown(_finish_at_exit)
    atexit.register(_finish_at_exit)
    _install_signal_handlers()


@atexit.register
def _exit_by_sigint_after_ctrl_c() -> None:
    """Registered at import, so it runs after every other exit handler.

    CPython exits by SIGINT after an unhandled KeyboardInterrupt only while a flag is set that
    any ``exec``/``eval`` of a string clears, and finishing a run at exit (imports, dataclasses,
    W&B) does that. Exit by SIGINT here, as CPython would have.
    """
    if _state["finished_at_exit"] and isinstance(
        getattr(sys, "last_value", None), KeyboardInterrupt
    ):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


# Signals that end a process by default and that clusters send: taken over only while at their
# default, so a handler of the program's own (a checkpoint on SIGUSR1) or nohup's SIG_IGN stays.
TERMINATING_BY_DEFAULT = tuple(
    getattr(signal, name) for name in ("SIGHUP", "SIGUSR1", "SIGALRM") if hasattr(signal, name)
)


def _install_signal_handlers() -> None:
    """On SIGTERM (what a scheduler sends before killing a job), and on the signals of
    ``TERMINATING_BY_DEFAULT``, finish every run as "interrupted", then let the signal do what
    it would have done without the tracker."""
    if _state["signal_handlers"] or threading.current_thread() is not threading.main_thread():
        return
    _state["signal_handlers"] = True
    for signum in (signal.SIGTERM, *TERMINATING_BY_DEFAULT):
        previous = signal.getsignal(signum)
        if previous is None or (signum != signal.SIGTERM and previous is not signal.SIG_DFL):
            continue
        _previous_handlers[signum] = previous
        signal.signal(signum, _on_terminating_signal)


def _on_terminating_signal(signum: int, frame: Any) -> None:
    if _finishing:  # a finish on this thread was interrupted: it completes first
        _defer_signal(signum, frame)
        return
    finish_live_trackers("interrupted", signal.Signals(signum).name)
    _act_on(signum)
