"""Drop-in replacement for the seed ``TradeLogger`` (``common/trade_logger.py``), on tradetrace.

Same data classes, helper functions, method names, file names and CSV headers as the seed; only
the import changes::

    from tradetrace.compat import TradeLogger, create_trade_entry

Underneath, every entry is a tradetrace record: ``log_trade`` / ``log_decision`` / ``log_error``
validate it, stamp a global seq (returned) and hand it to the pipeline, whose exporter thread
writes the seed's daily CSV and JSON files (:mod:`tradetrace.compat.seed_files`) and any extra
tradetrace exporters (``exporters=("jsonl", "duckdb")``, written under ``{base_dir}/tradetrace``).
Numbers may be floats, as in the seed, or Decimals / decimal strings, which stay exact in every
file and in the summary statistics.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from numbers import Real
from pathlib import Path
from typing import Any

import orjson

from tradetrace import validation as check
from tradetrace.compat.seed_files import (
    DATETIME_TEXT,
    DECISION,
    ERROR,
    FILE_STEMS,
    FILL,
    TradeLoggerFiles,
    read_entries,
    seconds_to_ns,
    seed_datetime,
)
from tradetrace.exporters.base import Exporter
from tradetrace.exporters.rows import to_json
from tradetrace.pipeline.clock import to_ns
from tradetrace.pipeline.processor import FlushResult
from tradetrace.pipeline.recorder import Recorder, exception_attributes
from tradetrace.pipeline.run import check_file_name_part
from tradetrace.validation import InvalidRecordError

Number = float | int | Decimal | str
Timestamp = float | int | Decimal | str | datetime

# tradetrace argument names -> the seed's field names, for InvalidRecordError.field
_SEED_FIELD = {
    "quantity": "size",
    "fee_currency": "fee_asset",
    "name": "decision_type",
    "inputs": "parameters",
    "time": "timestamp",
}


# --- data classes (the seed's fields, in the seed's order) -----------------------------------


@dataclass(slots=True)
class TradeLogEntry:
    """One execution, as the seed logs it."""

    timestamp: float
    datetime_utc: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    price: Number
    size: Number
    fee: Number
    fee_asset: str
    realized_pnl: Number
    spread_captured: Number | None
    inventory_before: Number | None
    inventory_after: Number | None
    equity_before: Number | None
    equity_after: Number | None
    notes: str = ""


@dataclass(slots=True)
class DecisionLogEntry:
    """One strategy decision: its parameters, result and reason."""

    timestamp: float
    datetime_utc: str
    decision_type: str
    symbol: str
    parameters: dict[str, Any]
    result: Any
    reason: str
    notes: str = ""


@dataclass(slots=True)
class ErrorLogEntry:
    """One error, with the exception's type, message and traceback when there was one."""

    timestamp: float
    datetime_utc: str
    error_type: str
    severity: str
    symbol: str
    message: str
    exception_type: str
    exception_message: str
    stack_trace: str
    recovery_action: str
    notes: str = ""


# --- helpers: entries with an automatic timestamp --------------------------------------------


def _stamp(when: Timestamp | None) -> tuple[float, str]:
    """(unix seconds, seed ``datetime_utc``) for ``when`` (now if None); both agree exactly."""
    if when is None:
        seconds: Any = time.time()
        ns = seconds_to_ns(seconds)
    elif isinstance(when, (datetime, str)):
        ns = _time_ns("timestamp", when)
        seconds = ns / 1_000_000_000
    else:
        ns = _time_ns("timestamp", when)
        seconds = when
    return seconds, seed_datetime(ns)


def create_trade_entry(
    order_id: str,
    client_order_id: str,
    symbol: str,
    side: str,
    order_type: str,
    price: Number,
    size: Number,
    fee: Number = 0.0,
    fee_asset: str = "",
    realized_pnl: Number = 0.0,
    spread_captured: Number | None = None,
    inventory_before: Number | None = None,
    inventory_after: Number | None = None,
    equity_before: Number | None = None,
    equity_after: Number | None = None,
    notes: str = "",
    *,
    timestamp: Timestamp | None = None,
) -> TradeLogEntry:
    """A :class:`TradeLogEntry` stamped now (or at ``timestamp``: a datetime, ISO text or
    unix seconds), as unix seconds and ISO 8601 UTC."""
    seconds, iso = _stamp(timestamp)
    return TradeLogEntry(
        seconds, iso, order_id, client_order_id, symbol, side, order_type, price, size, fee,
        fee_asset, realized_pnl, spread_captured, inventory_before, inventory_after,
        equity_before, equity_after, notes,
    )  # fmt: skip


