"""Typed helpers for on-chain and CEX ledger events: one function per event type.

Each helper validates every field before anything is recorded, then records one ledger event
through :meth:`Recorder.record_event <tradetrace.Recorder.record_event>` and returns its seq::

    from tradetrace import ledger

    ledger.gas_fee(gas_cost_eth="0.0035", gas_cost_usd="10.50", operation_type="STAKE",
                   gas_units=150_000, gas_price_gwei="23.3")
    ledger.stake(venue="ETHERFI", eth_in="10", lst_out="9.6", oracle_price="1.0416")
    with rec.bundle("ATOMIC_LEVERAGE_ENTRY"):          # details carry the wrapper's seq
        ledger.flash_borrow(venue="BALANCER", token="WETH", amount="88.7", recorder=rec)

Conventions:

* Arguments are keyword-only: two amounts swapped by position would be a silent ledger error.
* Numbers may be ``Decimal`` or decimal strings (both kept digit for digit), ints or finite
  floats. NaN, infinities, amounts that cannot be negative (gas costs, staked, supplied,
  borrowed, traded amounts) and non-whole gas units are refused with
  :class:`~tradetrace.InvalidRecordError` naming the field; nothing is recorded then.
* ``token``/``amount`` is what goes in (ETH for a stake, the aToken for a collateral
  withdrawal), ``output_token``/``amount_out`` what comes out. The typed helpers upper-case
  venues (``ETHERFI``, ``BINANCE``), as in the seed event logger; :func:`event` keeps them as
  given.
* Every helper also takes the fields of :class:`EventFields`: ``recorder`` (default: the
  global one), ``time``, ``status``, ``parent``, ``related``, ``snapshot``, ``purpose``,
  ``transaction_type``, ``iteration``, the cost fields, the live-trading fields and
  ``attributes`` (extra custom attributes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from tradetrace import semconv as sc
from tradetrace import validation as check
from tradetrace.pipeline.clock import to_ns
from tradetrace.semconv.enums import EventType
from tradetrace.validation import InvalidRecordError, Number

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from tradetrace.pipeline.recorder import Recorder

__all__ = [
    "EventFields",
    "EventType",
    "atomic_transaction",
    "borrow",
    "event",
    "flash_borrow",
    "flash_repay",
    "funding_payment",
    "gas_fee",
    "perp_trade",
    "price_update",
    "rebalance",
    "reconciliation",
    "repay",
    "risk_alert",
    "spot_trade",
    "stake",
    "supply_collateral",
    "unstake",
    "venue_transfer",
    "withdraw_collateral",
]

NumberLike = Number | str
Rule = Literal["any", "non_negative", "positive", "non_zero"]


class EventFields(TypedDict, total=False):
    """Optional fields every helper accepts (keyword arguments)."""

    recorder: Recorder | None  #: where to record; default ``tradetrace.api.get_recorder()``
    time: Any  #: event time: datetime, pandas/numpy timestamp, ISO text or ns int
    status: str | None  #: lifecycle status; default completed (backtest) / pending (live)
    severity: str | None  #: record severity (default INFO)
    parent: int | None  #: seq of the parent event (default: the enclosing bundle or span)
    related: Iterable[int] | None  #: seqs of related events
    snapshot: Mapping[str, Any] | None  #: full position-monitor output after the event
    purpose: str | None
    transaction_type: str | None
    iteration: int | None
    gas_units: int | None
    gas_price_gwei: NumberLike | None
    gas_cost_eth: NumberLike | None
    gas_cost_usd: NumberLike | None
    execution_cost_usd: NumberLike | None
    execution_cost_bps: NumberLike | None
    event_id: str | None
    tx_hash: str | None
    chain: str | None
    block_number: int | None
    confirmation_blocks: int | None
    trigger_time: Any  #: when the decision was made (live)
    completion_time: Any  #: when the transaction confirmed (live)
    notes: str | None
    attributes: Mapping[str, Any] | None  #: extra attributes: semconv columns or custom names


_COMMON = frozenset(EventFields.__annotations__)
#: Common fields that are attributes: argument name -> column name.
_COMMON_COLUMNS = {
    "purpose": "purpose",
    "transaction_type": "transaction_type",
    "iteration": "iteration",
    "gas_units": "gas_units",
    "gas_price_gwei": "gas_price_gwei",
    "gas_cost_eth": "gas_cost_eth",
    "gas_cost_usd": "gas_cost_usd",
    "execution_cost_usd": "execution_cost_usd",
    "execution_cost_bps": "execution_cost_bps",
    "event_id": "event_id",
    "tx_hash": "tx_hash",
    "chain": "chain",
    "block_number": "block_number",
    "confirmation_blocks": "confirmation_blocks",
    "trigger_time": "trigger_time_ns",
    "completion_time": "completion_time_ns",
    "notes": "notes",
}
#: Names that are arguments of ``record_event``, never attributes.
_RESERVED = frozenset(
    {"event_type", "venue", "token", "amount", "snapshot", "parent", "related", "status",
     "severity", "time", "recorder"}
)  # fmt: skip

_E = EventType
#: What the primary ``amount`` of each known event type may be.
_AMOUNT_RULE: dict[str, Rule] = {  # str-enum members hash as their text
    _E.GAS_FEE_PAID: "non_negative",
    _E.STAKE_DEPOSIT: "positive",
    _E.STAKE_WITHDRAWAL: "positive",
    _E.COLLATERAL_SUPPLIED: "positive",
    _E.COLLATERAL_WITHDRAWN: "positive",
    _E.LOAN_CREATED: "positive",
    _E.LOAN_REPAID: "positive",
    _E.VENUE_TRANSFER: "positive",
    _E.SPOT_TRADE: "positive",
    _E.TRADE_EXECUTED: "positive",
    _E.FUNDING_PAYMENT: "non_negative",
    _E.FLASH_BORROW: "positive",
    _E.FLASH_REPAID: "positive",
    _E.ATOMIC_TRANSACTION: "non_negative",
    _E.PRICE_UPDATE: "positive",
}
#: Decimal columns whose values cannot be negative (or zero), whichever event carries them.
_COLUMN_RULE: dict[str, Rule] = {
    "gas_price_gwei": "non_negative",
    "gas_cost_eth": "non_negative",
    "gas_cost_usd": "non_negative",
    "amount_out": "non_negative",
    "atoken_received": "non_negative",
    "oracle_price": "positive",
    "liquidity_index": "positive",
    "entry_price": "positive",
}
#: Liquid staking token received per staking venue.
STAKING_TOKENS: dict[str, str] = {"ETHERFI": "weETH", "LIDO": "wstETH"}
_PERP_SIDES = frozenset({"SHORT", "LONG", "BUY", "SELL"})
_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "PERP")
_MAX_DEPTH = 32


# --- validation ------------------------------------------------------------------------------


def _number(field: str, value: Any, rule: Rule | None = "any") -> Number:
    result = check.number(field, value)
    if rule == "non_negative" and result < 0:
        raise InvalidRecordError(field, value, "must not be negative")
    if rule == "positive" and not result > 0:
        raise InvalidRecordError(field, value, "must be greater than zero")
    if rule == "non_zero" and result == 0:
        raise InvalidRecordError(field, value, "must not be zero")
    return result


def _whole(field: str, value: Any) -> int:
    """A whole number >= 0 (ints; integral floats, Decimals and decimal strings too)."""
    if isinstance(value, bool) or value is None:
        raise InvalidRecordError(field, value, "must be a whole number")
    if isinstance(value, Integral):
        result = int(value)
    else:
        number = check.number(field, value)
        if number != int(number):
            raise InvalidRecordError(field, value, "must be a whole number")
        result = int(number)
    if result < 0:
        raise InvalidRecordError(field, value, "must not be negative")
    return result


def _time(field: str, value: Any) -> int:
    try:
        return to_ns(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidRecordError(field, value, str(exc)) from None


def _tree(field: str, value: Any, depth: int = 0) -> None:
    """Refuse NaN and infinities anywhere inside a nested value (snapshots, results)."""
    if depth > _MAX_DEPTH:
        return  # the Recorder truncates deeper values
    if isinstance(value, float) or (isinstance(value, Real) and not isinstance(value, Integral)):
        if not math.isfinite(value):
            raise InvalidRecordError(field, value, "must be a finite number")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidRecordError(field, value, "must be a finite number")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _tree(f"{field}.{key}", item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _tree(f"{field}[]", item, depth + 1)


def _column(field: str, key: str, value: Any) -> tuple[str, Any]:
    """(column name, validated value) for an attribute given by column name, semconv key or
    custom name; semconv columns are checked against their declared type."""
    column = sc.COLUMN_OF.get(key, key)
    spec = sc.ATTRIBUTES.get(sc.ATTRIBUTE_OF.get(column, ""))
    if spec is None or spec.type == "json":
        _tree(field, value)
        return column, value
    kind = spec.type
    if kind == "decimal":
        return column, _number(field, value, _COLUMN_RULE.get(column, "any"))
    if kind == "int":
        return column, _whole(field, value)
    if kind == "bool":
        return column, check.flag(field, value)
    if kind == "time_ns":
        return column, _time(field, value)
    if kind == "int[]":
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise InvalidRecordError(field, value, "must be a list of whole numbers")
        return column, [_whole(f"{field}[]", item) for item in value]
    return column, check.text(field, value)


def _venue(value: Any, field: str = "venue", required: bool = True) -> str | None:
    if value is None and not required:
        return None
    return check.required_text(field, value).upper()


def _related(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidRecordError("related", value, "must be a list of seqs")
    return tuple(check.seq_reference("related", seq) for seq in value)


def _text_of(value: Number) -> str:
    """A validated number as the text a person wrote (Decimals without exponent)."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _base_asset(symbol: str) -> str | None:
    """``ETH`` from ``ETH/USDT``, ``ETH-PERP``, ``ETH/USDT:USDT`` or ``ETHUSDT``."""
    for separator in "/-_:":
        if separator in symbol:
            return symbol.split(separator, 1)[0] or None
    upper = symbol.upper()
    for quote in _QUOTES:
        if upper.endswith(quote) and len(upper) > len(quote):
            return symbol[: -len(quote)]
    return None


