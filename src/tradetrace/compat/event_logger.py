"""Drop-in replacement for the seed ``EventLogger`` (the audit-grade event logger), on tradetrace.

The seed's class, constructor and method names, and its event dicts::

    from tradetrace.compat import EventLogger          # plain calls, as the seed's tests make
    from tradetrace.compat import AsyncEventLogger     # the same, log_* awaitable (seed spec)

    logger = EventLogger(config={"event_buffer_size": 10_000, "event_export_format": "both"})
    order = logger.log_gas_fee(ts, 0.0035, 10.5, "STAKE", 150_000, 23.3, position_snapshot=snap)
    logger.events[-1]["wallet_balance_after"] == snap

Underneath, every event is a tradetrace ledger event (:mod:`tradetrace.ledger`): validated
(NaN, negative gas costs and stake amounts are refused with
:class:`~tradetrace.InvalidRecordError`, naming the seed's argument), stamped with the global seq
(the seed's ``order``), appended, never modified: ``update_event`` appends a lifecycle record and
refuses moves the lifecycle does not allow (:class:`~tradetrace.LifecycleError`). The exporters
write the events to CSV and/or JSON Lines files (``event_export_format``) under ``directory``;
``.events`` is the seed-shaped view of the last ``event_buffer_size`` events, each with its
latest status and lifecycle updates applied.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from tradetrace import ledger
from tradetrace import semconv as sc
from tradetrace import validation as check
from tradetrace.exporters.base import Exporter
from tradetrace.ledger import _column as _checked_column
from tradetrace.pipeline.clock import to_ns
from tradetrace.pipeline.processor import FlushResult
from tradetrace.pipeline.recorder import Recorder
from tradetrace.validation import InvalidRecordError

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_BUFFER_SIZE = 10_000
MAX_BUFFER_SIZE = 100_000
#: ``event_export_format`` -> the exporters a logger builds for its own Recorder.
EXPORTERS_OF_FORMAT: dict[str, tuple[str, ...]] = {
    "csv": ("csv",),
    "json": ("jsonl",),
    "both": ("csv", "jsonl"),
}
_MODES = ("backtest", "live")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: The seed's event keys, in the seed's order; every event of ``.events`` has all of them.
SEED_EVENT_KEYS: tuple[str, ...] = (
    "timestamp", "order", "status", "event_type", "event_id", "venue", "token", "amount",
    "wallet_balance_after", "cex_balance_after", "aave_position_after", "gas_cost_eth",
    "gas_cost_usd", "gas_units", "gas_price_gwei", "execution_cost_usd", "execution_cost_bps",
    "purpose", "transaction_type", "related_events", "iteration", "parent_event",
    "trigger_timestamp", "completion_timestamp", "tx_hash", "confirmation_blocks",
)  # fmt: skip
# seed keyword -> tradetrace ledger keyword
_FROM_SEED = {
    "parent_event": "parent",
    "related_events": "related",
    "trigger_timestamp": "trigger_time",
    "completion_timestamp": "completion_time",
    "position_snapshot": "snapshot",
    "timestamp": "time",
}
# tradetrace argument name -> the seed's, for InvalidRecordError.field
_TO_SEED = {v: k for k, v in _FROM_SEED.items()} | {"seq": "order"}
# get_events keys that are not seed keys (their values move to seed keys)
_RECORD_KEYS = frozenset(
    {"seq", "time_ns", "parent_seq", "related_seqs", "trigger_time_ns", "completion_time_ns"}
)
_TIME_COLUMNS = {
    "trigger_time_ns": "trigger_timestamp",
    "completion_time_ns": "completion_timestamp",
}
_SNAPSHOT_CACHE = 1024
_NOT_UPDATABLE = frozenset(
    {"order", "seq", "event_type", "parent_event", "related_events", "position_snapshot",
     "parent", "related", "snapshot", "recorder"}
)  # fmt: skip


def _timestamp(ns: int | None) -> Any:
    """ns -> ``pandas.Timestamp`` (UTC, ns exact) when pandas is installed, else a datetime."""
    if ns is None:
        return None
    pandas = _pandas()
    if pandas is not None:
        return pandas.Timestamp(ns, tz="UTC")
    return _EPOCH + timedelta(microseconds=ns // 1000)


@functools.cache
def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _seed_error(
    exc: InvalidRecordError, renames: Mapping[str, str] | None = None
) -> InvalidRecordError:
    """``exc`` naming the seed's argument (``timestamp``, ``position_snapshot``, ...)."""
    names = {**_TO_SEED, **(renames or {})}
    field = ".".join(names.get(part, part) for part in exc.field.split("."))
    if field == exc.field:
        return exc
    return type(exc)(field, exc.value, exc.problem)


