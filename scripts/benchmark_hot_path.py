"""The per-call costs of this tree against an earlier revision's, side by side in one run.

    .venv/bin/python scripts/benchmark_hot_path.py                  # against the first release
    .venv/bin/python scripts/benchmark_hot_path.py --against HEAD~5 --rounds 9 --calls 50000
    .venv/bin/python scripts/benchmark_hot_path.py --quick          # one short round (smoke test)
    .venv/bin/python scripts/benchmark_hot_path.py --instructions   # valgrind's counts instead
    .venv/bin/python scripts/benchmark_hot_path.py --trainer hf_tracking_local --against HEAD~5 --rounds 16

The earlier revision is checked out (``git worktree add --detach``) into a temporary directory.
Each round runs :mod:`overhead.calls`'s hot-path cases (``log_train_step`` with W&B offline,
without and with memory tracking, and with the local store alone; ``TrackingCallback.on_log``
and the step events) once per tree, each in a fresh interpreter whose ``hf_tracking`` is that
tree's, the trees' order alternating between rounds. The figure per case is the median over
rounds of the round's p50, and the ratio this tree / the earlier one; on a shared machine the
per-round spread is printed too, since other processes move single rounds by more than 10%.
``--instructions`` counts instead what each call costs in instructions on the calling thread
(:mod:`overhead.instructions`, valgrind): a figure the machine's load does not move.
``--trainer CONFIG`` runs whole Trainer runs of one configuration of section f instead
(:mod:`overhead.trainer_against`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from overhead.common import alternating, tree_environment  # noqa: E402

FIRST_RELEASE = "1a85d44"
# (section, case, measurement) of each figure compared.
FIGURES = (
    ("log_train_step", "wandb_offline", "non_emitting"),
    ("log_train_step", "wandb_offline", "emitting"),
    ("log_train_step", "wandb_offline_track_memory", "emitting"),
    ("log_train_step", "local_only", "non_emitting"),
    ("log_train_step", "local_only", "emitting"),
    ("on_log", "wandb_offline", "on_log"),
    ("on_log", "wandb_offline", "on_step_begin_plus_end"),
    # finish() after DRAIN_RECORDS records queued without waiting, local store only (in µs).
    ("finish_drain", "local_only", "finish_s"),
)
DRAIN_RECORDS = 10000
# Section f's sizes for --trainer: issue 15's run, and a smoke test's.
TRAINER_SIZES = {"max_steps": 200, "eval_steps": 50, "eval_samples": 64, "save_steps": 200}
QUICK_TRAINER_SIZES = {"max_steps": 4, "eval_steps": 2, "eval_samples": 8, "save_steps": 4}


def child(calls: int, output: str) -> None:
    """One round for the ``hf_tracking`` first on the path: sections a and b of the overhead
    benchmark and section d's finish() of the local store, written as JSON to ``output``."""
    from overhead import calls as sections
    from overhead.common import quiet_environment
    from overhead.oneoff import drain_case

    with tempfile.TemporaryDirectory() as directory:
        temp = Path(directory)
        quiet_environment(temp)
        result = {
            "log_train_step": sections.section_log_train_step(temp, calls),
            "on_log": sections.section_on_log(temp, calls),
        }
        try:
            drain = drain_case(temp / "d", DRAIN_RECORDS, local_only=True)
            result["finish_drain"] = {"local_only": drain}
        except AttributeError:  # a tree from before the run session (the first release)
            pass
    Path(output).write_text(json.dumps(result))