# --- drafts: a fully validated event, recorded only when every part is valid ----------------


@dataclass(slots=True)
class _Draft:
    event_type: str
    venue: str | None
    token: str | None
    amount: Number | None
    columns: dict[str, Any]
    snapshot: Mapping[str, Any] | None = None
    parent: int | None = None
    related: tuple[int, ...] | None = None
    status: str | None = None
    severity: str | None = None
    time: int | None = None

    def record(self, recorder: Recorder) -> int:
        return recorder.record_event(
            self.event_type, venue=self.venue, token=self.token, amount=self.amount,
            snapshot=self.snapshot, parent=self.parent, related=self.related,
            status=self.status, severity=self.severity, time=self.time, **self.columns,
        )  # fmt: skip


def _draft(
    function: str,
    event_type: Any,
    venue: Any,
    token: Any,
    amount: Any,
    own: Mapping[str, Any],
    common: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> _Draft:
    """Validate everything about one event; ``own`` holds the helper's validated columns."""
    unknown = sorted(common.keys() - _COMMON)
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    name = check.required_text("event_type", event_type)
    draft = _Draft(
        name,
        check.text("venue", venue),
        check.text("token", token),
        None if amount is None else _number("amount", amount, _AMOUNT_RULE.get(name, "any")),
        dict(own),
    )
    for argument, column in _COMMON_COLUMNS.items():
        value = common.get(argument)
        if value is not None:
            draft.columns[column] = _column(argument, column, value)[1]
    for source, mapping in (("", extra), ("attributes.", common.get("attributes"))):
        if mapping is None:
            continue
        if not isinstance(mapping, Mapping):
            raise InvalidRecordError("attributes", mapping, "must be a mapping")
        for key, value in mapping.items():
            field = f"{source}{key}"
            if not isinstance(key, str) or not key:
                raise InvalidRecordError(field, value, "attribute names must be non-empty text")
            if key in _RESERVED:
                raise InvalidRecordError(field, value, f"is set by the {key}= argument")
            if value is None:
                continue
            column, checked = _column(field, key, value)
            if column in draft.columns:
                raise InvalidRecordError(field, value, f"is already set by {function}()")
            draft.columns[column] = checked
    snapshot = common.get("snapshot")
    if snapshot is not None:
        if not isinstance(snapshot, Mapping):
            raise InvalidRecordError("snapshot", snapshot, "must be a mapping")
        _tree("snapshot", snapshot)
        draft.snapshot = snapshot
    if common.get("parent") is not None:
        draft.parent = check.seq_reference("parent", common["parent"])
    draft.related = _related(common.get("related"))
    if common.get("status") is not None:
        draft.status = check.status(common["status"])
    if common.get("severity") is not None:
        draft.severity = check.severity(common["severity"])
    if common.get("time") is not None:
        draft.time = _time("time", common["time"])
    return draft


def _recorder(common: Mapping[str, Any]) -> Recorder:
    recorder = common.get("recorder")
    if recorder is None:
        from tradetrace.api import get_recorder

        return get_recorder()
    if not callable(getattr(recorder, "record_event", None)):
        raise TypeError(f"recorder={recorder!r} is not a tradetrace Recorder")
    return recorder


def _record(
    function: str,
    event_type: EventType,
    venue: Any,
    token: Any,
    amount: Any,
    own: Mapping[str, Any],
    fields: Mapping[str, Any],
) -> int:
    draft = _draft(function, event_type.value, venue, token, amount, own, fields)
    return draft.record(_recorder(fields))


def _put(own: dict[str, Any], field: str, value: Any, column: str | None = None) -> None:
    """Validate ``value`` as column ``column`` (default: ``field``) into ``own``, if given."""
    if value is not None:
        name, checked = _column(field, column or field, value)
        own[name] = checked


def _generic(function: str, event_type: Any, fields: Mapping[str, Any]) -> _Draft:
    """A draft from ``record_event``-style keywords: common fields, everything else columns."""
    common = {k: v for k, v in fields.items() if k in _COMMON}
    extra = {k: v for k, v in fields.items() if k not in _COMMON and k not in _RESERVED}
    return _draft(
        function, event_type, fields.get("venue"), fields.get("token"), fields.get("amount"),
        {}, common, extra,
    )  # fmt: skip


# --- any event -------------------------------------------------------------------------------


def event(
    event_type: str,
    *,
    venue: str | None = None,
    token: str | None = None,
    amount: NumberLike | None = None,
    **fields: Any,
) -> int:
    """Record any event type (an :class:`EventType` or a custom name), validated like the typed
    helpers. Keywords are the :class:`EventFields` plus any attribute, by semconv column name
    (``tx_hash``, ``output_token``, ...) or custom name."""
    draft = _generic("event", event_type, {"venue": venue, "token": token, "amount": amount,
                                            **fields})  # fmt: skip
    return draft.record(_recorder(fields))


# --- on-chain --------------------------------------------------------------------------------


def gas_fee(
    *,
    gas_cost_eth: NumberLike,
    gas_cost_usd: NumberLike | None = None,
    operation_type: str | None = None,
    gas_units: int | None = None,
    gas_price_gwei: NumberLike | None = None,
    venue: str = "ETHEREUM",
    token: str = "ETH",
    **fields: Any,  # EventFields
) -> int:
    """``GAS_FEE_PAID``: amount = ``gas_cost_eth``; ``operation_type`` is recorded as
    ``fee_type``. Costs and units must not be negative."""
    cost = _number("gas_cost_eth", gas_cost_eth, "non_negative")
    own: dict[str, Any] = {"gas_cost_eth": cost}
    _put(own, "gas_cost_usd", gas_cost_usd)
    _put(own, "operation_type", operation_type, "fee_type")
    _put(own, "gas_units", gas_units)
    _put(own, "gas_price_gwei", gas_price_gwei)
    return _record("gas_fee", _E.GAS_FEE_PAID, _venue(venue), token, cost, own, fields)


def _staking_token(venue: str, given: Any, field: str) -> str:
    if given is not None:
        return check.required_text(field, given)
    known = STAKING_TOKENS.get(venue)
    if known is None:
        pairs = ", ".join(f"{v} -> {t}" for v, t in STAKING_TOKENS.items())
        raise InvalidRecordError(field, None, f"is required for venue {venue!r} (known: {pairs})")
    return known


def stake(
    *,
    venue: str,
    eth_in: NumberLike,
    lst_out: NumberLike,
    oracle_price: NumberLike | None = None,
    output_token: str | None = None,
    input_token: str = "ETH",
    **fields: Unpack[EventFields],
) -> int:
    """``STAKE_DEPOSIT``: ``eth_in`` of ``input_token`` in, ``lst_out`` of the liquid staking
    token out (weETH at ETHERFI, wstETH at LIDO; other venues must name ``output_token``)."""
    place = _venue(venue)
    assert place is not None
    own: dict[str, Any] = {
        "input_token": check.required_text("input_token", input_token),
        "output_token": _staking_token(place, output_token, "output_token"),
        "amount_out": _number("lst_out", lst_out, "positive"),
    }
    _put(own, "oracle_price", oracle_price)
    amount = _number("eth_in", eth_in, "positive")
    return _record("stake", _E.STAKE_DEPOSIT, place, own["input_token"], amount, own, fields)


def unstake(
    *,
    venue: str,
    lst_in: NumberLike,
    eth_out: NumberLike,
    oracle_price: NumberLike | None = None,
    input_token: str | None = None,
    output_token: str = "ETH",
    **fields: Unpack[EventFields],
) -> int:
    """``STAKE_WITHDRAWAL``: ``lst_in`` of the liquid staking token in (weETH at ETHERFI,
    wstETH at LIDO, else ``input_token``), ``eth_out`` of ``output_token`` out."""
    place = _venue(venue)
    assert place is not None
    own: dict[str, Any] = {
        "input_token": _staking_token(place, input_token, "input_token"),
        "output_token": check.required_text("output_token", output_token),
        "amount_out": _number("eth_out", eth_out, "positive"),
    }
    _put(own, "oracle_price", oracle_price)
    amount = _number("lst_in", lst_in, "positive")
    return _record("unstake", _E.STAKE_WITHDRAWAL, place, own["input_token"], amount, own, fields)


def supply_collateral(
    *,
    token: str,
    amount_supplied: NumberLike,
    atoken_received: NumberLike,
    liquidity_index: NumberLike,
    venue: str = "AAVE",
    **fields: Unpack[EventFields],
) -> int:
    """``COLLATERAL_SUPPLIED``: the aToken amount depends on the liquidity index, so both are
    kept, with the seed's ``conversion_note`` ("10 ETH → 9.8 aETH (index=1.02)")."""
    name = check.required_text("token", token)
    supplied = _number("amount_supplied", amount_supplied, "positive")
    received = _number("atoken_received", atoken_received, "non_negative")
    index = _number("liquidity_index", liquidity_index, "positive")
    own = {
        "atoken_received": received,
        "liquidity_index": index,
        "conversion_note": f"{_text_of(supplied)} {name} → {_text_of(received)} a{name} "
        f"(index={_text_of(index)})",
    }
    return _record(
        "supply_collateral", _E.COLLATERAL_SUPPLIED, _venue(venue), name, supplied, own, fields
    )


def withdraw_collateral(
    *,
    token: str,
    amount_withdrawn: NumberLike,
    atoken_burned: NumberLike,
    liquidity_index: NumberLike | None = None,
    atoken: str | None = None,
    venue: str = "AAVE",
    **fields: Unpack[EventFields],
) -> int:
    """``COLLATERAL_WITHDRAWN``: ``atoken_burned`` of the aToken (``a{token}`` unless named)
    in, ``amount_withdrawn`` of ``token`` out, with a ``conversion_note``."""
    name = check.required_text("token", token)
    a_name = check.required_text("atoken", atoken) if atoken is not None else f"a{name}"
    withdrawn = _number("amount_withdrawn", amount_withdrawn, "positive")
    burned = _number("atoken_burned", atoken_burned, "positive")
    own: dict[str, Any] = {"input_token": a_name, "output_token": name, "amount_out": withdrawn}
    note = f"{_text_of(burned)} {a_name} → {_text_of(withdrawn)} {name}"
    if liquidity_index is not None:
        index = _number("liquidity_index", liquidity_index, "positive")
        own["liquidity_index"] = index
        note += f" (index={_text_of(index)})"
    own["conversion_note"] = note
    return _record(
        "withdraw_collateral", _E.COLLATERAL_WITHDRAWN, _venue(venue), a_name, burned, own, fields
    )


def borrow(
    *, token: str, amount: NumberLike, venue: str = "AAVE", **fields: Unpack[EventFields]
) -> int:
    """``LOAN_CREATED``: ``amount`` of ``token`` borrowed at ``venue``."""
    name = check.required_text("token", token)
    return _record("borrow", _E.LOAN_CREATED, _venue(venue), name, amount, {}, fields)


def repay(
    *, token: str, amount: NumberLike, venue: str = "AAVE", **fields: Unpack[EventFields]
) -> int:
    """``LOAN_REPAID``: ``amount`` of ``token`` repaid at ``venue``."""
    name = check.required_text("token", token)
    return _record("repay", _E.LOAN_REPAID, _venue(venue), name, amount, {}, fields)


def venue_transfer(
    *,
    from_venue: str,
    to_venue: str,
    token: str,
    amount: NumberLike,
    **fields: Unpack[EventFields],
) -> int:
    """``VENUE_TRANSFER`` (wallet ↔ CEX): ``venue`` is where the funds leave; ``from_venue``
    and ``to_venue`` are kept as attributes."""
    source = _venue(from_venue, "from_venue")
    own = {"from_venue": source, "to_venue": _venue(to_venue, "to_venue")}
    name = check.required_text("token", token)
    return _record("venue_transfer", _E.VENUE_TRANSFER, source, name, amount, own, fields)


# --- CEX -------------------------------------------------------------------------------------


def spot_trade(
    *,
    venue: str,
    symbol: str,
    side: str,
    size: NumberLike,
    price: NumberLike,
    token: str | None = None,
    fee: NumberLike | None = None,
    fee_asset: str | None = None,
    notional_usd: NumberLike | None = None,
    **fields: Unpack[EventFields],
) -> int:
    """``SPOT_TRADE``: ``size`` (> 0) of ``token`` (default: the base asset of ``symbol``) at
    ``price``; ``side`` BUY or SELL."""
    pair = check.required_text("symbol", symbol)
    own: dict[str, Any] = {
        "symbol": pair,
        "side": check.side(side),
        "price": _number("price", price, "positive"),
    }
    _put(own, "fee", fee)
    _put(own, "fee_asset", fee_asset)
    _put(own, "notional_usd", notional_usd)
    base = check.required_text("token", token) if token is not None else _base_asset(pair)
    if base is None:
        raise InvalidRecordError("token", None, f"cannot be read from symbol {pair!r}: pass it")
    amount = _number("size", size, "positive")
    own["size"] = amount
    return _record("spot_trade", _E.SPOT_TRADE, _venue(venue), base, amount, own, fields)


def perp_trade(
    *,
    venue: str,
    instrument: str,
    side: str,
    size: NumberLike,
    entry_price: NumberLike,
    notional_usd: NumberLike | None = None,
    execution_cost_usd: NumberLike | None = None,
    token: str | None = None,
    **fields: Any,  # EventFields
) -> int:
    """``TRADE_EXECUTED`` (perpetual futures): amount = ``abs(size)``; ``side`` SHORT, LONG,
    BUY or SELL (a negative size with LONG/BUY is refused); ``token`` defaults to the base
    asset of ``instrument``."""
    name = check.required_text("instrument", instrument)
    direction = check.required_text("side", side).upper()
    if direction not in _PERP_SIDES:
        raise InvalidRecordError("side", side, "must be SHORT, LONG, BUY or SELL")
    quantity = _number("size", size, "non_zero")
    if quantity < 0 and direction in ("LONG", "BUY"):
        raise InvalidRecordError("size", size, f"is negative but side is {direction}")
    own: dict[str, Any] = {
        "instrument": name,
        "side": direction,
        "entry_price": _number("entry_price", entry_price, "positive"),
    }
    _put(own, "notional_usd", notional_usd)
    _put(own, "execution_cost_usd", execution_cost_usd)
    base = check.required_text("token", token) if token is not None else _base_asset(name)
    if base is None:
        raise InvalidRecordError("token", None, f"cannot be read from instrument {name!r}: pass it")
    return _record("perp_trade", _E.TRADE_EXECUTED, _venue(venue), base, abs(quantity), own, fields)


def funding_payment(
    *,
    venue: str,
    funding_rate: NumberLike,
    notional_usd: NumberLike,
    pnl_usd: NumberLike,
    token: str = "USDT",
    instrument: str | None = None,
    **fields: Unpack[EventFields],
) -> int:
    """``FUNDING_PAYMENT``: amount = ``abs(pnl_usd)``; ``pnl_type`` RECEIVED when
    ``pnl_usd > 0``, else PAID."""
    pnl = _number("pnl_usd", pnl_usd)
    own: dict[str, Any] = {
        "funding_rate": _number("funding_rate", funding_rate),
        "notional_usd": _number("notional_usd", notional_usd),
        "pnl_usd": pnl,
        "pnl_type": "RECEIVED" if pnl > 0 else "PAID",
    }
    _put(own, "instrument", instrument)
    return _record("funding_payment", _E.FUNDING_PAYMENT, _venue(venue), token, abs(pnl), own,
                   fields)  # fmt: skip


# --- complex ---------------------------------------------------------------------------------


def flash_borrow(
    *, venue: str, token: str, amount: NumberLike, **fields: Unpack[EventFields]
) -> int:
    """``FLASH_BORROW``: a flash loan of ``amount`` ``token`` from ``venue`` (BALANCER, ...)."""
    name = check.required_text("token", token)
    return _record("flash_borrow", _E.FLASH_BORROW, _venue(venue), name, amount, {}, fields)


def flash_repay(
    *,
    venue: str,
    token: str,
    amount: NumberLike,
    fee: NumberLike | None = None,
    **fields: Unpack[EventFields],
) -> int:
    """``FLASH_REPAID``: ``amount`` ``token`` repaid, with the flash-loan ``fee`` if any."""
    name = check.required_text("token", token)
    own: dict[str, Any] = {}
    if fee is not None:
        own["fee"] = _number("fee", fee, "non_negative")
        own["fee_asset"] = name
    return _record("flash_repay", _E.FLASH_REPAID, _venue(venue), name, amount, own, fields)


def atomic_transaction(
    bundle_name: str,
    detail_events: Iterable[Mapping[str, Any]],
    *,
    net_result: Mapping[str, Any] | None = None,
    venue: str = "INSTADAPP",
    token: str = "COMPOSITE",
    amount: NumberLike = 1,
    **fields: Unpack[EventFields],
) -> list[int]:
    """An ``ATOMIC_TRANSACTION`` wrapper and its detail events; returns
    ``[wrapper_seq, *detail_seqs]``.

    Each detail is a mapping of ``event`` keywords (``{"event_type": "FLASH_BORROW",
    "venue": "BALANCER", "token": "WETH", "amount": "88.7", ...}``). Every detail is validated
    before anything is recorded: one bad detail records nothing. The wrapper comes first;
    details carry its seq as ``parent_seq``, its time and (unless they set their own) its
    status.
    """
    name = check.required_text("bundle_name", bundle_name)
    if isinstance(detail_events, Mapping) or not isinstance(detail_events, Iterable):
        raise InvalidRecordError("detail_events", detail_events, "must be a list of mappings")
    details = list(detail_events)
    if not details:
        raise InvalidRecordError("detail_events", details, "must list at least one event")
    own: dict[str, Any] = {"bundle_name": name, "detail_count": len(details)}
    if net_result is not None:
        if not isinstance(net_result, Mapping):
            raise InvalidRecordError("net_result", net_result, "must be a mapping")
        _tree("net_result", net_result)
        own["net_result"] = net_result
    wrapper = _draft("atomic_transaction", _E.ATOMIC_TRANSACTION.value, _venue(venue), token,
                     amount, own, fields)  # fmt: skip
    drafts = [_detail(index, detail) for index, detail in enumerate(details)]
    recorder = _recorder(fields)
    if wrapper.time is None:  # one atomic transaction, one time
        wrapper.time = recorder.clock.now_ns()
    seqs = [wrapper.record(recorder)]
    for draft in drafts:
        draft.parent = seqs[0]
        draft.time = wrapper.time if draft.time is None else draft.time
        draft.status = wrapper.status if draft.status is None else draft.status
        seqs.append(draft.record(recorder))
    return seqs


def _detail(index: int, detail: Any) -> _Draft:
    where = f"detail_events[{index}]"
    if not isinstance(detail, Mapping):
        raise InvalidRecordError(where, detail, "must be a mapping with an event_type")
    for key in ("parent", "recorder"):
        if key in detail:
            raise InvalidRecordError(f"{where}.{key}", detail[key], "is set by the wrapper")
    try:
        return _generic("atomic_transaction", detail.get("event_type"), detail)
    except InvalidRecordError as exc:
        raise InvalidRecordError(f"{where}.{exc.field}", exc.value, exc.problem) from None


# --- monitoring ------------------------------------------------------------------------------


def reconciliation(
    *,
    venue: str | None = None,
    token: str | None = None,
    expected: NumberLike | None = None,
    actual: NumberLike | None = None,
    **fields: Unpack[EventFields],
) -> int:
    """``HOURLY_RECONCILIATION`` (balance sync): amount = ``actual``; with both ``expected``
    and ``actual``, their exact ``difference`` (actual - expected) too. Put the synced balances
    in ``snapshot``."""
    own: dict[str, Any] = {}
    seen = None if actual is None else _number("actual", actual)
    if expected is not None:
        wanted = _number("expected", expected)
        own["expected"] = wanted
        if seen is not None:
            own["difference"] = _exact(seen) - _exact(wanted)
    return _record("reconciliation", _E.HOURLY_RECONCILIATION, _venue(venue, required=False),
                   token, seen, own, fields)  # fmt: skip


def _exact(value: Number) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def price_update(
    *,
    token: str,
    price: NumberLike,
    venue: str | None = None,
    symbol: str | None = None,
    **fields: Unpack[EventFields],
) -> int:
    """``PRICE_UPDATE``: the price (> 0) of ``token`` is the event's amount."""
    own: dict[str, Any] = {}
    _put(own, "symbol", symbol)
    name = check.required_text("token", token)
    return _record("price_update", _E.PRICE_UPDATE, _venue(venue, required=False), name, price,
                   own, fields)  # fmt: skip


def risk_alert(
    *,
    alert_type: str,
    message: str | None = None,
    severity: str = "WARNING",
    limit: NumberLike | None = None,
    observed: NumberLike | None = None,
    venue: str | None = None,
    token: str | None = None,
    **fields: Any,  # EventFields
) -> int:
    """``RISK_ALERT``: a breached threshold (``check_name`` = ``alert_type``, ``passed`` false,
    ``risk_reason`` = ``message``, ``limit_value``, ``observed_value``); severity WARNING
    unless told otherwise."""
    own: dict[str, Any] = {"check_name": check.required_text("alert_type", alert_type),
                           "passed": False}  # fmt: skip
    _put(own, "message", message, "risk_reason")
    _put(own, "limit", limit, "limit_value")
    _put(own, "observed", observed, "observed_value")
    options = {**fields, "severity": check.severity(severity)}
    return _record("risk_alert", _E.RISK_ALERT, _venue(venue, required=False), token, None, own,
                   options)  # fmt: skip


def rebalance(
    *,
    reason: str | None = None,
    venue: str | None = None,
    token: str | None = None,
    amount: NumberLike | None = None,
    result: Mapping[str, Any] | None = None,
    **fields: Unpack[EventFields],
) -> int:
    """``REBALANCE_EXECUTED``: why (``reason``), what moved (``token``/``amount``, any sign) and
    the outcome (``result``, a mapping)."""
    own: dict[str, Any] = {}
    _put(own, "reason", reason)
    if result is not None:
        if not isinstance(result, Mapping):
            raise InvalidRecordError("result", result, "must be a mapping")
        _put(own, "result", result)
    return _record("rebalance", _E.REBALANCE_EXECUTED, _venue(venue, required=False), token,
                   amount, own, fields)  # fmt: skip
