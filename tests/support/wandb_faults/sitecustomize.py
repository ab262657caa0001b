"""Fault injection for the W&B child process, active only with HF_TRACKING_FAULT set: put this
folder first on PYTHONPATH and the child imports it at start-up."""

import os
import threading

fault = os.environ.get("HF_TRACKING_FAULT")
if fault == "wandb-init":
    import wandb

    def refuse(*args, **kwargs):
        raise wandb.errors.CommError("bad API key")

    wandb.init = refuse
elif fault == "wandb-finish-hangs":
    import wandb.sdk.wandb_run

    def hang(self, *args, **kwargs):
        threading.Event().wait()

    wandb.sdk.wandb_run.Run.finish = hang
elif fault == "wandb-log-fails-after-4":
    import wandb.sdk.wandb_run

    original_log = wandb.sdk.wandb_run.Run.log
    calls = []

    def failing_log(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 4:
            raise ValueError("injected: the fifth row is refused")
        return original_log(self, *args, **kwargs)

    wandb.sdk.wandb_run.Run.log = failing_log
