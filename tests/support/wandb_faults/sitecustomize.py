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
