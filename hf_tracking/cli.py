"""The ``hf-tracking`` command: reports, comparisons and summaries of runs.

    hf-tracking report RUN              plots and report.md into RUN's directory
    hf-tracking compare RUN RUN ...     overlaid loss curves and a table (--output DIR)
    hf-tracking summary RUN             the run summary, readable in a terminal
    hf-tracking serve [DIR ...]         a live dashboard of the runs under DIR (experiments/)
    hf-tracking scaling RUN RUN ...     compute-optimal scaling fits (--csv FILE for a table)
    hf-tracking sync RUN [--no-upload]  write RUN's offline W&B run (if not yet), then wandb sync

RUN is a run directory (``experiments/NAME``) or its summary (``experiments/NAME_summary.json``).
A missing run, one without metrics, or input a scaling fit cannot take prints ``error: ...`` and
exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from hf_tracking import scaling_command
from hf_tracking._version import __version__

DEFAULT_COMPARE_DIR = "experiments/compare"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-tracking",
        description=__doc__.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hf-tracking {__version__}")
    commands = parser.add_subparsers(dest="command")
    run_help = "a run directory or its *_summary.json"
    report = commands.add_parser("report", help="plot a run and write its report.md")
    report.add_argument("run", help=run_help)
    report.add_argument("--plots-dir", help="where the PNGs go (default RUN_DIR/plots)")
    compare = commands.add_parser("compare", help="overlay and tabulate several runs")
    compare.add_argument("runs", nargs="+", metavar="run", help=run_help)
    compare.add_argument(
        "--output", default=DEFAULT_COMPARE_DIR, help=f"output directory ({DEFAULT_COMPARE_DIR})"
    )
    compare.add_argument(
        "--group",
        nargs="*",
        metavar="FIELD",
        help="draw runs whose configs differ only in the seed (and these fields) as one mean",
    )
    compare.add_argument(
        "--band",
        choices=("minmax", "se"),
        default="minmax",
        help="a group's band: min-max (default) or mean ± standard error",
    )
    summary = commands.add_parser("summary", help="print a run's summary")
    summary.add_argument("run", help=run_help)
    serve = commands.add_parser("serve", help="a live dashboard of the runs in a browser")
    serve.add_argument("dirs", nargs="*", metavar="DIR", help="output directories (experiments)")
    serve.add_argument("--port", type=int, default=7070, help="port (7070; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument(
        "--token",
        help="access token the dashboard requires (generated off loopback; none on loopback)",
    )
    serve.add_argument(
        "--memory-mb", type=int, default=1024, help="memory for indexes of finished runs (1024)"
    )
    scaling_command.add_parser(commands, run_help)
    sync = commands.add_parser("sync", help="write a run's offline W&B run and upload it")
    sync.add_argument("run", help=run_help)
    sync.add_argument(
        "--no-upload", action="store_true", help="write the offline run only; print the command"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from hf_tracking.analysis.options import ScalingInputError
    from hf_tracking.report import ReportError

    try:
        return COMMANDS[args.command](args)
    except (ReportError, ScalingInputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:
        extra = {
            "matplotlib": ("plots", "plots need matplotlib"),
            "plotly": ("serve", "the dashboard needs plotly"),
            "scipy": ("analysis", "scaling fits need scipy"),
            "threadpoolctl": ("analysis", "scaling fits need threadpoolctl"),
        }
        if error.name not in extra:
            raise
        name, need = extra[error.name]
        print(f"error: {need}: pip install 'hf-tracking[{name}]'", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _report(args: argparse.Namespace) -> int:
    from hf_tracking.report import make_report

    for path in make_report(args.run, args.plots_dir):
        print(path)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from hf_tracking.report import compare_runs

    result = compare_runs(args.runs, args.output, group_by=args.group, band=args.band)
    print(result["table"])
    for group in result["groups"]:
        print("group: " + ", ".join(group))
    for key, values in result["differences"]:
        print(f"differs: {key}: " + " | ".join(map(str, values)))
    for path in result["paths"]:
        print(path)
    return 0


def _summary(args: argparse.Namespace) -> int:
    from hf_tracking.report import load_run, summary_text

    print(summary_text(load_run(args.run)))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from hf_tracking.serve import serve

    return serve(
        args.dirs, host=args.host, port=args.port, memory_mb=args.memory_mb, token=args.token
    )


def _sync(args: argparse.Namespace) -> int:
    from hf_tracking.backends.wandb_deferred import sync_run

    try:
        return sync_run(args.run, upload=not args.no_upload)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        print(f"error: {args.run}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


COMMANDS = {
    "report": _report,
    "compare": _compare,
    "summary": _summary,
    "serve": _serve,
    "scaling": scaling_command.run,
    "sync": _sync,
}


if __name__ == "__main__":
    sys.exit(main())