def _from_seed(data: Mapping[str, Any], include_snapshots: bool) -> dict[str, Any]:
    """Seed event keywords -> ledger keywords (``parent_event`` -> ``parent``, ...)."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = _FROM_SEED.get(key, key)
        if name == "snapshot" and not include_snapshots:
            continue
        result[name] = value
    return result


def _buffer_size(value: Any) -> int:
    if type(value) is not int or not 0 < value < MAX_BUFFER_SIZE:
        raise ValueError(
            f"event_buffer_size={value!r}: must be an int > 0 and < {MAX_BUFFER_SIZE} "
            f"(default {DEFAULT_BUFFER_SIZE})"
        )
    return value


def _export_format(value: Any) -> str:
    if value not in EXPORTERS_OF_FORMAT or type(value) is not str:
        raise ValueError(f"event_export_format={value!r}: must be 'csv', 'json' or 'both'")
    return value


def _execution_mode(given: str | None, recorder: Recorder | None) -> str:
    """The argument, else ``BASIS_EXECUTION_MODE``, else the given Recorder's mode, else
    ``TRADETRACE_MODE``, else backtest. Read once, at init."""
    if given is not None:
        source, value = "execution_mode", given
    elif os.environ.get("BASIS_EXECUTION_MODE"):
        source, value = "BASIS_EXECUTION_MODE", os.environ["BASIS_EXECUTION_MODE"]
    elif recorder is not None:
        source, value = "recorder.mode", recorder.mode
    elif os.environ.get("TRADETRACE_MODE"):
        source, value = "TRADETRACE_MODE", os.environ["TRADETRACE_MODE"]
    else:
        source, value = "default", "backtest"
    if value not in _MODES:
        raise ValueError(f"{source}={value!r}: execution mode must be 'backtest' or 'live'")
    return value


class _EventLog:
    """The one implementation behind :class:`EventLogger` and :class:`AsyncEventLogger`."""

    def __init__(
        self,
        execution_mode: str | None = None,
        include_balance_snapshots: bool = True,
        config: Mapping[str, Any] | None = None,
        recorder: Recorder | None = None,
        *,
        directory: str | os.PathLike[str] | None = None,
        exporters: Iterable[str | Exporter] | None = None,
        **recorder_options: Any,
    ) -> None:
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping (dict), not {type(config).__name__}")
        self.config: Mapping[str, Any] = config if config is not None else {}
        self.event_buffer_size = _buffer_size(
            self.config.get("event_buffer_size", DEFAULT_BUFFER_SIZE)
        )
        self.event_export_format = _export_format(self.config.get("event_export_format", "both"))
        self.execution_mode = _execution_mode(execution_mode, recorder)
        self.include_balance_snapshots = check.flag(
            "include_balance_snapshots", include_balance_snapshots
        )
        if recorder is None:
            options = dict(recorder_options)
            options.setdefault("service_name", "event_log")
            strategy = self.config.get("strategy_mode")
            if isinstance(strategy, str) and strategy:
                options.setdefault("strategy", strategy)
            environment = os.environ.get("BASIS_ENVIRONMENT")
            if environment:
                options.setdefault("environment", environment)
            self.recorder = Recorder(
                exporters=(
                    exporters
                    if exporters is not None
                    else EXPORTERS_OF_FORMAT[self.event_export_format]
                ),
                # absolute now: files are opened later, on the exporter thread, whatever the
                # working directory is by then
                directory=Path(directory if directory is not None else "logs/events").absolute(),
                mode=self.execution_mode,
                event_buffer_size=self.event_buffer_size,
                **options,
            )
            self._owns_recorder = True
        else:
            if directory is not None or exporters is not None or recorder_options:
                raise ValueError(
                    "pass either recorder= or the settings of a new Recorder (directory, "
                    "exporters, ...), not both"
                )
            if not isinstance(recorder, Recorder):
                raise TypeError(f"recorder={recorder!r} is not a tradetrace Recorder")
            self.recorder = recorder
            self._owns_recorder = False
        self._status = "completed" if self.execution_mode == "backtest" else "pending"
        self._lock = threading.Lock()
        self._global_order = 0
        self.last_log_timestamp: Any = None
        self._updates: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._snapshots: OrderedDict[str, Any] = OrderedDict()

    # --- state -----------------------------------------------------------------------------

    @property
    def global_order(self) -> int:
        """The latest order (seq) this logger handed out; 0 before the first event."""
        return self._global_order

    @property
    def events(self) -> list[dict[str, Any]]:
        """The last ``event_buffer_size`` events, by order, as the seed's dicts: every key of
        :data:`SEED_EVENT_KEYS` (None when absent) plus the event's other fields, its latest
        status and the fields its lifecycle updates added (``tx_hash``, ...)."""
        return self._seed_events(self.recorder.get_events())

    def get_events(self, timestamp: Any = None) -> list[dict[str, Any]]:
        """The event history (as :attr:`events`); with ``timestamp``, only the events at that
        exact time (the seed's loop timestamp)."""
        if timestamp is None:
            return self.events
        try:
            ns = to_ns(timestamp)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidRecordError("timestamp", timestamp, str(exc)) from None
        return self._seed_events(self.recorder.get_events(since=ns, until=ns + 1))

    # --- logging (shared by the sync and async classes) ------------------------------------

    def _log(
        self,
        function: Callable[..., R],
        timestamp: Any,
        position_snapshot: Any,
        arguments: dict[str, Any],
        renames: Mapping[str, str] | None = None,
    ) -> R:
        fields = {"status": self._status, **arguments, "time": timestamp,
                  "recorder": self.recorder}  # fmt: skip
        if position_snapshot is not None and self.include_balance_snapshots:
            fields["snapshot"] = position_snapshot
        try:
            result = function(**fields)
        except InvalidRecordError as exc:
            raise _seed_error(exc, renames) from None
        seqs = result if isinstance(result, list) else [result]
        with self._lock:
            self._global_order = max(self._global_order, *seqs)
            self.last_log_timestamp = timestamp
        if "snapshot" in fields or any("snapshot" in d for d in arguments.get("detail_events", ())):
            self._keep_snapshots(seqs)
        return result

    def log_event(
        self,
        timestamp: Any,
        event_type: str,
        venue: str | None,
        token: str | None = None,
        amount: Any = None,
        position_snapshot: Mapping[str, Any] | None = None,
        **event_data: Any,
    ) -> int:
        """Log an event; returns its order. ``event_data``: the seed's optional fields
        (``purpose``, ``related_events``, ``parent_event``, ``tx_hash``, gas and execution
        costs, ``status``, ...) and any other field."""
        data = _from_seed(event_data, self.include_balance_snapshots)
        data.pop("recorder", None)
        data.pop("time", None)
        data.update(event_type=event_type, venue=venue, token=token, amount=amount)
        return self._log(ledger.event, timestamp, position_snapshot, data)

    def log_gas_fee(
        self,
        timestamp: Any,
        gas_cost_eth: Any,
        gas_cost_usd: Any,
        operation_type: str,
        gas_units: int,
        gas_price_gwei: Any,
        position_snapshot: Mapping[str, Any] | None = None,
    ) -> int:
        """``GAS_FEE_PAID`` on ETHEREUM in ETH (see :func:`tradetrace.ledger.gas_fee`)."""
        return self._log(ledger.gas_fee, timestamp, position_snapshot, {
            "gas_cost_eth": gas_cost_eth, "gas_cost_usd": gas_cost_usd,
            "operation_type": operation_type, "gas_units": gas_units,
            "gas_price_gwei": gas_price_gwei,
        })  # fmt: skip

    def log_stake(
        self,
        timestamp: Any,
        venue: str,
        eth_in: Any,
        lst_out: Any,
        oracle_price: Any,
        iteration: int | None = None,
        position_snapshot: Mapping[str, Any] | None = None,
        *,
        output_token: str | None = None,
    ) -> int:
        """``STAKE_DEPOSIT``: ETH in, weETH (ETHERFI) or wstETH (LIDO) out. Other venues must
        name ``output_token`` (the seed silently wrote wstETH)."""
        return self._log(ledger.stake, timestamp, position_snapshot, {
            "venue": venue, "eth_in": eth_in, "lst_out": lst_out, "oracle_price": oracle_price,
            "iteration": iteration, "output_token": output_token,
        })  # fmt: skip

    def log_aave_supply(
        self,
        timestamp: Any,
        token: str,
        amount_supplied: Any,
        atoken_received: Any,
        liquidity_index: Any,
        iteration: int | None = None,
        position_snapshot: Mapping[str, Any] | None = None,
    ) -> int:
        """``COLLATERAL_SUPPLIED`` on AAVE with the aToken amount, the liquidity index and the
        seed's ``conversion_note``."""
        return self._log(ledger.supply_collateral, timestamp, position_snapshot, {
            "token": token, "amount_supplied": amount_supplied,
            "atoken_received": atoken_received, "liquidity_index": liquidity_index,
            "iteration": iteration,
        })  # fmt: skip

    def log_atomic_transaction(
        self,
        timestamp: Any,
        bundle_name: str,
        detail_events: Iterable[Mapping[str, Any]],
        net_result: Mapping[str, Any] | None,
        position_snapshot: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """An ``ATOMIC_TRANSACTION`` wrapper then its details (each a mapping of
        :meth:`log_event` keywords), all validated first; returns
        ``[wrapper_order, *detail_orders]``; details carry ``parent_event``."""
        details = [
            _from_seed(d, self.include_balance_snapshots) if isinstance(d, Mapping) else d
            for d in detail_events
        ]
        return self._log(ledger.atomic_transaction, timestamp, position_snapshot, {
            "bundle_name": bundle_name, "detail_events": details, "net_result": net_result,
        })  # fmt: skip

    def log_perp_trade(
        self,
        timestamp: Any,
        venue: str,
        instrument: str,
        side: str,
        size_eth: Any,
        entry_price: Any,
        notional_usd: Any,
        execution_cost_usd: Any,
        position_snapshot: Mapping[str, Any] | None = None,
    ) -> int:
        """``TRADE_EXECUTED``: amount = ``abs(size_eth)`` ETH; venue upper-cased."""
        return self._log(ledger.perp_trade, timestamp, position_snapshot, {
            "venue": venue, "instrument": instrument, "side": side, "size": size_eth,
            "entry_price": entry_price, "notional_usd": notional_usd,
            "execution_cost_usd": execution_cost_usd, "token": "ETH",
        }, {"size": "size_eth"})  # fmt: skip

    def log_funding_payment(
        self,
        timestamp: Any,
        venue: str,
        funding_rate: Any,
        notional_usd: Any,
        pnl_usd: Any,
        position_snapshot: Mapping[str, Any] | None = None,
    ) -> int:
        """``FUNDING_PAYMENT`` in USDT: amount = ``abs(pnl_usd)``, RECEIVED or PAID."""
        return self._log(ledger.funding_payment, timestamp, position_snapshot, {
            "venue": venue, "funding_rate": funding_rate, "notional_usd": notional_usd,
            "pnl_usd": pnl_usd,
        })  # fmt: skip

    # --- lifecycle -------------------------------------------------------------------------

    def update_event(
        self, order: int, updates_dict: Mapping[str, Any] | None = None, **updates: Any
    ) -> int:
        """Move event ``order`` on: ``update_event(1523, {"status": "submitted", "tx_hash":
        "0xabc..."})``. ``status`` is required; ``completion_timestamp``, ``reason`` and any
        other field are recorded with the update and shown in :attr:`events`. Appends a
        lifecycle record (returns its seq); the original event is never modified. Refuses
        unknown orders and moves the lifecycle does not allow (``confirmed`` -> ``pending``)
        with :class:`~tradetrace.LifecycleError`."""
        if updates_dict is not None and not isinstance(updates_dict, Mapping):
            raise InvalidRecordError("updates_dict", updates_dict, "must be a mapping")
        changes = {**(updates_dict or {}), **updates}
        if changes.get("status") is None:
            raise InvalidRecordError("status", None, "updates must include the new 'status'")
        status = changes.pop("status")
        reason = changes.pop("reason", None)
        if reason is None:
            reason = changes.pop("failure_reason", None)
        when = changes.pop("timestamp", None)
        view: dict[str, Any] = {}
        columns: dict[str, Any] = {}
        completion = None
        try:
            for key, value in changes.items():
                if value is None:
                    continue
                if key in _NOT_UPDATABLE:
                    raise InvalidRecordError(key, value, "cannot be changed by an update")
                name = _FROM_SEED.get(key, key)
                if name == "completion_time":
                    completion = value
                    ns = _checked_column(key, "completion_time_ns", value)[1]
                    view["completion_timestamp"] = _timestamp(ns)
                    continue
                target = "trigger_time_ns" if name == "trigger_time" else name
                column, checked = _checked_column(key, target, value)
                columns[column] = checked
                if column in _TIME_COLUMNS:
                    view[_TIME_COLUMNS[column]] = _timestamp(checked)
                else:
                    view[column] = checked
            seq = self.recorder.update_event(
                order, status, reason=reason, completion_timestamp=completion, time=when,
                **columns,
            )  # fmt: skip
        except InvalidRecordError as exc:
            raise _seed_error(exc) from None
        if reason is not None:
            view["failure_reason"] = reason
        with self._lock:
            self._global_order = max(self._global_order, seq)
            if view:
                self._updates.setdefault(order, {}).update(view)
                self._updates.move_to_end(order)
                while len(self._updates) > self.event_buffer_size:
                    self._updates.popitem(last=False)
        return seq

    def event_status(self, order: int) -> str | None:
        """The latest lifecycle status of event ``order`` (None if unknown)."""
        return self.recorder.event_status(order)

    # --- pipeline --------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> FlushResult:
        """Write everything logged so far; returns by ``timeout`` (truthy when nothing is left)."""
        return self.recorder.flush(timeout)

    def close(self, timeout: float = 10.0) -> FlushResult:
        """Flush, and close the files of the logger's own Recorder (a Recorder passed in is
        only flushed: its owner closes it). Idempotent."""
        if self._owns_recorder:
            return self.recorder.shutdown(timeout)
        return self.recorder.flush(timeout)

    def health(self) -> dict[str, Any]:
        """tradetrace's pipeline counters (exported, failed, dropped, internal errors)."""
        return self.recorder.health()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(execution_mode={self.execution_mode!r}, "
            f"global_order={self._global_order}, recorder={self.recorder!r})"
        )

    # --- the seed-shaped view --------------------------------------------------------------

    def _keep_snapshots(self, seqs: list[int]) -> None:
        """Remember the content of snapshots stored once (``snapshot_id``), so that events
        which carry only the id still show it in :attr:`events` after the first has left the
        buffer. Reads the newest records of the Recorder's event history."""
        history = self.recorder._history
        wanted = set(seqs)
        found: list[tuple[str, Any]] = []
        for back in range(1, len(wanted) + 65):
            try:
                record = history[-back]
            except IndexError:
                break
            if record.seq in wanted:
                attributes = record.attributes
                digest = attributes.get(sc.LEDGER_SNAPSHOT_ID)
                content = attributes.get(sc.LEDGER_WALLET_BALANCE_AFTER)
                if digest is not None and content is not None:
                    found.append((digest, content))
        if found:
            with self._lock:
                for digest, content in found:
                    self._snapshots[digest] = content
                    self._snapshots.move_to_end(digest)
                while len(self._snapshots) > _SNAPSHOT_CACHE:
                    self._snapshots.popitem(last=False)

    def _seed_events(self, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raw.sort(key=lambda e: e["seq"])
        raw = raw[-self.event_buffer_size :]
        with self._lock:
            updates = {e["seq"]: self._updates[e["seq"]] for e in raw if e["seq"] in self._updates}
            snapshots = dict(self._snapshots)
        for e in raw:  # first occurrences still in the buffer
            digest, content = e.get("snapshot_id"), e.get("wallet_balance_after")
            if digest is not None and content is not None:
                snapshots.setdefault(digest, content)
        return [_seed_event(e, updates.get(e["seq"]), snapshots) for e in raw]


def _seed_event(
    e: dict[str, Any], updates: Mapping[str, Any] | None, snapshots: Mapping[str, Any]
) -> dict[str, Any]:
    event: dict[str, Any] = dict.fromkeys(SEED_EVENT_KEYS)
    for key, value in e.items():
        if key not in _RECORD_KEYS:
            event[key] = value
    event["timestamp"] = _timestamp(e["time_ns"])
    event["order"] = e["seq"]
    event["parent_event"] = e["parent_seq"]
    event["related_events"] = e["related_seqs"]
    for column, key in _TIME_COLUMNS.items():
        if e.get(column) is not None:
            event[key] = _timestamp(e[column])
    digest = e.get("snapshot_id")
    if event["wallet_balance_after"] is None and digest in snapshots:
        content = snapshots[digest]
        event["wallet_balance_after"] = content
        event["cex_balance_after"] = content.get("cex_accounts")
        event["aave_position_after"] = {
            "wallet": content.get("wallet"),
            "perp_positions": content.get("perp_positions"),
        }
    if updates:
        event.update(updates)
    return event


class EventLogger(_EventLog):
    """The seed's EventLogger: audit-grade events with a global order, balance snapshots,
    atomic bundles and a backtest/live lifecycle. Methods are plain calls (as the seed's tests
    make them); :class:`AsyncEventLogger` has the same methods as coroutines.

    ``execution_mode``: 'backtest' (events are ``completed``) or 'live' (``pending`` until
    :meth:`update_event` moves them on); by default ``BASIS_EXECUTION_MODE``, then
    ``TRADETRACE_MODE``, then 'backtest', read once here. ``config``: the seed's
    ``event_buffer_size`` (default 10000; > 0 and < 100000; bounds :attr:`events`) and
    ``event_export_format`` ('csv', 'json' or 'both': the files written), read once, never
    modified. Events are recorded on ``recorder`` if given, else on the logger's own Recorder
    writing under ``directory`` (default ``logs/events``) with ``exporters`` (default from
    ``event_export_format``); other keywords (``clock``, ``run_id``, ``deterministic``, ...) go
    to that Recorder. Thread safe; use as a context manager or call :meth:`close`.
    """

    def __enter__(self) -> EventLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _awaitable(
    method: Callable[Concatenate[Any, P], R],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
    """``method`` as a coroutine function (same signature and docstring)."""

    @functools.wraps(method)
    async def call(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(self, *args, **kwargs)

    return call


class AsyncEventLogger(_EventLog):
    """:class:`EventLogger` with the seed spec's ``async def`` logging methods:
    ``order = await logger.log_event(...)``. Recording never blocks on I/O (files are written
    on tradetrace's exporter thread), so each call completes at once, in call order.
    ``update_event``, ``get_events`` and ``events`` stay plain, as in the seed's live example
    (``event_logger.update_event(1523, {...})``)."""

    log_event = _awaitable(_EventLog.log_event)
    log_gas_fee = _awaitable(_EventLog.log_gas_fee)
    log_stake = _awaitable(_EventLog.log_stake)
    log_aave_supply = _awaitable(_EventLog.log_aave_supply)
    log_atomic_transaction = _awaitable(_EventLog.log_atomic_transaction)
    log_perp_trade = _awaitable(_EventLog.log_perp_trade)
    log_funding_payment = _awaitable(_EventLog.log_funding_payment)

    async def __aenter__(self) -> AsyncEventLogger:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