def create_decision_entry(
    decision_type: str,
    symbol: str,
    parameters: dict[str, Any],
    result: Any,
    reason: str = "",
    notes: str = "",
    *,
    timestamp: Timestamp | None = None,
) -> DecisionLogEntry:
    """A :class:`DecisionLogEntry` stamped now (or at ``timestamp``)."""
    seconds, iso = _stamp(timestamp)
    return DecisionLogEntry(seconds, iso, decision_type, symbol, parameters, result, reason, notes)


def create_error_entry(
    error_type: str,
    severity: str = "ERROR",
    symbol: str = "",
    message: str = "",
    exception: BaseException | None = None,
    recovery_action: str = "",
    notes: str = "",
    *,
    timestamp: Timestamp | None = None,
) -> ErrorLogEntry:
    """An :class:`ErrorLogEntry` stamped now (or at ``timestamp``).

    With ``exception``, its class name, message and full traceback fill the exception fields
    (the traceback is empty for an exception that was never raised); an empty ``message``
    becomes the exception's message.
    """
    seconds, iso = _stamp(timestamp)
    exception_type = exception_message = stack_trace = ""
    if exception is not None:
        details = exception_attributes(exception)
        exception_type = details["exception.type"]
        exception_message = details["exception.message"]
        if exception.__traceback__ is not None:
            stack_trace = details["exception.stacktrace"]
        message = message or exception_message or exception_type
    return ErrorLogEntry(
        seconds, iso, error_type, severity, symbol, message, exception_type, exception_message,
        stack_trace, recovery_action, notes,
    )  # fmt: skip


# --- the logger ------------------------------------------------------------------------------


