"""The pipe to the W&B child process: one compact JSON line per message out, answers in.

A reader thread sleeps on the child's answers (an acknowledgement a second at most, warnings,
the first error, the finish). What the child acknowledged is what it logged; its first error is
kept with its own text for the backend to raise at the next batch. A child that stopped
(SIGSTOP) is named as not responding (:meth:`ChildPipe.health`), so finish does not wait for it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from typing import Any

logger = logging.getLogger("hf_tracking")
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wandb_process.py")


class ChildPipe:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.acknowledged = 0
        self.failure: str | None = None
        self.finished = threading.Event()
        self._warnings: set[str] = set()

    def open(self) -> None:
        # By path (python -c), so the child never imports the hf_tracking package.
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"import runpy; runpy.run_path({CHILD!r}, run_name='__main__')"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            # Its own session: Ctrl-C in the terminal reaches the training process only, which
            # then finishes the W&B run through the pipe.
            start_new_session=True,
        )

    def send(self, message: dict[str, Any]) -> None:
        process = self.process
        if process is None:
            return
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(message, default=str, separators=(",", ":")) + "\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.finished.wait(5.0)  # the reader names what happened to the child
            raise RuntimeError(self.failure or "the W&B process is gone") from None

    def receive(self) -> dict[str, Any]:
        """The next answer, read on the calling thread (before the reader starts)."""
        process = self.process
        assert process is not None and process.stdout is not None
        line = process.stdout.readline()
        if not line:
            return {"error": f"the W&B process exited (status {process.wait()})"}
        return json.loads(line)

    def start_reader(self) -> None:
        threading.Thread(target=self._read, name="hf_tracking-wandb-answers", daemon=True).start()

    def _read(self) -> None:
        process = self.process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            answer = json.loads(line)
            self.acknowledged = answer.get("ack", self.acknowledged)
            warning = answer.get("warning")
            if warning and warning not in self._warnings:
                self._warnings.add(warning)
                logger.warning("hf_tracking: W&B: %s", warning)
            if "error" in answer and self.failure is None:
                self.failure = f"the W&B process failed: {answer['error']}"
            if answer.get("finished"):
                self.finished.set()
        if not self.finished.is_set() and self.failure is None:
            self.failure = f"the W&B process exited (status {process.wait()})"
        self.finished.set()

    def health(self) -> str | None:
        """Why the child cannot answer: it failed or exited, or it is stopped (SIGSTOP, a
        debugger); None when it runs."""
        process = self.process
        if process is None:
            return None
        if self.failure is not None:
            return self.failure
        if process.poll() is None and _state(process.pid) in ("T", "t"):
            return f"the W&B process (pid {process.pid}) is stopped and not responding"
        return None

    def reap_in_background(self) -> None:
        """The child's own teardown (W&B's service, the interpreter: about 0.1 s) goes on without
        the training process waiting for it."""
        if self.process is not None:
            threading.Thread(
                target=self.process.wait, name="hf_tracking-wandb-exit", daemon=True
            ).start()

    def kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def _state(pid: int) -> str | None:
    """A process's state letter from ``/proc`` (Linux); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            stat = stream.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0].decode("ascii", "replace") if fields else None
