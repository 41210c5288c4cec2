"""The ``tradetrace`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tradetrace.version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradetrace",
        description="Instrumentation for trading systems: record, export and inspect.",
    )
    parser.add_argument("--version", action="version", version=f"tradetrace {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run a simulated market-making session and write its records",
        description="Run a simulated Avellaneda-Stoikov market-making session, recorded with "
        "tradetrace, and write CSV and JSON Lines files.",
    )
    demo.add_argument("--directory", default="tradetrace-demo", help="output folder")
    demo.add_argument("--steps", type=int, default=600, help="quoting cycles (one per second)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the market")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradetrace`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from tradetrace.demo import run_demo

        if args.steps < 1:
            parser.error("--steps must be at least 1")
        run_demo(args.directory, steps=args.steps, seed=args.seed)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
