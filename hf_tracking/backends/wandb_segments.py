"""Offline runs resumed as new W&B runs ("segments"), uploaded as one run without duplicates.

W&B cannot resume an offline run, so a run resumed offline from step S is a new offline run.
The W&B process leaves ``hf_tracking_segment.json`` (the last step the run holds) next to each
run's files when it finishes, also when the training process died. A resumed segment reads the
previous one's last step L and does not send the rows of steps up to L (the previous segment
holds them), so ``wandb sync --id <first id> <segment dirs>`` (oldest first; wandb syncs the
files of one id in order of start time) uploads one run whose steps never repeat. Without the
file (the W&B process was killed too) the rows past the checkpoint are sent again.
"""

from __future__ import annotations

import json
from pathlib import Path

SEGMENT_FILE = "hf_tracking_segment.json"


def segment_dir(wandb_dir: str, run_id: str) -> Path | None:
    """The offline run directory of ``run_id`` under ``wandb_dir`` (W&B's own ``wandb/``)."""
    found = sorted(Path(wandb_dir).glob(f"wandb/offline-run-*-{run_id}"))
    return found[-1] if found else None


def segment_end(directory: Path | None) -> int | None:
    """The last step that segment's run holds, when its W&B process said so."""
    if directory is None:
        return None
    try:
        step = json.loads((directory / SEGMENT_FILE).read_text(encoding="utf-8"))["last_step"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(step) if isinstance(step, (int, float)) else None


def sync_command(first_id: str, directories: list[str]) -> str:
    if len(directories) == 1:
        return f"wandb sync {directories[0]}"
    return f"wandb sync --id {first_id} " + " ".join(directories)
