"""Nodes and ranks per node from what the launchers set."""

from __future__ import annotations

from hf_tracking.topology import layout


def test_the_layout_comes_from_the_launchers_variables():
    torchrun = {"WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "GROUP_WORLD_SIZE": "2"}
    assert layout(8, torchrun) == {"nodes": 2, "ranks_per_node": 4, "world_size": 8}
    assert layout(8, {"WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "2"})["nodes"] == 4
    assert layout(4, {"WORLD_SIZE": "4", "NNODES": "2"})["ranks_per_node"] == 2
    assert layout(4, {"WORLD_SIZE": "4"}) == {"nodes": 1, "ranks_per_node": 4, "world_size": 4}
    # Each process of a launcher's world an independent run: one node, one rank.
    assert layout(1, torchrun) == {"nodes": 1, "ranks_per_node": 1, "world_size": 1}
    # A count that does not divide the world is not trusted.
    assert layout(6, {"WORLD_SIZE": "6", "GROUP_WORLD_SIZE": "4"})["nodes"] == 1
