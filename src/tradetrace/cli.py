"""The ``tradetrace`` command: ``demo``, and ``sql``, ``stats``, ``verify``, ``export``,
``tail`` and ``report`` over a SOURCE (a DuckDB file or a directory of CSV / JSON Lines /
Parquet exports).

Exit status: 0 on success; 1 when ``verify`` finds a problem or a query fails; 2 for a bad
command line or a SOURCE that cannot be read (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from tradetrace.version import __version__

_SOURCE_HELP = (
    "a DuckDB file, or an export directory (tradetrace.duckdb, parquet/, json/ or csv/ in it) "
    "or one of its sub-folders"
)
_READ_HELP = "which format to read when the directory has several (default: duckdb, parquet, "
_READ_HELP += "jsonl, csv, the first found)"


class CommandError(Exception):
    """A failure reported as one line on stderr with an exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    parser.add_argument(
        "--read", choices=("duckdb", "parquet", "jsonl", "csv"), metavar="FORMAT",
        help=_READ_HELP,
    )  # fmt: skip


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

    sql = commands.add_parser(
        "sql",
        help="run SQL over a SOURCE",
        description="Run a SQL query over a SOURCE. Views: records, fills, orders, decisions, "
        "risk_checks, errors, events, spans, event_status, bundles, pnl_daily, summary, runs.",
    )
    _add_source(sql)
    sql.add_argument("query", metavar="QUERY", help='e.g. "SELECT * FROM fills LIMIT 10"')
    sql.add_argument(
        "--format", choices=("table", "csv", "json", "markdown"), default="table",
        help="output format (default: an aligned table)",
    )  # fmt: skip
    sql.add_argument(
        "--max-width", type=int, default=40, metavar="N",
        help="cut table cells longer than N characters (0: never; default 40)",
    )  # fmt: skip

    stats = commands.add_parser(
        "stats",
        help="summary statistics: trades, win rate, PnL, fees, errors",
        description="The seed logger's summary statistics over a SOURCE: trades, winning and "
        "losing trades, win rate, PnL, fees (in the quote currency), decisions and errors.",
    )
    _add_source(stats)
    stats.add_argument("--format", choices=("text", "json"), default="text")

    verify = commands.add_parser(
        "verify",
        help="check every run for gaps, duplicates, orphans and unknown events",
        description="Check every run of a SOURCE: gaps in the sequence (and where the process "
        "ended inside an operation), duplicate seqs, children whose parent is missing and "
        "lifecycle updates of unknown events. Exit status 1 when anything is wrong.",
    )
    _add_source(verify)

    export = commands.add_parser(
        "export",
        help="write the records of a SOURCE (or a slice) as Parquet, JSON Lines or CSV",
        description="Write the chosen records of a SOURCE to OUTDIR in the layout the exporter "
        "of that format writes (OUTDIR/parquet/..., OUTDIR/json/..., OUTDIR/csv/...).",
    )
    _add_source(export)
    export.add_argument("outdir", metavar="OUTDIR", help="where to write")
    export.add_argument("--to", required=True, metavar="FORMAT", help="parquet, json or csv")
    export.add_argument("--start", help="first event time included (ISO time or date)")
    export.add_argument("--end", help="first event time excluded (ISO time or date)")
    export.add_argument(
        "--kind", action="append", metavar="KIND",
        help="record kind to include (fill, order, decision, risk_check, error, event, span); "
        "repeat or separate with commas (default: all)",
    )  # fmt: skip
    export.add_argument("--chunk-size", type=int, default=50_000, metavar="N",
                        help="records per batch (default 50000)")  # fmt: skip
    export.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="show a progress bar on stderr (default: when stderr is a terminal and the "
        "export takes more than one batch)",
    )  # fmt: skip

    tail = commands.add_parser(
        "tail",
        help="print the last records, then follow new ones as they are written",
        description="Print the last records of a SOURCE, one line each, then new records as "
        "they are written, until Ctrl-C.",
    )
    _add_source(tail)
    tail.add_argument("-n", "--lines", type=int, default=10, metavar="N",
                      help="how many of the last records to print first (default 10)")  # fmt: skip
    tail.add_argument("--once", action="store_true", help="print the last N and exit")
    tail.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                      help="how often to look for new records (default 1)")  # fmt: skip

    report = commands.add_parser(
        "report",
        help="write one self-contained HTML report (charts, summary, ledger, verify)",
        description="Write one self-contained HTML file of charts and tables over a SOURCE: "
        "equity and PnL, inventory, fills, fees, spreads, risk checks and errors, the event "
        "ledger and the verify badge. Opens offline in any browser.",
    )
    report.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    report.add_argument("-o", "--output", default="report.html", help="the HTML file to write")
    report.add_argument("--max-points", type=int, default=5000, metavar="N",
                        help="at most N points per chart series (default 5000)")  # fmt: skip
    report.add_argument("--title", help="the page title (default: from the source)")
    return parser


# --- commands --------------------------------------------------------------------------------


def _source(args: argparse.Namespace) -> Any:
    from tradetrace.query.source import open_source

    return open_source(args.source, format=args.read)


def _sql(args: argparse.Namespace, out: TextIO) -> int:
    import duckdb

    from tradetrace.query.render import write_result

    with _source(args) as source:
        try:
            relation = source.sql(args.query)
            if relation is None:
                return 0
            rows = relation.fetchall()
        except duckdb.Error as exc:
            raise CommandError(str(exc).splitlines()[0], 1) from None
        write_result(relation.columns, relation.types, rows, args.format, out, args.max_width)
    return 0


