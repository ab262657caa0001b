"""The W&B child process of :class:`hf_tracking.backends.wandb.WandbBackend`.

Started by file path (``python -c`` running this file), so it imports json and wandb, never the
hf_tracking package. Reads one JSON message per line on stdin and answers on stdout:

| message | answer |
| --- | --- |
| ``{"start": init kwargs, "step_metric", "axes", "groups"}`` | ``{"path", "sync_dir", "service", "attach_id"}`` or ``{"error"}`` |
| ``{"log": [rows], "summary": {values}, "extra": n}`` | ``{"ack": records logged so far}`` at most once a second (a row is a record; ``extra`` counts the final records, which only update the summary) |
| ``{"artifact": {"name", "type", "path", "aliases", "metadata"}}`` | ``{"warning"}`` when it fails |
| ``{"alert": {"title", "text"}}`` (``run.alert`` at level WARN) | ``{"warning"}`` when it fails |
| ``{"finish": exit_code}`` | ``{"finished": true, "ack": rows}`` or ``{"error"}`` |

Any exception is answered with ``{"error": "<Type>: <message>", "ack": rows}`` (the last line of
its traceback) and the run is finished with exit code 1. When stdin closes without a finish (the
training process died, at any point, also while ``wandb.init`` runs) the run is finished with exit
code 1. Whenever it finishes a run it leaves ``hf_tracking_segment.json`` (the run's last step)
next to the run's files. Anything a library prints goes to stderr, never into the protocol.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from typing import Any, TextIO

ACK_SECONDS = 1.0
SEGMENT_FILE = "hf_tracking_segment.json"


class Answers:
    """The protocol stream: a private copy of stdout (fd 1 itself is pointed at stderr). A
    training process that has gone away is noted, never raised."""

    def __init__(self) -> None:
        self.stream: TextIO = os.fdopen(os.dup(1), "w", encoding="utf-8")
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self.parent_gone = False

    def send(self, message: dict[str, Any]) -> None:
        if self.parent_gone:
            return
        try:
            self.stream.write(json.dumps(message) + "\n")
            self.stream.flush()
        except (BrokenPipeError, OSError):
            self.parent_gone = True


def _start(message: dict[str, Any]) -> Any:
    import wandb

    settings = wandb.Settings(
        x_disable_stats=True,
        save_code=False,
        x_save_requirements=False,
        silent=True,
        console="off",
    )
    run = wandb.init(**message["start"], reinit="create_new", settings=settings)
    step_metric = message["step_metric"]
    run.define_metric(step_metric)
    for axis in message["axes"]:
        run.define_metric(axis, step_metric=step_metric)
    for group in message["groups"]:
        run.define_metric(f"{group}/*", step_metric=step_metric)
    return run


def _artifact(run: Any, spec: dict[str, Any]) -> None:
    import wandb

    artifact = wandb.Artifact(name=spec["name"], type=spec["type"], metadata=spec["metadata"])
    if os.path.isdir(spec["path"]):
        artifact.add_dir(spec["path"])
    else:
        artifact.add_file(spec["path"])
    run.log_artifact(artifact, aliases=spec["aliases"])


def _last_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Child:
    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.run: Any = None
        self.logged = 0
        self.last_ack = time.monotonic()
        self.step_metric = ""
        self.last_step: Any = None

    def handle(self, message: dict[str, Any]) -> bool:
        """Act on one message; False once the run is finished."""
        if "log" in message:
            for row in message["log"]:
                self.run.log(row)
                self.logged += 1
                self.last_step = row.get(self.step_metric, self.last_step)
            if message["summary"]:
                self.run.summary.update(message["summary"])
            self.logged += message["extra"]  # the final figures, which are no rows
            if time.monotonic() - self.last_ack >= ACK_SECONDS:
                self.last_ack = time.monotonic()
                self.answers.send({"ack": self.logged})
        elif "start" in message:
            self.run = _start(message)
            self.step_metric = message["step_metric"]
            path = self.run.path
            self.answers.send(
                {
                    "path": "/".join(path) if isinstance(path, (list, tuple)) else path,
                    "sync_dir": os.path.dirname(self.run.dir),
                    "service": os.environ.get("WANDB_SERVICE"),
                    "attach_id": getattr(self.run, "_attach_id", None),
                }
            )
        elif "artifact" in message:
            try:
                _artifact(self.run, message["artifact"])
            except Exception as error:
                name = message["artifact"]["name"]
                self.answers.send({"warning": f"artifact {name}: {_last_line(error)}"})
        elif "alert" in message:
            try:
                self.run.alert(level="WARN", wait_duration=1, **message["alert"])
            except Exception as error:
                self.answers.send({"warning": f"alert: {_last_line(error)}"})
        elif "finish" in message:
            self.close(message["finish"])
            self.answers.send({"finished": True, "ack": self.logged})
            return False
        return True

    def close(self, exit_code: int) -> None:
        """Finish the run and leave, next to its files, the last step it holds (read when a
        resumed offline run continues in a new run: see ``wandb_segments``)."""
        run, self.run = self.run, None
        if run is None:
            return
        try:
            run.finish(exit_code=exit_code)
        finally:
            path = os.path.join(os.path.dirname(run.dir), SEGMENT_FILE)
            with open(path, "w", encoding="utf-8") as stream:
                json.dump({"last_step": self.last_step}, stream)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the training process decides when to stop
    # wandb logs to a debug file in the run directory: on a full disk every log call would print
    # a traceback; the failure reaches the training process through the protocol instead.
    logging.raiseExceptions = False
    if hasattr(os, "nice"):
        os.nice(19)  # where cores are short, training goes first (W&B's service inherits this)
    child = Child(Answers())
    try:
        for line in sys.stdin:
            if not child.handle(json.loads(line)):
                return 0
    except Exception as error:
        child.answers.send({"error": _last_line(error), "ack": child.logged})
        child.close(1)
        return 1
    child.close(1)  # stdin closed without a finish: the training process is gone
    return 0


if __name__ == "__main__":
    sys.exit(main())
