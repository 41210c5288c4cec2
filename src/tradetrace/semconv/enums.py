"""Enumerations shared by every part of tradetrace.

Each enum is a ``str`` enum, so members compare equal to their wire value and serialise as it.
"""

from __future__ import annotations

from enum import Enum


class _Wire(str, Enum):
    """A ``str`` enum whose ``str()`` is its wire value."""

    def __str__(self) -> str:
        return self.value


class RecordKind(_Wire):
    """What a record describes."""

    FILL = "fill"
    ORDER = "order"
    DECISION = "decision"
    RISK_CHECK = "risk_check"
    ERROR = "error"
    EVENT = "event"
    SPAN = "span"


class Side(_Wire):
    """Order or fill side (FIX tag 54; ccxt ``side`` upper-cased)."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(_Wire):
    """Order type (FIX tag 40; ccxt ``type`` upper-cased)."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    TRAILING_STOP = "TRAILING_STOP"
    LIMIT_MAKER = "LIMIT_MAKER"


class TimeInForce(_Wire):
    """Time in force (FIX tag 59; ccxt ``timeInForce``)."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    PO = "PO"
    GTD = "GTD"
    DAY = "DAY"


class LiquiditySide(_Wire):
    """Maker or taker (NautilusTrader ``liquidity_side``; ccxt ``takerOrMaker``; FIX 851)."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class Severity(_Wire):
    """Severity of a record, as in the seed logger and Python ``logging``."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class Status(_Wire):
    """Outcome of a span, or lifecycle state of an event."""

    OK = "ok"
    ERROR = "error"
    PENDING = "pending"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Mode(_Wire):
    """Whether a run is a backtest (simulated clock) or live trading."""

    BACKTEST = "backtest"
    LIVE = "live"


class EventType(_Wire):
    """Ledger event types (``trading.event.type``): every type of the seed event logger, plus
    the snapshot events of the ccxt instrumentation. Custom types are allowed as plain text."""

    # on-chain
    GAS_FEE_PAID = "GAS_FEE_PAID"
    STAKE_DEPOSIT = "STAKE_DEPOSIT"
    STAKE_WITHDRAWAL = "STAKE_WITHDRAWAL"
    COLLATERAL_SUPPLIED = "COLLATERAL_SUPPLIED"
    COLLATERAL_WITHDRAWN = "COLLATERAL_WITHDRAWN"
    LOAN_CREATED = "LOAN_CREATED"
    LOAN_REPAID = "LOAN_REPAID"
    VENUE_TRANSFER = "VENUE_TRANSFER"
    # CEX
    SPOT_TRADE = "SPOT_TRADE"
    TRADE_EXECUTED = "TRADE_EXECUTED"
    FUNDING_PAYMENT = "FUNDING_PAYMENT"
    # complex (atomic bundles)
    ATOMIC_TRANSACTION = "ATOMIC_TRANSACTION"
    FLASH_BORROW = "FLASH_BORROW"
    FLASH_REPAID = "FLASH_REPAID"
    ATOMIC_LEVERAGE_EXECUTION = "ATOMIC_LEVERAGE_EXECUTION"
    # monitoring
    HOURLY_RECONCILIATION = "HOURLY_RECONCILIATION"
    PRICE_UPDATE = "PRICE_UPDATE"
    RISK_ALERT = "RISK_ALERT"
    REBALANCE_EXECUTED = "REBALANCE_EXECUTED"
    # snapshots (ccxt instrumentation: fetch_balance, fetch_positions)
    BALANCE_SNAPSHOT = "BALANCE_SNAPSHOT"
    POSITIONS_SNAPSHOT = "POSITIONS_SNAPSHOT"


#: Lifecycle moves that ``update_event`` accepts; every other move is refused.
STATUS_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset(
        {Status.SUBMITTED, Status.CONFIRMED, Status.COMPLETED, Status.FAILED, Status.CANCELLED}
    ),
    Status.SUBMITTED: frozenset(
        {Status.CONFIRMED, Status.COMPLETED, Status.FAILED, Status.CANCELLED}
    ),
    Status.CONFIRMED: frozenset({Status.COMPLETED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}
