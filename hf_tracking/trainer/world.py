"""The Trainer's world against the process group: a group the Trainer does not use (its
``args.world_size`` is 1) makes each process an independent run, which is said once."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("hf_tracking")
_warned = {"independent": False}


def warn_if_independent(args: Any) -> None:
    """A process group the Trainer does not use (``args.world_size`` 1): each process trains,
    counts and is tracked on its own."""
    import torch.distributed as dist

    if _warned["independent"] or args.world_size > 1:
        return
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return
    _warned["independent"] = True
    logger.warning(
        "hf_tracking: torch.distributed runs %s processes but the Trainer is not distributed "
        "(args.world_size is 1; e.g. accelerate launch --multi_gpu on a machine without GPUs "
        "and without --use_cpu): every process trains on its own and is tracked as an "
        "independent run, counting its own tokens",
        dist.get_world_size(),
    )
