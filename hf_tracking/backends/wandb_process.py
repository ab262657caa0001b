"""The W&B child process of :class:`hf_tracking.backends.wandb.WandbBackend`.

Reads one JSON message per line on stdin and answers on stdout:
``{"start": init kwargs, "step_metric", "axes", "groups"}`` → ``{"path", "sync_dir"}`` or
``{"error"}``; ``{"log": [rows], "summary": {values}}`` (no answer); ``{"finish": exit_code}``
→ ``{"finished": true}``. When stdin closes without a finish (the training process died), the run
is finished with exit code 1. Anything a library prints goes to stderr, never into the protocol.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Any, TextIO


def _protocol_stream() -> TextIO:
    """A private copy of stdout for answers; fd 1 itself is pointed at stderr."""
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def _answer(stream: TextIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _start(message: dict[str, Any]) -> Any:
    import wandb

    settings = wandb.Settings(
        x_disable_stats=True, save_code=False, x_save_requirements=False, silent=True
    )
    run = wandb.init(**message["start"], reinit="create_new", settings=settings)
    step_metric = message["step_metric"]
    run.define_metric(step_metric)
    for axis in message["axes"]:
        run.define_metric(axis, step_metric=step_metric)
    for group in message["groups"]:
        run.define_metric(f"{group}/*", step_metric=step_metric)
    return run


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the training process decides when to stop
    # wandb logs to a debug file in the run directory: on a full disk every log call would print
    # a traceback; the failure reaches the training process through the protocol instead.
    logging.raiseExceptions = False
    if hasattr(os, "nice"):
        os.nice(10)  # where cores are short, training goes first (W&B's service inherits this)
    answers = _protocol_stream()
    run = None
    for line in sys.stdin:
        message = json.loads(line)
        if "log" in message:
            for row in message["log"]:
                run.log(row)
            if message["summary"]:
                run.summary.update(message["summary"])
        elif "start" in message:
            try:
                run = _start(message)
            except Exception as error:
                _answer(answers, {"error": f"{type(error).__name__}: {error}"})
                return 1
            path = "/".join(run.path) if isinstance(run.path, (list, tuple)) else run.path
            _answer(answers, {"path": path, "sync_dir": os.path.dirname(run.dir)})
        elif "finish" in message:
            try:
                run.finish(exit_code=message["finish"])
            except Exception as error:
                _answer(answers, {"error": f"{type(error).__name__}: {error}"})
                return 1
            _answer(answers, {"finished": True})
            return 0
    if run is not None:
        run.finish(exit_code=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
