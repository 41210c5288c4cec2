"""The Recorder: stamps seq, run id, both clocks and the current parent, redacts, hands on.

Every ``record_*`` method validates its input completely before it takes a seq, so a refused
call leaves no trace and no gap. The Recorder never knows which exporters exist: it hands each
finished :class:`~tradetrace.records.Record` to its :class:`Processor`.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import itertools
import os
import random
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from tradetrace import semconv as sc
from tradetrace import validation as check
from tradetrace.exporters.base import Exporter
from tradetrace.exporters.registry import build_exporters
from tradetrace.exporters.rows import to_json
from tradetrace.pipeline.clock import Clock, WallClock, to_ns
from tradetrace.pipeline.durable import DurableProcessor
from tradetrace.pipeline.graceful_stop import install_stop_handlers
from tradetrace.pipeline.health import InternalErrors
from tradetrace.pipeline.otel_context import current_otel_ids
from tradetrace.pipeline.processor import FlushResult, Overflow, Processor
from tradetrace.pipeline.redaction import REDACTED, Redactor
from tradetrace.pipeline.run import Run, check_file_name_part, new_run_id
from tradetrace.pipeline.scope import CURRENT_SCOPE
from tradetrace.pipeline.span import Span, exception_attributes
from tradetrace.pipeline.spool import SyncPolicy
from tradetrace.records import Entry, Record
from tradetrace.semconv import RecordKind, Status
from tradetrace.semconv.attributes import (  # direct names: the fill path is the hottest
    FEE_AMOUNT,
    FEE_CURRENCY,
    FEE_RATE,
    FILL_LIQUIDITY_SIDE,
    FILL_PRICE,
    FILL_QUANTITY,
    FILL_REALIZED_PNL,
    FILL_SPREAD_CAPTURED,
    FILL_TRADE_ID,
    LEDGER_VENUE,
    NOTES,
    ORDER_CLIENT_ID,
    ORDER_ID,
    ORDER_SIDE,
    ORDER_TYPE,
    POSITION_EQUITY_AFTER,
    POSITION_EQUITY_BEFORE,
    POSITION_INVENTORY_AFTER,
    POSITION_INVENTORY_BEFORE,
    SYMBOL,
)
from tradetrace.validation import InvalidRecordError

_FILL, _ORDER, _DECISION = RecordKind.FILL.value, RecordKind.ORDER.value, RecordKind.DECISION.value
_RISK, _ERROR, _EVENT = RecordKind.RISK_CHECK.value, RecordKind.ERROR.value, RecordKind.EVENT.value
_SPAN = RecordKind.SPAN.value
_INFO, _CRITICAL = "INFO", "CRITICAL"
_DECIMAL_KEYS = frozenset(k for k, s in sc.ATTRIBUTES.items() if s.type == "decimal")
_JSON_KEYS = frozenset(k for k, s in sc.ATTRIBUTES.items() if s.type == "json")
_TIME_KEYS = frozenset(k for k, s in sc.ATTRIBUTES.items() if s.type == "time_ns")
_FINAL_STATUSES = frozenset(s.value for s, nxt in sc.STATUS_TRANSITIONS.items() if not nxt)
ATOMIC_TRANSACTION = "ATOMIC_TRANSACTION"
_UPDATE_BOOKKEEPING = frozenset({sc.EVENT_UPDATES_SEQ, sc.EVENT_TYPE})

_RECORDERS: weakref.WeakSet[Recorder] = weakref.WeakSet()


class LifecycleError(InvalidRecordError):
    """``update_event`` asked for a status move the lifecycle does not allow."""


class Recorder:
    """Records fills, orders, decisions, risk checks, errors, events and spans for one run.

    ``Recorder(...)`` works on its own, with no global state; ``tradetrace.configure(...)``
    takes the same arguments and makes the result the target of the module-level functions.
    """

    def __init__(
        self,
        service_name: str | None = None,
        exporters: Iterable[str | Exporter] | None = None,
        directory: str | os.PathLike[str] = "tradetrace-data",
        mode: str | None = None,
        clock: Clock | None = None,
        durability: str | None = None,
        *,
        run_id: str | None = None,
        strategy: str | None = None,
        environment: str | None = None,
        deterministic: bool = False,
        queue_size: int = 100_000,
        batch_size: int = 512,
        schedule_delay: float = 0.2,
        overflow: Overflow = "block",
        block_timeout: float = 0.1,
        exit_timeout: float = 5.0,
        spool_sync: SyncPolicy = "interval",
        spool_sync_interval: float = 0.1,
        max_spool_bytes: int = 1 << 30,
        spool_directory: str | os.PathLike[str] | None = None,
        redact: Iterable[str] = (),
        capture_snapshots: bool = True,
        event_history: int = 1_000_000,
        event_buffer_size: int = 10_000,
        snapshot_dedupe_bytes: int = 2048,
        max_string_length: int = 65_536,
        correlate_otel: bool = True,
        handle_signals: bool = True,
    ) -> None:
        service = service_name or os.environ.get("OTEL_SERVICE_NAME") or "tradetrace"
        self.service_name = check_file_name_part("service_name", service)
        if strategy is not None:
            check_file_name_part("strategy", strategy)
        mode_value = mode or os.environ.get("TRADETRACE_MODE") or sc.Mode.LIVE.value
        if mode_value not in {m.value for m in sc.Mode}:
            raise ValueError(f"mode={mode_value!r}: must be 'backtest' or 'live'")
        durability = durability or os.environ.get("TRADETRACE_DURABILITY") or "memory"
        if durability not in ("memory", "spool"):
            raise ValueError(f"durability={durability!r}: must be 'memory' or 'spool'")
        self.durability = durability
        self.clock: Clock = clock if clock is not None else WallClock()
        if not callable(getattr(self.clock, "now_ns", None)):
            raise TypeError("clock must have a now_ns() method (WallClock or SimulatedClock)")
        if deterministic and (isinstance(self.clock, WallClock) or run_id is None):
            raise ValueError(
                "deterministic=True needs a SimulatedClock and a fixed run_id, "
                "otherwise two runs cannot write identical files"
            )
        self.directory = Path(directory).absolute()  # exporters open files later, elsewhere
        self.mode = mode_value
        self.deterministic = deterministic
        self.capture_snapshots = capture_snapshots
        self.correlate_otel = correlate_otel
        self.exit_timeout = exit_timeout
        self._settings = {"strategy": strategy, "environment": environment}
        self._errors = InternalErrors()
        self._redactor = Redactor(redact, max_string_length=max_string_length)
        self._wall_clock = isinstance(self.clock, WallClock)
        self._event_history = event_history
        if type(event_buffer_size) is not int or not 0 < event_buffer_size < 100_000:
            raise ValueError(
                f"event_buffer_size={event_buffer_size!r}: must be an int > 0 and < 100000"
            )
        self.event_buffer_size = event_buffer_size
        self.snapshot_dedupe_bytes = snapshot_dedupe_bytes
        self.max_string_length = max_string_length
        self.run = self._new_run(run_id or new_run_id())
        self.exporters: tuple[Exporter, ...] = build_exporters(
            exporters if exporters is not None else ("duckdb",),  # the embedded default
            directory=self.directory,
            service_name=self.service_name,
        )
        pipeline: dict[str, Any] = {
            "errors": self._errors,
            "batch_size": batch_size,
            "schedule_delay": schedule_delay,
            "overflow": overflow,
            "block_timeout": block_timeout,
        }
        self._processor: Processor | DurableProcessor
        if durability == "spool":
            self._processor = DurableProcessor(
                self.exporters,
                self.run,
                spool_directory=Path(spool_directory).absolute()
                if spool_directory is not None
                else self.directory / "spool" / self.service_name,
                sync=spool_sync,
                sync_interval=spool_sync_interval,
                max_spool_bytes=max_spool_bytes,
                **pipeline,
            )
        else:
            self._processor = Processor(
                self.exporters, self.run, queue_size=queue_size, **pipeline
            )
        self._enqueue = self._processor.emit
        self._reset_run_state()
        _RECORDERS.add(self)
        if handle_signals:  # SIGTERM/SIGINT flush first; main thread only (see graceful_stop)
            install_stop_handlers(_flush_on_stop_signal)

    # --- run state -----------------------------------------------------------------------

    def _new_run(self, run_id: str) -> Run:
        return Run(
            run_id=run_id,
            service_name=self.service_name,
            mode=self.mode,
            strategy=self._settings["strategy"],
            environment=self._settings["environment"],
            clock_source=getattr(self.clock, "source", type(self.clock).__name__),
        )

    def _reset_run_state(self) -> None:
        self.run_id = self.run.run_id
        self._token = object()  # scopes opened by this run; replaced after fork
        self._seq = itertools.count(1)
        rng = random.Random(self.run_id if self.deterministic else None)
        # Span and trace ids are a per-run random salt XOR the span's seq: unique within the run
        # (seqs are), unpredictable across runs, reproducible in deterministic runs, and one XOR
        # on the hot path instead of a random draw.
        self._span_salt = rng.getrandbits(64) | (1 << 63)
        self._trace_salt = rng.getrandbits(128) | (1 << 127)
        self._events: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._events_lock = threading.Lock()
        self._history: deque[Record] = deque(maxlen=self.event_buffer_size)
        self._snapshots_seen: OrderedDict[str, Any] = OrderedDict()  # digest -> content
        self._event_updates: dict[int, dict[str, Any]] = {}  # seq -> fields its updates added

    def _after_fork(self) -> None:
        self.run = self._new_run(f"{self.run_id}-fork{os.getpid()}")
        self._errors.reset()
        self._reset_run_state()
        self._processor.after_fork(self.run)

    # --- the one place a record is stamped -----------------------------------------------

    def _emit(
        self,
        kind: str,
        name: str,
        attributes: dict[str, Any],
        severity: str | None,
        status: str | None,
        when: Any = None,
        parent: int | None = None,
        related: Iterable[int] | None = None,
        keep: bool = False,
    ) -> int:
        scope = CURRENT_SCOPE.get()
        if scope is not None and scope.owner is self._token:
            parent_seq: int | None = scope.seq
            trace_id: int | None = scope.trace_id
            span_id: int | None = scope.span_id
            scope.children += 1
        else:
            parent_seq = trace_id = span_id = None
            if self.correlate_otel:
                otel = current_otel_ids()
                if otel is not None:
                    trace_id, span_id = otel
        if parent is not None:
            parent_seq = check.seq_reference("parent", parent)
        related_seqs = (
            tuple(check.seq_reference("related", s) for s in related) if related else None
        )
        observed = time.time_ns()
        if when is not None:
            event_ns = self._time_arg(when)
        else:
            event_ns = observed if self._wall_clock else self.clock.now_ns()
        if self.deterministic:
            observed = None
        seq = next(self._seq)
        record = Record(
            seq, self.run_id, kind, name, event_ns, observed, None, trace_id, span_id, None,
            parent_seq, related_seqs, severity, status, attributes,
        )  # fmt: skip
        self._enqueue(record)
        if keep:
            self._history.append(record)
        return seq

    @staticmethod
    def _time_arg(when: Any, field: str = "time") -> int:
        try:
            return to_ns(when)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidRecordError(field, when, str(exc)) from None

    def _extra(self, into: dict[str, Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Add user keyword attributes: short column names map to semconv keys; redacted."""
        for key, value in attributes.items():
            if value is None:
                continue
            full = sc.ATTRIBUTE_OF.get(key, key)
            if full in _DECIMAL_KEYS:
                into[full] = check.number(key, value)
            elif full in _TIME_KEYS:
                into[full] = self._time_arg(value, key)
            elif full in sc.ATTRIBUTES:
                into[full] = self._redactor.clean(value, key)
            elif self._redactor.is_sensitive(key):
                into[full] = REDACTED
            else:
                into[full] = self._redactor.clean(value, key)
        return into

    # --- explicit API --------------------------------------------------------------------

    def record_fill(
        self,
        *,
        symbol: str,
        side: str,
        price: Any,
        quantity: Any,
        fee: Any = None,
        fee_currency: str | None = None,
        order_id: str | None = None,
        client_order_id: str | None = None,
        order_type: str | None = None,
        trade_id: str | None = None,
        liquidity_side: str | None = None,
        fee_rate: Any = None,
        realized_pnl: Any = None,
        spread_captured: Any = None,
        inventory_before: Any = None,
        inventory_after: Any = None,
        equity_before: Any = None,
        equity_after: Any = None,
        venue: str | None = None,
        notes: str | None = None,
        time: Any = None,
        parent: int | None = None,
        related: Iterable[int] | None = None,
        **fields: Any,
    ) -> int:
        """Record an execution. Returns its seq.

        ``price``, ``fee`` and the PnL, inventory and equity fields accept ``Decimal``, decimal
        strings (kept exact), ints and finite floats; ``quantity`` must be above zero. Any other
        keyword becomes an attribute (a semconv column name such as ``tx_hash`` maps to its
        attribute key; sensitive names are redacted).
        """
        # Finite floats and plain strings, the common case, skip the check call: this is the
        # hottest path in tradetrace (see benchmarks/record.py); anything else is checked.
        number, text = check.number, check.text
        a = {
            SYMBOL: check.required_text("symbol", symbol),
            ORDER_SIDE: check.side(side),
            FILL_PRICE: number("price", price),
            FILL_QUANTITY: check.positive("quantity", quantity),
        }
        if fee is not None:
            a[FEE_AMOUNT] = fee if type(fee) is float and fee - fee == 0.0 else number("fee", fee)
        if fee_currency is not None:
            a[FEE_CURRENCY] = (
                fee_currency if type(fee_currency) is str else text("fee_currency", fee_currency)
            )
        if order_id is not None:
            a[ORDER_ID] = order_id if type(order_id) is str else text("order_id", order_id)
        if client_order_id is not None:
            a[ORDER_CLIENT_ID] = (
                client_order_id
                if type(client_order_id) is str
                else text("client_order_id", client_order_id)
            )
        if order_type is not None:
            a[ORDER_TYPE] = (
                order_type if type(order_type) is str else text("order_type", order_type)
            )
        if trade_id is not None:
            a[FILL_TRADE_ID] = trade_id if type(trade_id) is str else text("trade_id", trade_id)
        if liquidity_side is not None:
            a[FILL_LIQUIDITY_SIDE] = check.liquidity_side(liquidity_side)
        if fee_rate is not None:
            a[FEE_RATE] = (
                fee_rate
                if type(fee_rate) is float and fee_rate - fee_rate == 0.0
                else number("fee_rate", fee_rate)
            )
        if realized_pnl is not None:
            a[FILL_REALIZED_PNL] = (
                realized_pnl
                if type(realized_pnl) is float and realized_pnl - realized_pnl == 0.0
                else number("realized_pnl", realized_pnl)
            )
        if spread_captured is not None:
            a[FILL_SPREAD_CAPTURED] = (
                spread_captured
                if type(spread_captured) is float and spread_captured - spread_captured == 0.0
                else number("spread_captured", spread_captured)
            )
        if inventory_before is not None:
            a[POSITION_INVENTORY_BEFORE] = (
                inventory_before
                if type(inventory_before) is float and inventory_before - inventory_before == 0.0
                else number("inventory_before", inventory_before)
            )
        if inventory_after is not None:
            a[POSITION_INVENTORY_AFTER] = (
                inventory_after
                if type(inventory_after) is float and inventory_after - inventory_after == 0.0
                else number("inventory_after", inventory_after)
            )
        if equity_before is not None:
            a[POSITION_EQUITY_BEFORE] = (
                equity_before
                if type(equity_before) is float and equity_before - equity_before == 0.0
                else number("equity_before", equity_before)
            )
        if equity_after is not None:
            a[POSITION_EQUITY_AFTER] = (
                equity_after
                if type(equity_after) is float and equity_after - equity_after == 0.0
                else number("equity_after", equity_after)
            )
        if venue is not None:
            a[LEDGER_VENUE] = venue if type(venue) is str else text("venue", venue)
        if notes is not None:
            a[NOTES] = notes if type(notes) is str else text("notes", notes)
            if len(a[NOTES]) > self.max_string_length:
                a[NOTES] = self._redactor.limit_text(a[NOTES])
        if fields:
            self._extra(a, fields)
        return self._emit(_FILL, "fill", a, _INFO, None, time, parent, related)

    def record_order(
        self,
        action: str,
        *,
        symbol: str,
        side: Any = None,
        order_type: str | None = None,
        price: Any = None,
        quantity: Any = None,
        order_id: str | None = None,
        client_order_id: str | None = None,
        status: str | None = None,
        time: Any = None,
        parent: int | None = None,
        related: Iterable[int] | None = None,
        **fields: Any,
    ) -> int:
        """Record an order action (``submit``, ``cancel``, ``amend``, ...). Returns its seq."""
        attributes: dict[str, Any] = {sc.SYMBOL: check.required_text("symbol", symbol)}
        if side is not None:
            attributes[sc.ORDER_SIDE] = check.side(side)
        for key, field, value in (
            (sc.ORDER_TYPE, "order_type", order_type),
            (sc.ORDER_ID, "order_id", order_id),
            (sc.ORDER_CLIENT_ID, "client_order_id", client_order_id),
            (sc.ORDER_STATUS, "status", status),
        ):
            if value is not None:
                attributes[key] = check.text(field, value)
        if price is not None:
            attributes[sc.ORDER_PRICE] = check.number("price", price)
        if quantity is not None:
            attributes[sc.ORDER_QUANTITY] = check.positive("quantity", quantity)
        self._extra(attributes, fields)
        name = check.required_text("action", action)
        return self._emit(_ORDER, name, attributes, _INFO, None, time, parent, related)

    def record_decision(
        self,
        name: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        result: Any = None,
        reason: str | None = None,
        symbol: str | None = None,
        time: Any = None,
        parent: int | None = None,
        related: Iterable[int] | None = None,
        **fields: Any,
    ) -> int:
        """Record a strategy decision with its inputs, result and reason. Returns its seq.

        A mapping result with ``bid_spread``/``ask_spread`` keys also fills those columns.
        """
        decision = check.required_text("name", name)
        attributes: dict[str, Any] = {sc.DECISION_TYPE: decision}
        if symbol is not None:
            attributes[sc.SYMBOL] = check.text("symbol", symbol)
        if inputs is not None:
            if not isinstance(inputs, Mapping):
                raise InvalidRecordError("inputs", inputs, "must be a mapping of name to value")
            attributes[sc.DECISION_INPUTS] = self._redactor.clean(inputs, "inputs")
        if result is not None:
            cleaned = self._redactor.clean(result, "result")
            attributes[sc.DECISION_RESULT] = cleaned
            if isinstance(cleaned, dict):
                for key, column in ((sc.DECISION_BID_SPREAD, "bid_spread"),
                                    (sc.DECISION_ASK_SPREAD, "ask_spread")):  # fmt: skip
                    if cleaned.get(column) is not None:
                        attributes[key] = check.number(f"result.{column}", cleaned[column])
        if reason is not None:
            attributes[sc.DECISION_REASON] = self._redactor.limit_text(
                check.text("reason", reason) or ""
            )
        self._extra(attributes, fields)
        return self._emit(_DECISION, decision, attributes, _INFO, None, time, parent, related)

    def record_risk_check(
        self,
        name: str,
        *,
        passed: bool,
        reason: str | None = None,
        limit: Any = None,
        observed: Any = None,
        symbol: str | None = None,
        severity: str | None = None,
        time: Any = None,
        parent: int | None = None,
        related: Iterable[int] | None = None,
        **fields: Any,
    ) -> int:
        """Record a risk check. A failed check has severity CRITICAL unless told otherwise."""
        check_name = check.required_text("name", name)
        ok = check.flag("passed", passed)
        attributes: dict[str, Any] = {sc.RISK_CHECK: check_name, sc.RISK_PASSED: ok}
        if reason is not None:
            attributes[sc.RISK_REASON] = self._redactor.limit_text(
                check.text("reason", reason) or ""
            )
        if limit is not None:
            attributes[sc.RISK_LIMIT] = check.number("limit", limit)
        if observed is not None:
            attributes[sc.RISK_OBSERVED] = check.number("observed", observed)
        if symbol is not None:
            attributes[sc.SYMBOL] = check.text("symbol", symbol)
        level = check.severity(severity) if severity is not None else (_INFO if ok else _CRITICAL)
        self._extra(attributes, fields)
        status = Status.OK.value if ok else Status.FAILED.value
        return self._emit(_RISK, check_name, attributes, level, status, time, parent, related)

    def record_error(
        self,
        error_type: str,
        *,
        exception: BaseException | None = None,
        message: str | None = None,
        severity: str = "ERROR",
        recovery_action: str | None = None,
        symbol: str | None = None,
        time: Any = None,
        parent: int | None = None,
        related: Iterable[int] | None = None,
        **fields: Any,
    ) -> int:
        """Record an error: type, message, exception type/message/full traceback, recovery."""
        kind = check.required_text("error_type", error_type)
        level = check.severity(severity)
        if exception is not None and not isinstance(exception, BaseException):
            raise InvalidRecordError("exception", exception, "must be an exception instance")
        attributes: dict[str, Any] = {sc.ERROR_TYPE: kind}
        text = check.text("message", message)
        if text:
            text = self._redactor.limit_text(text)
        if exception is not None:
            attributes.update(exception_attributes(exception, self._redactor.limit_text))
            if text is None:
                text = attributes[sc.EXCEPTION_MESSAGE] or type(exception).__name__
        if text is not None:
            attributes[sc.ERROR_MESSAGE] = text
        if recovery_action is not None:
            attributes[sc.ERROR_RECOVERY_ACTION] = self._redactor.limit_text(
                check.text("recovery_action", recovery_action) or ""
            )
        if symbol is not None:
            attributes[sc.SYMBOL] = check.text("symbol", symbol)
        self._extra(attributes, fields)
        return self._emit(_ERROR, kind, attributes, level, None, time, parent, related)

    def record_event(
        self,
        event_type: str,
        *,
        venue: str | None = None,
        token: str | None = None,
        amount: Any = None,
        snapshot: Mapping[str, Any] | None = None,
        parent: int | None = None,
        related: Iterable[int] | None = None,
        status: str | None = None,
        severity: str | None = None,
        time: Any = None,
        **fields: Any,
    ) -> int:
        """Record a ledger event (``GAS_FEE_PAID``, ``STAKE_DEPOSIT``, or any custom type).

        Status defaults to ``completed`` in backtest mode and ``pending`` in live mode;
        ``update_event`` moves it on. ``snapshot`` is the full position-monitor output.
        """
        name = check.required_text("event_type", event_type)
        state = check.status(status) if status is not None else self._default_status()
        attributes: dict[str, Any] = {sc.EVENT_TYPE: name}
        if venue is not None:
            attributes[sc.LEDGER_VENUE] = check.text("venue", venue)
        if token is not None:
            attributes[sc.LEDGER_TOKEN] = check.text("token", token)
        if amount is not None:
            attributes[sc.LEDGER_AMOUNT] = check.number("amount", amount)
        stored = None
        if snapshot is not None and self.capture_snapshots:
            snapshot_attributes, stored = self._snapshot_attributes(snapshot)
            attributes.update(snapshot_attributes)
        self._extra(attributes, fields)
        level = check.severity(severity) if severity is not None else _INFO
        seq = self._emit(_EVENT, name, attributes, level, state, time, parent, related, keep=True)
        if stored is not None:  # only a recorded event stores a snapshot for later ones to name
            self._remember_snapshot(*stored)
        self._remember_event(seq, name, state)
        return seq

    def update_event(
        self,
        seq: int,
        status: str,
        *,
        reason: str | None = None,
        completion_timestamp: Any = None,
        time: Any = None,
        **fields: Any,
    ) -> int:
        """Append a lifecycle update (``submitted``, ``confirmed``, ``failed``, ...) for event
        ``seq``. Refuses unknown events and moves the lifecycle does not allow. Returns the
        update's own seq."""
        target = check.seq_reference("seq", seq)
        new = check.status(status)
        attributes: dict[str, Any] = {sc.EVENT_UPDATES_SEQ: target}
        if reason is not None:
            attributes[sc.EVENT_FAILURE_REASON] = self._redactor.limit_text(
                check.text("reason", reason) or ""
            )
        if completion_timestamp is not None:
            attributes[sc.EVENT_COMPLETION_TIME] = self._time_arg(
                completion_timestamp, "completion_timestamp"
            )
        self._extra(attributes, fields)
        with self._events_lock:
            known = self._events.get(target)
            if known is None:
                raise InvalidRecordError(
                    "seq", seq, f"no event with this seq was recorded in run {self.run_id}"
                )
            name, current = known
            if sc.Status(new) not in sc.STATUS_TRANSITIONS.get(sc.Status(current), frozenset()):
                raise LifecycleError(
                    "status", status, f"event {target} is {current!r}; it cannot become {new!r}"
                )
            attributes[sc.EVENT_TYPE] = name
            update_seq = self._emit(_EVENT, name, attributes, _INFO, new, time)
            self._events[target] = (name, new)
            added = {k: v for k, v in attributes.items() if k not in _UPDATE_BOOKKEEPING}
            self._event_updates.setdefault(target, {}).update(added)
        return update_seq

    def get_events(
        self, since: Any = None, until: Any = None, event_type: str | None = None
    ) -> list[dict[str, Any]]:
        """The last ``event_buffer_size`` events of this run in seq order, each with its latest
        lifecycle status and the fields its updates added; ``since <= time < until`` and
        ``event_type`` filter.

        Each event is a dict (a copy: changing it changes no record) of its record fields
        (``seq``, ``time_ns``, ``event_type``, ``status``, ``parent_seq``, ``related_seqs``) and
        its attributes by column name; a snapshot stored once by id is resolved.
        """
        low = None if since is None else self._time_arg(since, "since")
        high = None if until is None else self._time_arg(until, "until")
        events = []
        for record in sorted(list(self._history), key=lambda r: r.seq):
            if event_type is not None and record.name != event_type:
                continue
            if (low is not None and record.time_ns < low) or (
                high is not None and record.time_ns >= high
            ):
                continue
            event: dict[str, Any] = {
                "seq": record.seq,
                "time_ns": record.time_ns,
                "event_type": record.name,
                "status": self.event_status(record.seq) or record.status,
                "parent_seq": record.parent_seq,
                "related_seqs": list(record.related_seqs) if record.related_seqs else None,
            }
            for key, value in record.attributes.items():
                event.setdefault(sc.COLUMN_OF.get(key, key), copy.deepcopy(value))
            for key, value in self._event_updates.get(record.seq, {}).items():
                event[sc.COLUMN_OF.get(key, key)] = copy.deepcopy(value)
            snapshot_id = event.get("snapshot_id")
            if snapshot_id is not None and "wallet_balance_after" not in event:
                whole = self._snapshots_seen.get(snapshot_id)
                if whole is not None:
                    event.update(
                        (sc.COLUMN_OF[k], copy.deepcopy(v))
                        for k, v in self._derived_snapshot(whole).items()
                    )
            events.append(event)
        return events

    def event_status(self, seq: int) -> str | None:
        """The latest lifecycle status of event ``seq`` in this run (``None`` if unknown)."""
        known = self._events.get(seq)
        return known[1] if known else None

    def record(self, entry: Entry) -> int:
        """Record a validated entry model (:class:`~tradetrace.records.FillEntry`, ...)."""
        arguments = entry.arguments()
        kind = arguments.pop("entry")
        if kind == "fill":
            return self.record_fill(**arguments)
        if kind == "decision":
            return self.record_decision(arguments.pop("name"), **arguments)
        if kind == "risk_check":
            return self.record_risk_check(arguments.pop("name"), **arguments)
        if kind == "error":
            return self.record_error(arguments.pop("error_type"), **arguments)
        return self.record_event(arguments.pop("event_type"), **arguments)

    # --- spans and bundles ---------------------------------------------------------------

    def span(self, name: str, *, kind: str = _SPAN, **attributes: Any) -> Span:
        """``with rec.span("rebalance", symbol="BTC-USDT") as s:``: a timed record whose seq is
        taken on entry; records made inside carry it as ``parent_seq``."""
        kind_value = RecordKind(kind).value
        return Span(self, check.required_text("name", name), kind_value,
                    self._extra({}, attributes))  # fmt: skip

    def bundle(
        self,
        bundle_name: str,
        *,
        net_result: Mapping[str, Any] | None = None,
        venue: str | None = None,
        **attributes: Any,
    ) -> Span:
        """``with rec.bundle("ATOMIC_LEVERAGE_ENTRY") as b:``: an atomic-transaction wrapper
        event. Its seq precedes its children's; children carry it as ``parent_seq``; if the block
        raises, the wrapper is recorded ``failed`` with the exception."""
        fields: dict[str, Any] = {
            sc.EVENT_TYPE: ATOMIC_TRANSACTION,
            sc.BUNDLE_NAME: check.required_text("bundle_name", bundle_name),
        }
        if net_result is not None:
            fields[sc.BUNDLE_NET_RESULT] = self._redactor.clean(net_result, "net_result")
        if venue is not None:
            fields[sc.LEDGER_VENUE] = check.text("venue", venue)
        self._extra(fields, attributes)
        return Span(self, ATOMIC_TRANSACTION, _EVENT, fields, bundle=True)

    # --- pipeline ------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> FlushResult:
        """Export everything recorded so far; returns by ``timeout`` and says what was left."""
        return self._processor.flush(timeout)

    def shutdown(self, timeout: float = 10.0) -> FlushResult:
        """Flush and close every exporter; returns by ``timeout``. Idempotent."""
        result = self._processor.shutdown(timeout)
        _RECORDERS.discard(self)
        return result

    def health(self) -> dict[str, Any]:
        """Pipeline counters: emitted, exported/failed/dropped per exporter, queue depth, ..."""
        counters = self._processor.health()
        counters["run_id"] = self.run_id
        counters["internal_errors"] = self._errors.counts()
        return counters

    @property
    def internal_errors(self) -> InternalErrors:
        return self._errors

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(self.exit_timeout)

    def __repr__(self) -> str:
        names = ", ".join(e.name for e in self.exporters)
        return f"Recorder(service_name={self.service_name!r}, run_id={self.run_id!r}, [{names}])"

    # --- internals -----------------------------------------------------------------------

    def _default_status(self) -> str:
        return Status.COMPLETED.value if self.mode == "backtest" else Status.PENDING.value

    def _remember_event(self, seq: int, name: str, state: str) -> None:
        with self._events_lock:
            self._events[seq] = (name, state)
            while len(self._events) > self._event_history:
                oldest, _ = self._events.popitem(last=False)
                self._event_updates.pop(oldest, None)

    def _snapshot_attributes(
        self, snapshot: Mapping[str, Any]
    ) -> tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]:
        """The snapshot's attributes, and ``(digest, content)`` to remember once the event is
        recorded (``None`` when it is small, or already stored in this run)."""
        if not isinstance(snapshot, Mapping):
            raise InvalidRecordError("snapshot", snapshot, "must be a mapping")
        whole = self._redactor.clean(snapshot, "snapshot")
        content = to_json(whole, orjson.OPT_SORT_KEYS)
        if len(content) < self.snapshot_dedupe_bytes:
            return self._derived_snapshot(whole), None
        digest = hashlib.blake2b(content, digest_size=16).hexdigest()
        seen = self._snapshots_seen
        if digest in seen:  # stored once per run: repeats carry only the id
            seen.move_to_end(digest)
            return {sc.LEDGER_SNAPSHOT_ID: digest}, None
        derived = self._derived_snapshot(whole)
        derived[sc.LEDGER_SNAPSHOT_ID] = digest
        return derived, (digest, whole)

    def _remember_snapshot(self, digest: str, whole: dict[str, Any]) -> None:
        seen = self._snapshots_seen
        seen[digest] = whole
        if len(seen) > 4096:
            seen.popitem(last=False)

    @staticmethod
    def _derived_snapshot(whole: dict[str, Any]) -> dict[str, Any]:
        """The whole snapshot plus the seed's derived CEX and on-chain subsets."""
        derived: dict[str, Any] = {sc.LEDGER_WALLET_BALANCE_AFTER: whole}
        if whole.get("cex_accounts") is not None:
            derived[sc.LEDGER_CEX_BALANCE_AFTER] = whole["cex_accounts"]
        derived[sc.LEDGER_ONCHAIN_POSITION_AFTER] = {
            "wallet": whole.get("wallet"),
            "perp_positions": whole.get("perp_positions"),
        }
        return derived


@contextmanager
def _suppressed(errors: InternalErrors, kind: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        errors.report(kind, exc)


def flush_all(timeout: float | None = None, *, close: bool = False) -> bool:
    """Flush every live Recorder, each within ``timeout`` (default: its own ``exit_timeout``);
    with ``close``, shut it down too. Never raises; True when everything was written.

    One function for interpreter exit (``close=True``), tradetrace's stop-signal handler, and an
    application's own SIGTERM handler installed after tradetrace's.
    """
    ok = True
    for recorder in list(_RECORDERS):
        limit = recorder.exit_timeout if timeout is None else timeout
        try:
            result = recorder.shutdown(limit) if close else recorder.flush(limit)
        except Exception as exc:
            recorder._errors.report("shutdown_all" if close else "flush_all", exc)
            ok = False
        else:
            ok = ok and bool(result)
    return ok


def _flush_on_stop_signal(final: bool) -> None:
    """SIGTERM/SIGINT: flush; close too when the process ends right after (``SIG_DFL``)."""
    flush_all(close=final)


def _after_fork_in_child() -> None:
    for recorder in list(_RECORDERS):
        with _suppressed(recorder._errors, "after_fork"):
            recorder._after_fork()


atexit.register(flush_all, close=True)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
