"""Records read from ccxt's unified results: trades -> fills, balances and positions ->
snapshot events, funding history -> funding events. Deduplicated across calls by id."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tradetrace import semconv as sc
from tradetrace.instrumentation import extract

if TYPE_CHECKING:
    from tradetrace.pipeline.recorder import Recorder
    from tradetrace.pipeline.span import Span

_SEEN_LIMIT = 100_000


class SeenIds:
    """A bounded set of ids already recorded (trade ids, funding ids); thread-safe, since a
    sync exchange may be polled from several threads."""

    def __init__(self, limit: int = _SEEN_LIMIT) -> None:
        self._ids: OrderedDict[Any, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def first_time(self, key: Any) -> bool:
        """True the first time ``key`` is seen (``None`` keys are always new)."""
        if key is None:
            return True
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self._limit:
                self._ids.popitem(last=False)
        return True


def _ms_to_ns(value: Any) -> int | None:
    return int(value) * 1_000_000 if isinstance(value, (int, float)) and value > 0 else None


def _without_info(value: Any) -> Any:
    """ccxt structures carry the raw exchange reply under ``info``: never stored."""
    if isinstance(value, Mapping):
        return {k: _without_info(v) for k, v in value.items() if k != "info"}
    if isinstance(value, list):
        return [_without_info(v) for v in value]
    return value


def record_trades(
    recorder: Recorder, span: Span, venue: str | None, result: Any, seen: SeenIds
) -> None:
    """Each trade not seen before becomes a fill record (exchange time as event time)."""
    if not isinstance(result, list):
        return
    new = 0
    for trade in result:
        if not isinstance(trade, Mapping) or not seen.first_time((venue, trade.get("id"))):
            continue
        notes: extract.Notes = []
        attributes = extract.fill_fields(trade, notes)
        if venue:
            attributes[sc.LEDGER_VENUE] = venue
        if trade.get("cost") is not None:
            attributes[sc.FILL_NOTIONAL] = extract.normalise(sc.FILL_NOTIONAL, trade["cost"], notes)
        if notes:
            attributes[sc.INSTRUMENTATION_ERROR] = "; ".join(notes)
        recorder._emit("fill", "fill", attributes, "INFO", None, _ms_to_ns(trade.get("timestamp")))
        new += 1
    span.attributes[sc.CALL_RESULT] = {"trades": len(result), "new_fills": new}


def record_balance(recorder: Recorder, span: Span, venue: str | None, result: Any) -> None:
    """A balance snapshot event: totals per currency as ``cex_accounts[venue]``, plus free/used."""
    if not isinstance(result, Mapping):
        return
    totals = _without_info(result.get("total") or {})
    snapshot = {
        "cex_accounts": {venue or "exchange": totals},
        "free": _without_info(result.get("free") or {}),
        "used": _without_info(result.get("used") or {}),
    }
    recorder.record_event(
        "BALANCE_SNAPSHOT", venue=venue.upper() if venue else None, snapshot=snapshot,
        status="completed",
    )  # fmt: skip
    span.attributes[sc.CALL_RESULT] = {"currencies": len(totals)}


def record_positions(recorder: Recorder, span: Span, venue: str | None, result: Any) -> None:
    """A positions snapshot event: ``perp_positions[venue]`` without the raw replies."""
    if not isinstance(result, list):
        return
    recorder.record_event(
        "POSITIONS_SNAPSHOT", venue=venue.upper() if venue else None,
        snapshot={"perp_positions": {venue or "exchange": _without_info(result)}},
        status="completed",
    )  # fmt: skip
    span.attributes[sc.CALL_RESULT] = {"positions": len(result)}


def record_funding(
    recorder: Recorder, span: Span, venue: str | None, result: Any, seen: SeenIds
) -> None:
    """Each funding payment not seen before becomes a FUNDING_PAYMENT event."""
    if not isinstance(result, list):
        return
    new = 0
    for entry in result:
        if not isinstance(entry, Mapping) or not seen.first_time((venue, entry.get("id"))):
            continue
        new += 1
        amount = entry.get("amount")
        fields: dict[str, Any] = {"symbol": entry.get("symbol")}
        if isinstance(amount, (int, float)):
            fields.update(amount=abs(amount), pnl_usd=amount,
                          pnl_type="RECEIVED" if amount > 0 else "PAID")  # fmt: skip
        recorder.record_event(
            "FUNDING_PAYMENT", venue=venue.upper() if venue else None,
            token=entry.get("code"), status="completed",
            time=_ms_to_ns(entry.get("timestamp")), **fields,
        )  # fmt: skip
    span.attributes[sc.CALL_RESULT] = {"payments": len(result), "new_payments": new}
