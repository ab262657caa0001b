"""``hf-tracking scaling``: compute-optimal fits over run directories or a CSV.

    hf-tracking scaling RUN RUN ... [--json OUT] [--plot DIR] [--budget FLOPS]
    hf-tracking scaling --csv FILE --n COL --loss COL (--d COL | --c COL) [...]

Prints a table; ``--json`` writes every fitted number, ``--plot`` the IsoFLOP profiles, the
frontier and (for runs) loss against compute. Bad input prints ``error: ...`` and exits 1.
"""

from __future__ import annotations

import argparse

from hf_tracking.analysis.options import (
    APPROACHES,
    BUDGET_RULES,
    CONVENTIONS,
    DEFAULT_LOSS_NOISE,
    DEFAULT_SMOOTHING,
    DEFAULT_TOLERANCE,
    ISOFLOP_METHODS,
    LOSSES,
    ScalingInputError,
)


def add_parser(commands: argparse._SubParsersAction, run_help: str) -> None:
    scaling = commands.add_parser(
        "scaling",
        help="compute-optimal scaling fits (Chinchilla Approaches 3 and 2) over runs or a CSV",
        description=__doc__.split("\n\n", 1)[0],
    )
    scaling.add_argument("runs", nargs="*", metavar="run", help=run_help)
    source = scaling.add_argument_group("a CSV instead of runs (with C only, D = C / 6N)")
    source.add_argument("--csv", metavar="FILE", help="a CSV with one row per run")
    source.add_argument("--n", metavar="COL", help="column of the parameter count N")
    source.add_argument("--loss", metavar="COL", help="column of the loss")
    source.add_argument("--d", metavar="COL", help="column of the tokens D")
    source.add_argument("--c", metavar="COL", help="column of the training FLOPs C")
    runs = scaling.add_argument_group("runs")
    runs.add_argument(
        "--non-embedding", action="store_true", help="N without the embeddings (default: all)"
    )
    runs.add_argument(
        "--run-loss",
        choices=LOSSES,
        default="val",
        help=(
            "the last validation loss (val, default), the best one, the last training loss, or "
            "the training loss smoothed over compute (smoothed_train)"
        ),
    )
    runs.add_argument(
        "--at-compute",
        type=float,
        nargs="+",
        metavar="FLOPS",
        help=(
            "read each run's loss curve at these computes, a point each (a run has none where "
            "its curve does not reach)"
        ),
    )
    runs.add_argument(
        "--smoothing",
        type=float,
        default=DEFAULT_SMOOTHING,
        metavar="TAU",
        help=f"smoothed_train's EMA length in ln(compute) ({DEFAULT_SMOOTHING}: the last ~10%%)",
    )
    runs.add_argument(
        "--compute",
        choices=CONVENTIONS,
        default="run",
        help="C from the run's own FLOPs per token (run, default) or 6ND",
    )
    fits = scaling.add_argument_group("fits")
    fits.add_argument(
        "--approach",
        action="append",
        choices=APPROACHES,
        help="fit only this approach (repeatable; default: whichever the points allow)",
    )
    fits.add_argument(
        "--grid",
        choices=("full", "coarse"),
        default="full",
        help="Approach 3's starting points: Hoffmann et al.'s 4,500 (full) or 108 (coarse)",
    )
    fits.add_argument("--budget", type=float, metavar="FLOPS", help="give N* and D* at this C")
    fits.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="K",
        help="Approach 3 intervals from K resamples (0: none)",
    )
    fits.add_argument(
        "--isoflop",
        choices=ISOFLOP_METHODS,
        default="akima",
        help="per-budget minimum: Akima spline (default) or a parabola through all points",
    )
    fits.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"runs within this relative compute share a budget ({DEFAULT_TOLERANCE})",
    )
    fits.add_argument(
        "--budget-rule",
        choices=BUDGET_RULES,
        default="auto",
        help=(
            "Approach 2: read each run's curve at every budget it reached (interpolate), take "
            "runs at their final compute (tolerance), or interpolate where runs have a compute "
            "axis (auto, default)"
        ),
    )
    fits.add_argument(
        "--loss-noise",
        type=float,
        default=DEFAULT_LOSS_NOISE,
        help=f"seed-to-seed std of the loss, for the IsoFLOP weights ({DEFAULT_LOSS_NOISE})",
    )
    scaling.add_argument("--json", metavar="OUT", help="write every fitted number here")
    scaling.add_argument("--plot", metavar="DIR", help="write the plots into this directory")


def run(args: argparse.Namespace) -> int:
    """The fits asked by ``args``; ScalingInputError for input they cannot take (``hf_tracking.cli``
    prints it as one ``error:`` line)."""
    from hf_tracking import scaling
    from hf_tracking.jsonio import atomic_write_json

    runs = []
    if args.csv:
        if args.runs:
            raise ScalingInputError("give run directories or --csv, not both")
        if args.at_compute is not None:
            raise ScalingInputError("--at-compute reads runs' loss curves; a CSV has none")
        if not args.n or not args.loss:
            raise ScalingInputError("--csv needs --n COL and --loss COL, and --d COL or --c COL")
        points = scaling.read_csv_points(args.csv, n=args.n, loss=args.loss, d=args.d, c=args.c)
    elif args.runs:
        from hf_tracking.report import load_run

        runs = [load_run(path) for path in args.runs]
        points = scaling.points_from_runs(
            runs,
            parameters="non_embedding" if args.non_embedding else "total",
            loss=args.run_loss,
            convention=args.compute,
            at_compute=args.at_compute,
            smoothing=args.smoothing,
        )
    else:
        raise ScalingInputError("give run directories, or --csv FILE with its columns")
    result = scaling.fit_scaling(
        points,
        approaches=args.approach,
        budget=args.budget,
        bootstrap=args.bootstrap,
        method=args.isoflop,
        grid=args.grid,
        tolerance=args.tolerance,
        loss_noise=args.loss_noise,
        budget_rule=args.budget_rule,
    )
    print(scaling.scaling_table(result))
    if args.json:
        atomic_write_json(args.json, result)
        print(args.json)
    if args.plot:
        from hf_tracking.report.scaling import plot_scaling

        for path in plot_scaling(points, result, args.plot, runs):
            print(path)
    return 0