class TradeLogger:
    """The seed's TradeLogger: trades, decisions and errors to daily CSV and JSON files.

    ``{base_dir}/csv/{strategy}_{trades|decisions|errors}_{YYYYMMDD}.csv`` (the seed's headers)
    and ``{base_dir}/json/{strategy}_{...}_{YYYYMMDD}.json`` are written on tradetrace's
    exporter thread, one file per UTC day of each entry's timestamp. ``buffer_size`` bounds the
    JSON entries held in memory per file before they are written (the seed's ~100). Summary
    statistics are running totals: exact, and constant in memory however much is logged.

    ``exporters`` adds tradetrace exporters (names such as ``"jsonl"``, ``"duckdb"``, or
    instances); named ones write under ``{base_dir}/tradetrace``. Other keywords
    (``queue_size``, ``overflow``, ``run_id``, ...) go to the :class:`~tradetrace.Recorder`.
    Thread safe; use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        strategy_name: str,
        base_dir: str | os.PathLike[str] = "logs/data",
        enable_csv: bool = True,
        enable_json: bool = True,
        *,
        buffer_size: int = 100,
        exporters: Iterable[str | Exporter] = (),
        **recorder_options: Any,
    ) -> None:
        self.strategy_name = check_file_name_part("strategy_name", strategy_name)
        self.base_dir = Path(base_dir).absolute()  # files are opened later, on another thread
        self.csv_dir = self.base_dir / "csv"
        self.json_dir = self.base_dir / "json"
        self.enable_csv = enable_csv
        self.enable_json = enable_json
        self.buffer_size = buffer_size
        self.files = TradeLoggerFiles(
            self.base_dir, strategy_name, csv=enable_csv, json=enable_json, buffer_size=buffer_size
        )
        self.csv_dir.mkdir(parents=True, exist_ok=True)
        self.json_dir.mkdir(parents=True, exist_ok=True)
        recorder_options.setdefault("strategy", strategy_name)
        self.recorder = Recorder(
            service_name=strategy_name,
            exporters=(self.files, *exporters),
            directory=self.base_dir / "tradetrace",
            **recorder_options,
        )
        self._lock = threading.Lock()
        self._trades = self._wins = self._losses = self._decisions = self._errors = 0
        self._pnl = self._fees = Decimal(0)
        self._exact = False  # any PnL or fee given as Decimal / text: stats stay Decimal
        self._breakdown: Counter[str] = Counter()

    # --- logging -------------------------------------------------------------------------

    def log_trade(self, entry: TradeLogEntry) -> int:
        """Log an execution; returns its tradetrace seq. Raises InvalidRecordError (naming the
        seed's field) for an invalid entry, and then nothing is written or counted."""
        if not isinstance(entry, TradeLogEntry):
            raise InvalidRecordError("entry", entry, "must be a TradeLogEntry")
        when, extra = _entry_time(entry.timestamp, entry.datetime_utc)
        try:
            seq = self.recorder.record_fill(
                symbol=entry.symbol, side=entry.side, price=entry.price, quantity=entry.size,
                fee=entry.fee, fee_currency=entry.fee_asset, order_id=entry.order_id,
                client_order_id=entry.client_order_id, order_type=entry.order_type,
                realized_pnl=entry.realized_pnl, spread_captured=entry.spread_captured,
                inventory_before=entry.inventory_before, inventory_after=entry.inventory_after,
                equity_before=entry.equity_before, equity_after=entry.equity_after,
                notes=entry.notes, time=when, **extra,
            )  # fmt: skip
        except InvalidRecordError as exc:
            raise _seed_error(exc) from None
        pnl, exact_pnl = _exact(entry.realized_pnl)
        fee, exact_fee = _exact(entry.fee)
        with self._lock:
            self._trades += 1
            self._wins += pnl > 0
            self._losses += pnl < 0
            self._pnl += pnl
            self._fees += fee
            self._exact = self._exact or exact_pnl or exact_fee
        return seq

    def log_decision(self, entry: DecisionLogEntry) -> int:
        """Log a strategy decision; returns its seq (see :meth:`log_trade` for errors)."""
        if not isinstance(entry, DecisionLogEntry):
            raise InvalidRecordError("entry", entry, "must be a DecisionLogEntry")
        when, extra = _entry_time(entry.timestamp, entry.datetime_utc)
        try:
            seq = self.recorder.record_decision(
                entry.decision_type, inputs=entry.parameters, result=entry.result,
                reason=entry.reason, symbol=entry.symbol, notes=entry.notes, time=when, **extra,
            )  # fmt: skip
        except InvalidRecordError as exc:
            raise _seed_error(exc) from None
        with self._lock:
            self._decisions += 1
        return seq

    def log_error(self, entry: ErrorLogEntry) -> int:
        """Log an error; returns its seq (see :meth:`log_trade` for errors)."""
        if not isinstance(entry, ErrorLogEntry):
            raise InvalidRecordError("entry", entry, "must be an ErrorLogEntry")
        when, extra = _entry_time(entry.timestamp, entry.datetime_utc)
        try:
            seq = self.recorder.record_error(
                entry.error_type, message=entry.message, severity=entry.severity,
                recovery_action=entry.recovery_action, symbol=entry.symbol,
                exception_type=entry.exception_type, exception_message=entry.exception_message,
                stack_trace=entry.stack_trace, notes=entry.notes, time=when, **extra,
            )  # fmt: skip
        except InvalidRecordError as exc:
            raise _seed_error(exc) from None
        with self._lock:
            self._errors += 1
            self._breakdown[entry.error_type] += 1
        return seq

    # --- export and statistics -----------------------------------------------------------

    def export_to_json(
        self,
        start_time: Timestamp | None = None,
        end_time: Timestamp | None = None,
        filename: str | os.PathLike[str] | None = None,
    ) -> dict[str, str]:
        """Write trades, decisions and errors with ``start_time <= timestamp <= end_time`` (unix
        seconds, datetimes or ISO text; either may be None) as three JSON arrays.

        Files are ``{strategy}_{trades|decisions|errors}_export_{YYYYMMDD_HHMMSS}.json`` (UTC
        time) in ``{base_dir}/json``, or ``{filename}_{trades|...}.json`` (in that folder unless
        ``filename`` has one). Entries are read back from the daily JSON files (the CSV files
        when JSON is disabled), so everything in range is included, earlier sessions of the
        strategy too, not only what is still in memory. Returns ``{kind: path}``.
        """
        low = None if start_time is None else _time_ns("start_time", start_time)
        high = None if end_time is None else _time_ns("end_time", end_time)
        if self.enable_json:
            source = "json"
        elif self.enable_csv:
            source = "csv"
        else:
            raise RuntimeError("nothing to export: enable_csv and enable_json are both False")
        self.flush()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
        paths: dict[str, str] = {}
        for kind in (FILL, DECISION, ERROR):
            label = FILE_STEMS[kind]
            items = read_entries(self.base_dir, self.strategy_name, kind, source, low, high)
            target = self._export_path(label, stamp, filename)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(to_json(items, orjson.OPT_INDENT_2) + b"\n")
            os.replace(partial, target)
            paths[label] = str(target)
        return paths

    def _export_path(self, label: str, stamp: str, filename: str | os.PathLike[str] | None) -> Path:
        if filename is None:
            return self.json_dir / f"{self.strategy_name}_{label}_export_{stamp}.json"
        stem = Path(filename)
        if not stem.name:
            raise ValueError(f"filename={filename!r}: must name a file")
        if stem.suffix == ".json":
            stem = stem.with_suffix("")
        if not stem.is_absolute() and len(stem.parts) == 1:
            stem = self.json_dir / stem
        return stem.with_name(f"{stem.name}_{label}.json")

    def get_summary_stats(self) -> dict[str, Any]:
        """The seed's statistics over everything this logger logged.

        ``win_rate`` is a percentage; PnL and fees are floats, or Decimals once any was given
        as a Decimal or decimal text; ``net_pnl`` is ``total_pnl - total_fees``.
        """
        with self._lock:
            money: Callable[[Decimal], Any] = (lambda d: d) if self._exact else float
            total = self._trades
            return {
                "total_trades": total,
                "winning_trades": self._wins,
                "losing_trades": self._losses,
                "win_rate": self._wins / total * 100 if total else 0.0,
                "total_pnl": money(self._pnl),
                "total_fees": money(self._fees),
                "net_pnl": money(self._pnl - self._fees),
                "total_decisions": self._decisions,
                "total_errors": self._errors,
                "error_breakdown": dict(self._breakdown),
            }

    # --- pipeline ------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> FlushResult:
        """Write everything logged so far: JSON buffers and CSV files (and extra exporters).
        Returns by ``timeout``; the result is truthy when nothing was left."""
        return self.recorder.flush(timeout)

    def close(self, timeout: float = 10.0) -> FlushResult:
        """Flush and close the files. Idempotent."""
        return self.recorder.shutdown(timeout)

    def health(self) -> dict[str, Any]:
        """tradetrace's pipeline counters (exported, failed, dropped, internal errors)."""
        return self.recorder.health()

    def __enter__(self) -> TradeLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TradeLogger(strategy_name={self.strategy_name!r}, base_dir={str(self.base_dir)!r})"


def _seed_error(exc: InvalidRecordError) -> InvalidRecordError:
    """``exc`` with the seed's field name (``size``, not ``quantity``)."""
    head, dot, rest = exc.field.partition(".")
    field = _SEED_FIELD.get(head, head) + dot + rest
    return exc if field == exc.field else InvalidRecordError(field, exc.value, exc.problem)


def _entry_time(timestamp: Any, datetime_utc: Any) -> tuple[int, dict[str, str]]:
    """An entry's event time in ns, and its ``datetime_utc`` text as an attribute when that
    text is not what the timestamp gives (so the seed files show exactly what was logged)."""
    if timestamp is None and datetime_utc:
        ns = _time_ns("datetime_utc", datetime_utc)
    elif timestamp is None:
        ns = time.time_ns()
    else:
        ns = _time_ns("timestamp", timestamp)
    if datetime_utc is None or datetime_utc == "" or datetime_utc == seed_datetime(ns):
        return ns, {}
    if not isinstance(datetime_utc, str):
        raise InvalidRecordError("datetime_utc", datetime_utc, "must be a string")
    return ns, {DATETIME_TEXT: datetime_utc}


def _time_ns(field: str, value: Any) -> int:
    """Unix seconds (int, float, Decimal, decimal text), a datetime or ISO text -> ns."""
    if isinstance(value, datetime):
        return to_ns(value)
    if isinstance(value, str):
        try:
            return seconds_to_ns(check.number(field, value))
        except InvalidRecordError:
            pass
        try:
            return to_ns(value)
        except (TypeError, ValueError):
            raise InvalidRecordError(field, value, "is neither unix seconds nor ISO 8601") from None
    return seconds_to_ns(check.number(field, value))


def _exact(value: Any) -> tuple[Decimal, bool]:
    """(Decimal value, whether it was given exactly) of a validated PnL or fee."""
    if value is None:
        return Decimal(0), False
    if isinstance(value, float) or (isinstance(value, Real) and not isinstance(value, int)):
        return Decimal(repr(float(value))), False
    if isinstance(value, int):
        return Decimal(int(value)), False
    if isinstance(value, str):
        return Decimal(value.strip()), True
    return Decimal(value), True


# --- integration with a trading client -------------------------------------------------------

_HOOK_MARK = "__tradetrace_trade_logger_hook__"
_SPREAD_REASON = "Avellaneda-Stoikov optimal spread calculation"
_RISK_RECOVERY = "Emergency shutdown, all orders cancelled"


class TradingClientIntegration:
    """What :func:`integrate_with_trading_client` installed; :meth:`uninstrument` undoes it."""

    def __init__(self, client: Any, logger: TradeLogger) -> None:
        self.client = client
        self.logger = logger
        self._installed: dict[str, tuple[bool, Any, Any]] = {}  # name -> (own?, own value, hook)
        self._failures = 0
        self._lock = threading.Lock()

    @property
    def methods(self) -> tuple[str, ...]:
        """Names of the client's methods currently wrapped."""
        return tuple(self._installed)

    @property
    def failures(self) -> int:
        """How many times logging failed inside a hook (the client was never affected)."""
        return self._failures

    def uninstrument(self) -> None:
        """Put the original methods back. Idempotent. A method replaced again by someone else
        after integration is left as it is."""
        own = vars(self.client)
        for name, (had_own, original, hook) in list(self._installed.items()):
            if own.get(name) is hook:
                if had_own:
                    setattr(self.client, name, original)
                else:
                    delattr(self.client, name)
            del self._installed[name]

    def _install(
        self,
        name: str,
        before: Callable[[tuple[Any, ...], dict[str, Any]], None] | None = None,
        after: Callable[[tuple[Any, ...], dict[str, Any], Any], None] | None = None,
    ) -> None:
        original = getattr(self.client, name, None)
        if not callable(original) or getattr(original, _HOOK_MARK, False):
            return
        own = vars(self.client)
        had_own, previous = name in own, own.get(name)
        hook = _hook(original, self._guarded(name, before), self._guarded(name, after))
        setattr(self.client, name, hook)
        self._installed[name] = (had_own, previous, hook)

    def _guarded(self, hook: str, log: Callable[..., None] | None) -> Callable[..., None] | None:
        if log is None:
            return None

        def guarded(*args: Any) -> None:
            try:
                log(*args)
            except Exception as exc:  # never raise into the client
                self._failed(hook, exc)

        return guarded

    def _failed(self, hook: str, exc: Exception) -> None:
        with self._lock:
            self._failures += 1
        recorder = self.logger.recorder
        recorder.internal_errors.report(
            "trade_logger_hook", exc, f"logging inside {type(self.client).__name__}.{hook}"
        )
        if isinstance(exc, InvalidRecordError):  # bad data from the client: visible in the logs
            try:
                message = f"{hook}: not logged: {exc}"
                symbol = _client_symbol(self.client)
                entry = create_error_entry("instrumentation_error", "WARNING", symbol, message)
                self.logger.log_error(entry)
            except Exception as again:
                recorder.internal_errors.report("trade_logger_hook", again)


def _hook(
    original: Callable[..., Any],
    before: Callable[..., None] | None,
    after: Callable[..., None] | None,
) -> Callable[..., Any]:
    """Wrap ``original`` (sync or async): ``before(args, kwargs)``, the call (its exceptions
    pass unchanged, its result is returned unchanged), ``after(args, kwargs, result)``."""
    if inspect.iscoroutinefunction(original):

        async def hook(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                before(args, kwargs)
            result = await original(*args, **kwargs)
            if after is not None:
                after(args, kwargs, result)
            return result

    else:

        def hook(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                before(args, kwargs)
            result = original(*args, **kwargs)
            if after is not None:
                after(args, kwargs, result)
            return result

    functools.update_wrapper(hook, original)
    setattr(hook, _HOOK_MARK, True)
    return hook


def _client_symbol(client: Any) -> str:
    symbol = getattr(client, "symbol", "")
    return symbol if isinstance(symbol, str) else ""


def _first(data: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        value = data.get(name)
        if value is not None:
            return value
    return default


def _fill_entry(order_data: Mapping[str, Any], client: Any) -> TradeLogEntry:
    """A trade entry from an order-fill dict (``orderId``, ``side``, ``price``, ``size``,
    ``fee``, ... in the venue's or ccxt's spelling). Numbers are kept as given."""
    if not isinstance(order_data, Mapping):
        raise InvalidRecordError("order_data", order_data, "must be a mapping")
    fee = _first(order_data, "fee", default=0.0)
    fee_asset = _first(order_data, "feeAsset", "fee_asset", "feeCurrency", default="")
    if isinstance(fee, Mapping):  # ccxt: {"cost": ..., "currency": ...}
        fee_asset = fee.get("currency") or fee_asset
        fee = fee.get("cost", 0.0)
    return create_trade_entry(
        order_id=_first(order_data, "orderId", "order_id", "id", default=""),
        client_order_id=_first(order_data, "clientOrderId", "client_order_id", "clientId",
                               default=""),
        symbol=_first(order_data, "symbol", "market", default=_client_symbol(client)),
        side=_first(order_data, "side"),
        order_type=_first(order_data, "orderType", "order_type", "type", default=""),
        price=_first(order_data, "price", "fillPrice", "average"),
        size=_first(order_data, "size", "quantity", "filled", "amount", "qty"),
        fee=fee,
        fee_asset=fee_asset,
        realized_pnl=_first(order_data, "realizedPnl", "realized_pnl", default=0.0),
        notes=_first(order_data, "notes", default=""),
    )  # fmt: skip


def _arguments(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The call's arguments by parameter name (defaults applied, ``**kwargs`` flattened)."""
    if signature is None:
        return {"args": list(args), **kwargs} if args else dict(kwargs)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    named: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            named[name] = list(value)
        else:
            named[name] = value
    return named


def integrate_with_trading_client(client: Any, logger: TradeLogger) -> TradingClientIntegration:
    """Wrap ``client``'s methods so that its activity is logged, as the seed did.

    - ``on_order_filled(order_data)``: logs a trade from the fill dict;
    - ``calculate_optimal_spread(...)``: logs a ``spread_calculation`` decision with the
      arguments by name and ``{bid_spread, ask_spread}`` from the returned pair;
    - ``check_risk_limits()``: when it returns ``(False, reason)``, logs a CRITICAL
      ``risk_breach`` error.

    Return values and the client's own exceptions pass through unchanged; a failure while
    logging never reaches the client (it is counted in ``.failures`` and ``logger.health()``
    and logged once on the ``tradetrace`` logger; invalid fill data is also logged as an
    ``instrumentation_error``). Sync and async methods alike; missing methods are skipped.
    Returns a handle whose ``uninstrument()`` restores the original methods.
    """
    if not hasattr(client, "__dict__"):
        raise TypeError(f"cannot wrap methods of {type(client).__name__}: it has no __dict__")
    integration = TradingClientIntegration(client, logger)

    def log_fill(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        order_data = args[0] if args else next(iter(kwargs.values()), None)
        logger.log_trade(_fill_entry(order_data, client))

    spread = getattr(client, "calculate_optimal_spread", None)
    try:
        signature = inspect.signature(spread) if callable(spread) else None
    except (TypeError, ValueError):
        signature = None

    def log_spread(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        if isinstance(result, (tuple, list)) and len(result) == 2:
            outcome: Any = {"bid_spread": result[0], "ask_spread": result[1]}
        else:
            outcome = {"value": result}
        parameters = _arguments(signature, args, kwargs)
        symbol = _client_symbol(client)
        logger.log_decision(
            create_decision_entry("spread_calculation", symbol, parameters, outcome, _SPREAD_REASON)
        )

    def log_risk(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        is_safe, reason = (result, "") if isinstance(result, bool) else result
        if not is_safe:
            message = f"Risk limit breached: {reason}"
            entry = create_error_entry(
                "risk_breach", "CRITICAL", _client_symbol(client), message,
                recovery_action=_RISK_RECOVERY,
            )  # fmt: skip
            logger.log_error(entry)

    integration._install("on_order_filled", before=log_fill)
    integration._install("calculate_optimal_spread", after=log_spread)
    integration._install("check_risk_limits", after=log_risk)
    return integration
