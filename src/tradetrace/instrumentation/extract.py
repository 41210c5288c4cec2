"""Attribute extraction: from call arguments and results to semconv attributes, per kind.

Everything here runs on the automatic path, so nothing raises: a value that cannot be read
(a side that is not BUY/SELL, a price that is not a number) is kept as text and noted under
``trading.instrumentation.error``; the caller's ``InstrumentationNotes`` counts it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from tradetrace import semconv as sc
from tradetrace import validation as check
from tradetrace.validation import InvalidRecordError

Notes = list[str]

# Keys a fill, order or trade may use for each field: dict keys (camelCase or snake_case) or
# object attributes (NautilusTrader's OrderFilled: last_px, last_qty, order_side, commission...).
FILL_KEYS: dict[str, tuple[str, ...]] = {
    sc.ORDER_ID: ("orderId", "order_id", "order", "venue_order_id", "orderID"),
    sc.ORDER_CLIENT_ID: ("clientOrderId", "client_order_id", "clientOid", "clOrdID"),
    sc.FILL_TRADE_ID: ("tradeId", "trade_id", "execId", "exec_id", "fillId", "fill_id", "id"),
    sc.SYMBOL: ("symbol", "instrument_id", "instrument", "market", "pair"),
    sc.ORDER_SIDE: ("side", "order_side"),
    sc.ORDER_TYPE: ("type", "orderType", "order_type"),
    sc.FILL_PRICE: ("price", "last_px", "lastPx", "avgPrice", "fillPrice", "fill_price"),
    sc.FILL_QUANTITY: (
        "size",
        "amount",
        "qty",
        "quantity",
        "last_qty",
        "lastQty",
        "filled",
        "fillSize",
        "fill_size",
        "executedQty",
    ),
    sc.FEE_AMOUNT: ("fee", "commission", "fee_cost", "feeCost"),
    sc.FEE_CURRENCY: ("feeAsset", "fee_asset", "feeCurrency", "fee_currency", "commissionAsset"),
    sc.FEE_RATE: ("feeRate", "fee_rate"),
    sc.FILL_LIQUIDITY_SIDE: ("liquidity_side", "liquiditySide", "takerOrMaker", "maker"),
    sc.FILL_REALIZED_PNL: ("realizedPnl", "realized_pnl", "pnl"),
    sc.FILL_SPREAD_CAPTURED: ("spread_captured", "spreadCaptured"),
    sc.POSITION_INVENTORY_BEFORE: ("inventory_before", "inventoryBefore"),
    sc.POSITION_INVENTORY_AFTER: ("inventory_after", "inventoryAfter"),
    sc.POSITION_EQUITY_BEFORE: ("equity_before", "equityBefore"),
    sc.POSITION_EQUITY_AFTER: ("equity_after", "equityAfter"),
    sc.NOTES: ("notes",),
}
ORDER_KEYS: dict[str, tuple[str, ...]] = {
    sc.ORDER_ID: ("id", "orderId", "order_id"),
    sc.ORDER_CLIENT_ID: ("clientOrderId", "client_order_id"),
    sc.SYMBOL: ("symbol",),
    sc.ORDER_SIDE: ("side",),
    sc.ORDER_TYPE: ("type", "order_type", "orderType"),
    sc.ORDER_PRICE: ("price",),
    sc.ORDER_QUANTITY: ("amount", "quantity", "qty", "size"),
    sc.ORDER_FILLED: ("filled",),
    sc.ORDER_REMAINING: ("remaining",),
    sc.ORDER_AVERAGE_PRICE: ("average",),
    sc.ORDER_STATUS: ("status",),
    sc.ORDER_TIME_IN_FORCE: ("timeInForce", "time_in_force"),
    sc.ORDER_STOP_PRICE: ("triggerPrice", "stopPrice", "stop_price"),
    sc.ORDER_REDUCE_ONLY: ("reduceOnly", "reduce_only"),
    sc.ORDER_POST_ONLY: ("postOnly", "post_only"),
}
_DECIMALS = frozenset(k for k, spec in sc.ATTRIBUTES.items() if spec.type == "decimal")


def field_of(source: Any, names: tuple[str, ...]) -> Any:
    """The first present, non-None value among ``names`` in a mapping or object."""
    if isinstance(source, Mapping):
        for name in names:
            value = source.get(name)
            if value is not None:
                return value
        return None
    for name in names:
        value = getattr(source, name, None)
        if value is not None and not callable(value):
            return value
    return None


def _scalar(value: Any) -> Any:
    """Unwrap enum members (``OrderSide.BUY``) and money/quantity objects to plain values."""
    as_decimal = getattr(value, "as_decimal", None)  # NautilusTrader Price / Quantity / Money
    if callable(as_decimal):
        return as_decimal()
    name = getattr(value, "name", None)
    if name is not None and type(value).__module__ != "builtins" and hasattr(value, "value"):
        return name  # an enum member: its name, e.g. BUY, MAKER
    return value


def normalise(key: str, value: Any, notes: Notes) -> Any:
    """Normalise one semconv value leniently; problems become notes, never exceptions."""
    if type(value) is float and value - value == 0.0 and key in _DECIMALS:
        return value  # the common case
    value = _scalar(value)
    try:
        if key == sc.ORDER_SIDE:
            return check.side(value)
        if key == sc.FILL_LIQUIDITY_SIDE:
            if isinstance(value, bool):  # Binance's ``maker: true``
                return "MAKER" if value else "TAKER"
            return check.liquidity_side(value)
        if key in (sc.ORDER_TYPE,):
            return str(value).upper()
        if key in _DECIMALS:
            return check.number(key, value)
        if isinstance(value, (str, int, float, bool, Decimal)):
            return value
        return str(value)
    except InvalidRecordError as exc:
        notes.append(f"{sc.COLUMN_OF.get(key, key)}: {exc.problem} ({exc.value!r})")
        return str(value) if not isinstance(value, (int, float)) else repr(value)


def fee_fields(fee: Any, into: dict[str, Any], notes: Notes) -> None:
    """A fee given as a number, a ccxt ``{cost, currency, rate}`` or a Money object."""
    if isinstance(fee, Mapping):
        for key, name in ((sc.FEE_AMOUNT, "cost"), (sc.FEE_CURRENCY, "currency"),
                          (sc.FEE_RATE, "rate")):  # fmt: skip
            if fee.get(name) is not None:
                into[key] = normalise(key, fee[name], notes)
        return
    currency = getattr(fee, "currency", None)
    if currency is not None and not isinstance(fee, (int, float, str, Decimal)):
        into.setdefault(sc.FEE_CURRENCY, str(getattr(currency, "code", currency)))
    into[sc.FEE_AMOUNT] = normalise(sc.FEE_AMOUNT, fee, notes)


def mapped_fields(source: Any, table: dict[str, tuple[str, ...]], notes: Notes) -> dict[str, Any]:
    """Semconv attributes read from a mapping or object by a key table."""
    result: dict[str, Any] = {}
    for key, names in table.items():
        value = field_of(source, names)
        if value is None:
            continue
        if key == sc.FEE_AMOUNT:
            fee_fields(value, result, notes)
        else:
            result[key] = normalise(key, value, notes)
    return result


def fill_fields(source: Any, notes: Notes) -> dict[str, Any]:
    """Fill attributes from a fill callback's argument (dict or object) or a ccxt trade."""
    result = mapped_fields(source, FILL_KEYS, notes)
    size = result.get(sc.FILL_QUANTITY)
    if isinstance(size, (int, float, Decimal)) and not size > 0:
        notes.append(f"size: must be greater than zero ({size!r})")
    for key in (sc.SYMBOL, sc.ORDER_SIDE, sc.FILL_PRICE, sc.FILL_QUANTITY):
        if key not in result:
            notes.append(f"{sc.COLUMN_OF[key]}: not found in the fill")
    return result


