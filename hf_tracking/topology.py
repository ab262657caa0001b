"""Nodes and ranks per node of a multi-process run, from what the launcher set.

torchrun (and ``accelerate launch``, which runs it) sets ``WORLD_SIZE`` (every rank),
``LOCAL_WORLD_SIZE`` (ranks on this node) and ``GROUP_WORLD_SIZE`` (nodes, the agents of the
rendezvous); other launchers set ``NNODES`` or ``NUM_NODES``. A run of one process, or one whose
launcher's world is not the run's (each process an independent run), is one node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def _number(environ: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def layout(world_size: int, environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """``{"nodes", "ranks_per_node", "world_size"}`` of a run of ``world_size`` processes."""
    if world_size <= 1 or _number(environ, "WORLD_SIZE") != world_size:
        return {"nodes": 1, "ranks_per_node": max(1, world_size), "world_size": max(1, world_size)}
    nodes = _dividing(world_size, _number(environ, "GROUP_WORLD_SIZE", "NNODES", "NUM_NODES"))
    per_node = _dividing(world_size, _number(environ, "LOCAL_WORLD_SIZE"))
    if nodes is None:
        nodes = world_size // per_node if per_node else 1
    if per_node is None or per_node * nodes != world_size:
        per_node = world_size // nodes
    return {"nodes": nodes, "ranks_per_node": per_node, "world_size": world_size}


def _dividing(world_size: int, count: int | None) -> int | None:
    """``count`` where it divides ``world_size`` (a variable that does not is not trusted)."""
    return count if count and world_size % count == 0 else None