def _stats_text(stats: dict[str, Any]) -> list[str]:
    from tradetrace.query.render import cell_text

    def mapping(value: dict[str, Any]) -> str:
        return "{" + ", ".join(f"{key!r}: {cell_text(item)}" for key, item in value.items()) + "}"

    lines = []
    for key, value in stats.items():
        if key == "unconverted_fees" and not value:
            continue
        if key == "win_rate":
            text = f"{value:.2f}%"
        elif isinstance(value, dict):
            text = mapping(value)
        else:
            text = cell_text(value)
        lines.append(f"{key}: {text}")
    return lines


def _stats(args: argparse.Namespace, out: TextIO) -> int:
    from tradetrace.exporters.rows import to_json
    from tradetrace.query.api import summary

    with _source(args) as source:
        stats = summary(source)
    if args.format == "json":
        out.write(to_json(stats).decode("utf-8") + "\n")
    else:
        out.write("\n".join(_stats_text(stats)) + "\n")
    return 0


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    from tradetrace.query.api import verify

    report = verify(args.source, format=args.read)
    out.write(str(report) + "\n")
    return 0 if report.ok else 1


class ProgressBar:
    """``exporting [#####.....]  50% 5000/10000 records`` on ``stream``: redrawn in place on a
    terminal, one line per update otherwise (a log file)."""

    def __init__(self, stream: TextIO, enabled: bool | None, chunk_size: int) -> None:
        self._stream = stream
        self._enabled = enabled
        self._chunk_size = chunk_size
        self._terminal = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        enabled = self._enabled
        if enabled is None:
            enabled = self._terminal and total > self._chunk_size
        if not enabled or total <= 0:
            return
        filled = 30 * done // total
        bar = "#" * filled + "." * (30 - filled)
        line = f"exporting [{bar}] {100 * done // total:3d}% {done}/{total} records"
        if self._terminal:
            self._stream.write("\r" + line + ("\n" if done >= total else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def _kinds(values: Sequence[str] | None) -> list[str] | None:
    from tradetrace.semconv import RecordKind

    if not values:
        return None
    kinds = [k.strip() for value in values for k in value.split(",") if k.strip()]
    known = {kind.value for kind in RecordKind}
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise CommandError(
            f"unknown kind {unknown[0]!r}: choose from {', '.join(sorted(known))}", 2
        )
    return kinds


def _time(value: str | None, option: str) -> int | None:
    from tradetrace.pipeline.clock import to_ns

    if value is None:
        return None
    try:
        return to_ns(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CommandError(f"{option} {value!r}: {exc}", 2) from None


def _export(args: argparse.Namespace, out: TextIO) -> int:
    from tradetrace.query.export import available_targets, export_records

    targets = available_targets()
    if args.to not in targets:
        raise CommandError(f"--to {args.to!r}: choose one of {', '.join(targets)}", 2)
    if args.chunk_size < 1:
        raise CommandError("--chunk-size must be at least 1", 2)
    kinds = _kinds(args.kind)
    start, end = _time(args.start, "--start"), _time(args.end, "--end")
    progress = ProgressBar(sys.stderr, args.progress, args.chunk_size)
    with _source(args) as source:
        written = export_records(
            source, args.to, args.outdir, start=start, end=end, kinds=kinds,
            chunk_size=args.chunk_size, progress=progress,
        )  # fmt: skip
    out.write(f"exported {written.records} records from {source.describe()} to {args.outdir}\n")
    return 0


def _tail(args: argparse.Namespace, out: TextIO) -> int:
    from tradetrace.exporters.console import ConsoleExporter
    from tradetrace.query.tail import Tail

    if args.interval <= 0:
        raise CommandError("--interval must be above 0", 2)
    line = ConsoleExporter().format
    follower = Tail(args.source, args.read)
    for record in follower.last(args.lines):
        out.write(line(record) + "\n")
    out.flush()
    if args.once:
        return 0
    waiting = None
    try:
        while True:
            time.sleep(args.interval)
            for record in follower.poll():
                out.write(line(record) + "\n")
            out.flush()
            if follower.waiting != waiting:
                waiting = follower.waiting
                if waiting:
                    print(f"tradetrace: waiting: {waiting}", file=sys.stderr)
    except KeyboardInterrupt:
        return 0


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from tradetrace.report import write_report

    try:
        path = write_report(args.source, args.output, max_points=args.max_points, title=args.title)
    except ImportError as exc:
        raise CommandError(str(exc), 1) from None
    except ValueError as exc:
        if type(exc) is not ValueError:  # a SourceError: the caller's one-line error
            raise
        raise CommandError(str(exc), 2) from None
    out.write(f"wrote {path}\n")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "sql": _sql,
    "stats": _stats,
    "verify": _verify,
    "export": _export,
    "tail": _tail,
    "report": _report,
}


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
    command = _COMMANDS.get(args.command)
    if command is None:
        parser.print_help()
        return 2
    from tradetrace.query.source import SourceError

    try:
        return command(args, sys.stdout)
    except SourceError as exc:
        print(f"tradetrace {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"tradetrace {args.command}: error: {exc}", file=sys.stderr)
        return exc.status
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
