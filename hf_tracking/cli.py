"""The ``hf-tracking`` command: reports, comparisons and summaries of runs."""

from __future__ import annotations

import argparse
import sys

from hf_tracking._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-tracking", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hf-tracking {__version__}")
    parser.add_subparsers(dest="command")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