def order_fields(source: Any, notes: Notes) -> dict[str, Any]:
    """Order attributes from order arguments or a ccxt unified order structure."""
    result = mapped_fields(source, ORDER_KEYS, notes)
    fee = field_of(source, ("fee",))
    if fee is not None:
        fee_fields(fee, result, notes)
    return result


def named_results(name: str, result: Any) -> dict[str, Any]:
    """A decision's tuple or mapping result as named attributes (bid/ask spreads)."""
    if isinstance(result, Mapping):
        named = ((sc.DECISION_BID_SPREAD, "bid_spread"), (sc.DECISION_ASK_SPREAD, "ask_spread"))
        return {
            key: result[column]
            for key, column in named
            if isinstance(result.get(column), (int, float, Decimal))
        }
    if (
        isinstance(result, tuple)
        and len(result) == 2
        and "spread" in name.lower()
        and all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in result)
    ):
        return {sc.DECISION_BID_SPREAD: result[0], sc.DECISION_ASK_SPREAD: result[1]}
    return {}


def risk_outcome(result: Any) -> tuple[bool | None, str | None]:
    """``passed`` and ``reason`` from ``bool``, ``(bool, reason)`` or ``{"passed", "reason"}``."""
    if isinstance(result, bool):
        return result, None
    if isinstance(result, tuple) and result and isinstance(result[0], bool):
        reason = result[1] if len(result) > 1 else None
        return result[0], None if reason is None else str(reason)
    if isinstance(result, Mapping) and isinstance(result.get("passed"), bool):
        reason = result.get("reason")
        return result["passed"], None if reason is None else str(reason)
    return None, None


Extractor = Callable[[dict[str, Any], Any], Mapping[str, Any]]
