"""``WANDB_LOG_MODEL`` artifacts, named and aliased as W&B's Trainer integration names them.

``checkpoint``: every checkpoint directory as the ``model`` artifact ``model-<run id>``, aliases
``epoch_<epoch>`` and ``checkpoint_global_step_<step>``; ``checkpoint`` or ``end``: the trained
model at the end (``save_pretrained`` into a temporary directory), alias ``final_model``. The W&B
process reads the files into the run's artifact store.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from typing import Any

from hf_tracking.backends.base import Record
from hf_tracking.catalog import STEP_KEY

logger = logging.getLogger("hf_tracking")


def artifact_spec(
    run_id: str, path: str, aliases: list[str], metadata: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": f"model-{run_id}",
        "type": "model",
        "path": path,
        "aliases": aliases,
        "metadata": metadata,
    }


def checkpoint_artifact(run_id: str, record: Record, epoch: float | None) -> dict[str, Any]:
    step = int(record.values.get(STEP_KEY) or 0)
    aliases = [f"checkpoint_global_step_{step}"]
    if epoch is not None:
        aliases.insert(0, f"epoch_{round(epoch, 2)}")
    return artifact_spec(run_id, str(record.path), aliases, {"step": step})


def save_final_model(model: Any) -> str | None:
    """A temporary directory holding the model (the caller removes it), or None."""
    save = getattr(model, "save_pretrained", None)
    if not callable(save):
        return None
    directory = tempfile.mkdtemp(prefix="hf_tracking_final_model_")
    try:
        save(directory)
    except Exception as error:
        logger.warning("hf_tracking: saving the final model for W&B failed (%s)", error)
        shutil.rmtree(directory, ignore_errors=True)
        return None
    return directory
