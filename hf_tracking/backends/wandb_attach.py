"""``wandb.run`` in the training process: attached to the run the W&B child process owns.

The child process starts W&B's service and the run; the training process then attaches to that
run through the same service (``wandb.attach``), so ``wandb.run``, ``wandb.log``,
``wandb.Table``/``Histogram``/``Image``, ``run.summary[...]`` and ``run.config.update(...)`` in
the user's code land in the same W&B run, and ``wandb.watch`` can hook the model.

When: ``wandb_attach: auto`` (the default) attaches once the child is ready if the training
process has imported wandb (a script that uses ``wandb.run`` imports it), checked again at every
batch sent; ``always`` imports wandb itself and attaches; ``never`` leaves ``wandb.run`` alone.
A process that never imports wandb pays nothing: no import, no thread. An attached run adds
wandb's client threads, which sleep until the user logs. It is detached (``wandb.run`` back to
None, the connection closed) before the child finishes the run.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

logger = logging.getLogger("hf_tracking")
ATTACH_CHOICES = ("auto", "always", "never")


def wanted(policy: str, watching: bool) -> bool:
    """Whether to attach now: always, when ``wandb.watch`` is asked for, or (auto) once the
    training process has imported wandb."""
    if policy == "never" and not watching:
        return False
    return policy == "always" or watching or sys.modules.get("wandb") is not None


class Attachment:
    """The training process's handle on the child's run."""

    def __init__(self) -> None:
        self.run: Any = None
        self.error: str | None = None

    def attach(self, service: str | None, attach_id: str | None) -> bool:
        """Attach once; False (and ``error`` set) when wandb.run belongs to another run or the
        attach fails. Called on the backend's worker thread."""
        if self.run is not None or self.error is not None:
            return self.run is not None
        if not service or not attach_id:
            self.error = "the W&B process gave no service to attach to"
            return False
        import wandb

        if wandb.run is not None:
            self.error = f"wandb.run is already the run {wandb.run.id}; left as it is"
            logger.warning("hf_tracking: %s", self.error)
            return False
        previous = os.environ.get("WANDB_SERVICE")
        os.environ["WANDB_SERVICE"] = service
        try:
            self.run = wandb.attach(attach_id)
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
            logger.warning("hf_tracking: wandb.run could not attach to the run (%s)", self.error)
            return False
        finally:
            # Later processes must not inherit a service that ends with this run.
            if previous is None:
                os.environ.pop("WANDB_SERVICE", None)
            else:
                os.environ["WANDB_SERVICE"] = previous
        return True

    def watch(self, model: Any, log: str, log_freq: int) -> None:
        """``wandb.watch`` the model (``WANDB_WATCH``), as ``WandbCallback`` does."""
        if self.run is None or model is None:
            return
        try:
            self.run.watch(model, log=log, log_freq=log_freq)
        except Exception as error:
            logger.warning("hf_tracking: wandb.watch failed (%s: %s)", type(error).__name__, error)

    def detach(self) -> None:
        """Hand ``wandb.run`` back and close the connection, before the child finishes the run;
        what the user logged is sent first."""
        if self.run is None:
            return
        run, self.run = self.run, None
        try:
            import wandb
            from wandb.sdk.lib import module

            if wandb.run is run:
                module.unset_globals()
            wandb.teardown()
        except Exception as error:
            logger.warning("hf_tracking: detaching wandb.run failed (%s)", error)
