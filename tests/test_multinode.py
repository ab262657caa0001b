"""Two nodes on 127.0.0.1, two CPU processes each (gloo), each node in a directory of its own as
on two machines. Two torchrun agents: a Trainer run, then a hand-written loop; two
``accelerate launch --num_machines 2`` machines: the hand-written loop. Each is one run, written
by the global rank zero in its node's directory only, tokens summed over the 4 ranks, the layout
in the summary, and (Trainer) a straggler named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hf_tracking.catalog import STEP_TIME_MAX_RANK_RATIO
from tests.support.launch import accelerate_machines, torchrun_agents
from tests.support.runs import metrics_rows, strict_json

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SLOW_RANK = 3  # on the second node
SCRIPT = ROOT / "tests" / "support" / "multinode_train.py"


def two_nodes(tmp_path: Path) -> tuple[list[Path], Path]:
    nodes = [tmp_path / "node_a", tmp_path / "node_b"]
    reports = tmp_path / "reports"
    for directory in (*nodes, reports):
        directory.mkdir()
    return nodes, reports


def rank_reports(results: list, reports: Path) -> dict[int, dict]:
    for result in results:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    ranks = {
        report["rank"]: report
        for report in (json.loads(path.read_text()) for path in reports.glob("rank_*.json"))
    }
    assert sorted(ranks) == [0, 1, 2, 3]
    assert {(r["world_size"], r["local_world_size"], r["world"]) for r in ranks.values()} == {
        (4, 2, 4)
    }
    return ranks


def writing_node(ranks: dict[int, dict], nodes: list[Path]) -> Path:
    """The directory of global rank zero; the other node's ranks wrote nothing in theirs."""
    node_zero = Path(ranks[0]["cwd"])
    assert ranks[0]["group_rank"] == 0 and node_zero in nodes
    (other,) = [directory for directory in nodes if directory != node_zero]
    assert sorted(r["rank"] for r in ranks.values() if Path(r["cwd"]) == other) == [2, 3]
    assert list(other.iterdir()) == []
    return node_zero


def assert_loop_rows(loop: dict, ranks: dict[int, dict]) -> None:
    """The hand-written loop: every rank logs its own tokens, the rows hold their sum."""
    assert (loop["nodes"], loop["ranks_per_node"], loop["world_size"]) == (2, 2, 4)
    loop_ranks = [ranks[rank]["loop_tokens_per_step"] for rank in range(4)]
    assert len({tuple(steps) for steps in loop_ranks}) == 4  # other padding on every rank
    loop_steps = [sum(step) for step in zip(*loop_ranks, strict=True)]
    loop_rows = [row for row in metrics_rows(loop["run_dir"]) if row["event"] == "train"]
    assert [row["time/tokens_seen"] for row in loop_rows] == [
        sum(loop_steps[:steps]) for steps in (1, 2, 3)
    ]
    print("per-rank tokens:", loop_ranks, "rows:", [row["time/tokens_seen"] for row in loop_rows])


def test_two_torchrun_nodes_make_one_run_with_every_rank_counted(tmp_path):
    nodes, reports = two_nodes(tmp_path)
    results = torchrun_agents(
        SCRIPT, str(reports), str(SLOW_RANK), directories=nodes,
        environment={"HF_TRACKING_BACKENDS": "local"},
    )  # fmt: skip
    ranks = rank_reports(results, reports)
    node_zero = writing_node(ranks, nodes)

    summaries = {
        summary["experiment_name"]: summary
        for summary in map(strict_json, (node_zero / "experiments").glob("*_summary.json"))
    }
    run_dirs = [path for path in (node_zero / "experiments").iterdir() if path.is_dir()]
    assert len(run_dirs) == 2 and len(summaries) == 2
    loop = summaries.pop("multinode_loop")
    (summary,) = summaries.values()  # the Trainer run
    assert (summary["nodes"], summary["ranks_per_node"], summary["world_size"]) == (2, 2, 4)

    per_rank = [ranks[rank]["tokens_per_step"] for rank in range(4)]
    assert all(len(steps) == 4 for steps in per_rank)
    assert len({tuple(steps) for steps in per_rank}) == 4  # other padding on every rank
    per_step = [sum(step) for step in zip(*per_rank, strict=True)]
    rows = [row for row in metrics_rows(summary["run_dir"]) if row["event"] == "train"]
    assert [row["time/gradient_steps"] for row in rows] == [1, 2, 3, 4]
    for row in rows:
        assert row["time/tokens_seen"] == sum(per_step[: row["time/gradient_steps"]]), row
    assert summary["totals"]["tokens_seen"] == sum(per_step)
    assert_loop_rows(loop, ranks)

    # Rank 3 sleeps 0.3 s in each forward: its compute time is far above the others' (most of
    # all past the first step, whose one-time costs every rank pays).
    ratios = [row[STEP_TIME_MAX_RANK_RATIO] for row in rows]
    assert ratios[0] > 1 and all(ratio > 2 for ratio in ratios[1:]), ratios
    stragglers = summary["stragglers"]
    assert stragglers["slowest_rank"] == SLOW_RANK, stragglers
    assert stragglers["slowest_compute_seconds"] >= 4 * 0.3
    assert stragglers["max_rank_ratio"] > 1.5 and stragglers["worst_window_ratio"] > 2
    print("step_time_max_rank_ratio per row:", ratios, "summary:", stragglers)


def test_two_accelerate_machines_make_one_run_with_every_rank_counted(tmp_path):
    nodes, reports = two_nodes(tmp_path)
    results = accelerate_machines(
        SCRIPT, str(reports), "-1", "loop", directories=nodes,
        environment={"HF_TRACKING_BACKENDS": "local"},
    )  # fmt: skip
    ranks = rank_reports(results, reports)
    node_zero = writing_node(ranks, nodes)
    assert node_zero == nodes[0]  # --machine_rank 0
    (run_dir,) = [path for path in (node_zero / "experiments").iterdir() if path.is_dir()]
    loop = strict_json(node_zero / "experiments" / "multinode_loop_summary.json")
    assert Path(loop["run_dir"]) == run_dir
    assert_loop_rows(loop, ranks)
