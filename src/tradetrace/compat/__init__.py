"""Drop-in replacements for the loggers tradetrace replaces, with their names and behaviour.

``from tradetrace.compat import TradeLogger`` instead of ``from common.trade_logger import
TradeLogger``: the same data classes, helpers, methods and files, recorded through tradetrace.
``from tradetrace.compat import EventLogger`` (or ``AsyncEventLogger``) for the audit-grade event
logger: the same methods and event dicts, on tradetrace's ledger events.
"""

from tradetrace.compat.event_logger import AsyncEventLogger, EventLogger
from tradetrace.compat.seed_files import TradeLoggerFiles
from tradetrace.compat.trade_logger import (
    DecisionLogEntry,
    ErrorLogEntry,
    TradeLogEntry,
    TradeLogger,
    TradingClientIntegration,
    create_decision_entry,
    create_error_entry,
    create_trade_entry,
    integrate_with_trading_client,
)

__all__ = [
    "AsyncEventLogger",
    "DecisionLogEntry",
    "ErrorLogEntry",
    "EventLogger",
    "TradeLogEntry",
    "TradeLogger",
    "TradeLoggerFiles",
    "TradingClientIntegration",
    "create_decision_entry",
    "create_error_entry",
    "create_trade_entry",
    "integrate_with_trading_client",
]