def run_round(tree: Path, calls: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as output:
        command = [sys.executable, str(Path(__file__)), "--child", output.name, "--calls"]
        subprocess.run([*command, str(calls)], env=tree_environment(tree), check=True, cwd=tree)
        return json.loads(Path(output.name).read_text())


def p50(result: dict[str, Any], section: str, case: str, measurement: str) -> float:
    """The figure in µs: a call's p50, or a one-off time in seconds."""
    value = result[section][case][measurement]
    return value["p50_us"] if isinstance(value, dict) else value * 1e6


def compare(rounds: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for figure in FIGURES:
        if any(figure[0] not in entry[side] for entry in rounds for side in ("before", "after")):
            continue
        before = [p50(entry["before"], *figure) for entry in rounds]
        after = [p50(entry["after"], *figure) for entry in rounds]
        ratios = [a / b for a, b in zip(after, before, strict=True) if b]
        rows.append(
            {
                "figure": " / ".join(figure),
                "before_us": round(statistics.median(before), 3),
                "after_us": round(statistics.median(after), 3),
                "ratio": round(statistics.median(ratios), 3),
                "ratio_min": round(min(ratios), 3),
                "ratio_max": round(max(ratios), 3),
            }
        )
    return rows


def write_output(args: argparse.Namespace, rows: Any, **more: Any) -> None:
    """The JSON output of every mode: the revision compared with, the rows, and more."""
    payload = {"against": args.against, "rows": rows, **more}
    Path(args.output).write_text(json.dumps(payload, indent=2))


@contextlib.contextmanager
def earlier_tree(revision: str) -> Iterator[Path]:
    """A checkout of ``revision`` in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory() as temp:
        earlier = Path(temp) / "earlier"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", str(earlier), revision], check=True)
        try:
            yield earlier
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(earlier)], check=False)


def timed_rounds(args: argparse.Namespace) -> None:
    with earlier_tree(args.against) as earlier:
        rounds = []
        for index in range(args.rounds):
            trees = alternating(index, earlier, ROOT)
            rounds.append({name: run_round(tree, args.calls) for name, tree in trees})
            print(f"round {index + 1}/{args.rounds} done, load {os.getloadavg()[0]:.2f}")
    rows = compare(rounds)
    write_output(args, rows, rounds=rounds)
    print(f"\np50 per call, median of {args.rounds} rounds (µs), this tree against {args.against}")
    print(f"{'figure':58} {'before':>8} {'after':>8} {'ratio':>7} {'min–max':>13}")
    for row in rows:
        spread = f"{row['ratio_min']:.2f}–{row['ratio_max']:.2f}"
        print(
            f"{row['figure']:58} {row['before_us']:8.2f} {row['after_us']:8.2f} "
            f"{row['ratio']:7.3f} {spread:>13}"
        )


def counted_instructions(args: argparse.Namespace) -> None:
    from overhead import instructions

    if not instructions.available():
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    small, large = (200, 1200) if args.quick else (2000, 12000)
    script = Path(__file__)
    rows = []
    with earlier_tree(args.against) as earlier:
        for label, operation in instructions.OPERATIONS.items():
            if args.quick and operation != "quiet":
                continue
            counts = {
                name: instructions.per_call(tree, operation, script, small, large)
                for name, tree in (("before", earlier), ("after", ROOT))
            }
            before, after = (counts[name]["training_thread"] for name in ("before", "after"))
            rows.append({"figure": label, **counts, "ratio": round(after / before, 3)})
            print(f"{label}: done")
    write_output(args, rows)
    print(f"\ninstructions per call (valgrind), this tree against {args.against}")
    print(f"{'call':44} {'before':>8} {'after':>8} {'ratio':>7} {'writer before/after':>21}")
    for row in rows:
        writer = f"{row['before']['writer_thread']}/{row['after']['writer_thread']}"
        print(
            f"{row['figure']:44} {row['before']['training_thread']:8d} "
            f"{row['after']['training_thread']:8d} {row['ratio']:7.3f} {writer:>21}"
        )


def trainer_side_by_side(args: argparse.Namespace) -> None:
    from overhead.trainer_against import trainer_rounds

    shape, sizes = ("micro", QUICK_TRAINER_SIZES) if args.quick else ("gpt2_64", TRAINER_SIZES)
    with earlier_tree(args.against) as earlier:
        rows = trainer_rounds(earlier, ROOT, args.trainer, args.rounds, shape, sizes)
    write_output(args, rows)
    print(
        f"\n{args.trainer}, {shape}: train() over 'none', {args.rounds} rounds, against {args.against}"
    )
    for name, row in rows.items():
        ratio, net = row["train_ratio"], row["thread_us_per_step_net"]
        print(
            f"{name:7} ratio {ratio['median']:.3f} ({ratio['min']:.3f}–{ratio['max']:.3f}), "
            f"training-thread µs a step net of the timer {net['median']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default=FIRST_RELEASE, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (each tree once a round)")
    parser.add_argument("--calls", type=int, default=30_000, help="timed calls per case")
    parser.add_argument("--output", default="benchmark_hot_path.json", help="JSON output path")
    parser.add_argument("--quick", action="store_true", help="one round of 300 calls (smoke test)")
    parser.add_argument("--instructions", action="store_true", help="valgrind's counts per call")
    parser.add_argument("--trainer", help="whole Trainer runs of this configuration instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--instructions-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.calls, args.child)
    elif args.instructions_child:
        from overhead.instructions import run_operation

        run_operation(args.instructions_child, args.calls)
    elif args.instructions:
        counted_instructions(args)
    elif args.trainer:
        if args.quick:
            args.rounds = 1
        trainer_side_by_side(args)
    else:
        if args.quick:
            args.rounds, args.calls = 1, 300
        timed_rounds(args)


if __name__ == "__main__":
    main()
