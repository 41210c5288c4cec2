"""Drop-in replacements for the loggers tradetrace replaces, with their names and behaviour.

``from tradetrace.compat import TradeLogger`` instead of ``from common.trade_logger import
TradeLogger``: the same data classes, helpers, methods and files, recorded through tradetrace.
"""

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
    "DecisionLogEntry",
    "ErrorLogEntry",
    "TradeLogEntry",
    "TradeLogger",
    "TradeLoggerFiles",
    "TradingClientIntegration",
    "create_decision_entry",
    "create_error_entry",
    "create_trade_entry",
    "integrate_with_trading_client",
]
