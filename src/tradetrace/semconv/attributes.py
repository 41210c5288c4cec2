"""Attribute names: the contract every part of tradetrace speaks.

Each constant is the dotted attribute key (OpenTelemetry naming rules, ``trading.`` namespace,
OpenTelemetry's own names where they exist). Each is declared once, through :func:`_attr`, which
also registers its short column name for tabular exporters, its value type and where the field
comes from (the seed loggers, ccxt's unified structures, NautilusTrader, FIX tags).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ValueType = Literal["string", "decimal", "int", "float", "bool", "json", "time_ns", "int[]"]


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One attribute: its key, its tabular column, its type and its provenance."""

    key: str
    column: str
    type: ValueType
    brief: str
    group: str
    refs: str = ""


ATTRIBUTES: dict[str, AttributeSpec] = {}


def _attr(key: str, column: str, type_: ValueType, brief: str, refs: str = "") -> str:
    if key in ATTRIBUTES:
        raise RuntimeError(f"attribute {key!r} declared twice")
    if any(spec.column == column for spec in ATTRIBUTES.values()):
        raise RuntimeError(f"column {column!r} declared twice")
    parts = key.split(".")
    group = ".".join(parts[:2]) if parts[0] == "trading" and len(parts) > 2 else parts[0]
    ATTRIBUTES[key] = AttributeSpec(key, column, type_, brief, group, refs)
    return key


# --- instrument and venue --------------------------------------------------------------------
SYMBOL = _attr(
    "trading.symbol",
    "symbol",
    "string",
    "Instrument symbol, e.g. BTC-USDT or BTC/USDT",
    "seed symbol; ccxt symbol; Nautilus instrument_id; FIX 55",
)
NOTES = _attr("trading.notes", "notes", "string", "Free-form context", "seed notes")

# --- order -----------------------------------------------------------------------------------
ORDER_ID = _attr(
    "trading.order.id",
    "order_id",
    "string",
    "Venue order id",
    "seed order_id; ccxt id; Nautilus venue_order_id; FIX 37 OrderID",
)
ORDER_CLIENT_ID = _attr(
    "trading.order.client_id",
    "client_order_id",
    "string",
    "Client order id",
    "seed client_order_id; ccxt clientOrderId; FIX 11",
)
ORDER_TYPE = _attr(
    "trading.order.type",
    "order_type",
    "string",
    "OrderType: LIMIT, MARKET, ...",
    "seed order_type; ccxt type; FIX 40",
)
ORDER_SIDE = _attr(
    "trading.order.side",
    "side",
    "string",
    "Side: BUY or SELL",
    "seed side; ccxt side; Nautilus order_side; FIX 54",
)
ORDER_TIME_IN_FORCE = _attr(
    "trading.order.time_in_force",
    "time_in_force",
    "string",
    "TimeInForce: GTC, IOC, FOK, PO, ...",
    "ccxt timeInForce; FIX 59",
)
ORDER_PRICE = _attr(
    "trading.order.price",
    "order_price",
    "decimal",
    "Limit price of the order",
    "ccxt price (order); FIX 44",
)
ORDER_STOP_PRICE = _attr(
    "trading.order.stop_price",
    "stop_price",
    "decimal",
    "Trigger price",
    "ccxt stopPrice/triggerPrice; FIX 99",
)
ORDER_QUANTITY = _attr(
    "trading.order.quantity",
    "order_quantity",
    "decimal",
    "Ordered quantity",
    "ccxt amount (order); FIX 38 OrderQty",
)
ORDER_FILLED = _attr(
    "trading.order.filled",
    "filled_quantity",
    "decimal",
    "Quantity filled so far",
    "ccxt filled; FIX 14 CumQty",
)
ORDER_REMAINING = _attr(
    "trading.order.remaining",
    "remaining_quantity",
    "decimal",
    "Quantity still open",
    "ccxt remaining; FIX 151 LeavesQty",
)
ORDER_AVERAGE_PRICE = _attr(
    "trading.order.average_price",
    "average_price",
    "decimal",
    "Average fill price",
    "ccxt average; FIX 6 AvgPx",
)
ORDER_STATUS = _attr(
    "trading.order.status",
    "order_status",
    "string",
    "Venue order status: open, closed, canceled, expired, rejected",
    "ccxt status; FIX 39 OrdStatus",
)
ORDER_REDUCE_ONLY = _attr(
    "trading.order.reduce_only", "reduce_only", "bool", "Reduce-only flag", "ccxt reduceOnly"
)
ORDER_POST_ONLY = _attr(
    "trading.order.post_only", "post_only", "bool", "Post-only flag", "ccxt postOnly"
)

# --- fill ------------------------------------------------------------------------------------
FILL_TRADE_ID = _attr(
    "trading.fill.trade_id",
    "trade_id",
    "string",
    "Venue trade / execution id",
    "ccxt trade id; Nautilus trade_id; FIX 17 ExecID",
)
FILL_PRICE = _attr(
    "trading.fill.price",
    "price",
    "decimal",
    "Execution price",
    "seed price; ccxt trade price; Nautilus last_px; FIX 31 LastPx",
)
FILL_QUANTITY = _attr(
    "trading.fill.quantity",
    "size",
    "decimal",
    "Executed quantity",
    "seed size; ccxt trade amount; Nautilus last_qty; FIX 32 LastQty",
)
FILL_NOTIONAL = _attr(
    "trading.fill.notional", "notional", "decimal", "price x quantity", "ccxt cost"
)
FILL_LIQUIDITY_SIDE = _attr(
    "trading.fill.liquidity_side",
    "liquidity_side",
    "string",
    "LiquiditySide: MAKER or TAKER",
    "ccxt takerOrMaker; Nautilus liquidity_side; FIX 851",
)
FILL_REALIZED_PNL = _attr(
    "trading.fill.realized_pnl",
    "realized_pnl",
    "decimal",
    "Realized PnL of this fill",
    "seed realized_pnl",
)
FILL_SPREAD_CAPTURED = _attr(
    "trading.fill.spread_captured",
    "spread_captured",
    "decimal",
    "Spread captured at entry",
    "seed spread_captured",
)

# --- fee -------------------------------------------------------------------------------------
FEE_AMOUNT = _attr(
    "trading.fee.amount",
    "fee",
    "decimal",
    "Fee paid (negative: rebate)",
    "seed fee; ccxt fee.cost; Nautilus commission; FIX 12",
)
FEE_CURRENCY = _attr(
    "trading.fee.currency",
    "fee_asset",
    "string",
    "Fee currency",
    "seed fee_asset; ccxt fee.currency",
)
FEE_RATE = _attr("trading.fee.rate", "fee_rate", "decimal", "Fee rate", "ccxt fee.rate")

# --- position --------------------------------------------------------------------------------
POSITION_INVENTORY_BEFORE = _attr(
    "trading.position.inventory_before",
    "inventory_before",
    "decimal",
    "Position before the fill",
    "seed inventory_before",
)
POSITION_INVENTORY_AFTER = _attr(
    "trading.position.inventory_after",
    "inventory_after",
    "decimal",
    "Position after the fill",
    "seed inventory_after",
)
POSITION_EQUITY_BEFORE = _attr(
    "trading.position.equity_before",
    "equity_before",
    "decimal",
    "Account equity before",
    "seed equity_before",
)
POSITION_EQUITY_AFTER = _attr(
    "trading.position.equity_after",
    "equity_after",
    "decimal",
    "Account equity after",
    "seed equity_after",
)
POSITION_NOTIONAL_USD = _attr(
    "trading.position.notional_usd",
    "notional_usd",
    "decimal",
    "Position notional in USD",
    "seed event notional_usd",
)
POSITION_ENTRY_PRICE = _attr(
    "trading.position.entry_price",
    "entry_price",
    "decimal",
    "Entry price of a perp position",
    "seed event entry_price",
)
POSITION_INSTRUMENT = _attr(
    "trading.position.instrument",
    "instrument",
    "string",
    "Derivative instrument name",
    "seed event instrument",
)

# --- decision --------------------------------------------------------------------------------
DECISION_TYPE = _attr(
    "trading.decision.type",
    "decision_type",
    "string",
    "spread_calculation, risk_check, rebalance, order_placement, ...",
    "seed decision_type",
)
DECISION_INPUTS = _attr(
    "trading.decision.inputs", "parameters", "json", "Inputs the decision used", "seed parameters"
)
DECISION_RESULT = _attr(
    "trading.decision.result", "result", "json", "Decision outcome", "seed result"
)
DECISION_REASON = _attr(
    "trading.decision.reason", "reason", "string", "Human-readable explanation", "seed reason"
)
DECISION_BID_SPREAD = _attr(
    "trading.decision.bid_spread",
    "bid_spread",
    "decimal",
    "Bid spread of a spread calculation",
    "seed result.bid_spread",
)
DECISION_ASK_SPREAD = _attr(
    "trading.decision.ask_spread",
    "ask_spread",
    "decimal",
    "Ask spread of a spread calculation",
    "seed result.ask_spread",
)

# --- risk ------------------------------------------------------------------------------------
RISK_CHECK = _attr(
    "trading.risk.check", "check_name", "string", "Name of the risk check", "seed check_risk_limits"
)
RISK_PASSED = _attr(
    "trading.risk.passed", "passed", "bool", "Whether the check passed", "seed is_safe"
)
RISK_REASON = _attr(
    "trading.risk.reason", "risk_reason", "string", "Why it passed or failed", "seed reason"
)
RISK_LIMIT = _attr("trading.risk.limit", "limit_value", "decimal", "The configured limit")
RISK_OBSERVED = _attr(
    "trading.risk.observed", "observed_value", "decimal", "The observed value compared to the limit"
)

# --- error (OpenTelemetry names where they exist) --------------------------------------------
ERROR_TYPE = _attr(
    "error.type",
    "error_type",
    "string",
    "order_failed, api_error, strategy_error, risk_breach, or an exception class",
    "seed error_type; OpenTelemetry error.type",
)
ERROR_MESSAGE = _attr(
    "trading.error.message", "message", "string", "What went wrong", "seed message"
)
ERROR_RECOVERY_ACTION = _attr(
    "trading.error.recovery_action",
    "recovery_action",
    "string",
    "What was done to recover",
    "seed recovery_action",
)
ERROR_RETRYABLE = _attr(
    "trading.error.retryable",
    "retryable",
    "bool",
    "Whether retrying may succeed (network errors)",
    "ccxt NetworkError",
)
EXCEPTION_TYPE = _attr(
    "exception.type",
    "exception_type",
    "string",
    "Exception class name",
    "seed exception_type; OpenTelemetry exception.type",
)
EXCEPTION_MESSAGE = _attr(
    "exception.message",
    "exception_message",
    "string",
    "Exception message",
    "seed exception_message; OpenTelemetry exception.message",
)
EXCEPTION_STACKTRACE = _attr(
    "exception.stacktrace",
    "stack_trace",
    "string",
    "Full traceback",
    "seed stack_trace; OpenTelemetry exception.stacktrace",
)

# --- event lifecycle and context -------------------------------------------------------------
EVENT_TYPE = _attr(
    "trading.event.type",
    "event_type",
    "string",
    "GAS_FEE_PAID, STAKE_DEPOSIT, ... or a custom type",
    "seed event_type",
)
EVENT_ID = _attr(
    "trading.event.id", "event_id", "string", "External id for live correlation", "seed event_id"
)
EVENT_UPDATES_SEQ = _attr(
    "trading.event.updates_seq",
    "updates_seq",
    "int",
    "The seq of the event this lifecycle update refers to",
    "seed update_event(order)",
)
EVENT_PURPOSE = _attr(
    "trading.event.purpose", "purpose", "string", "Human-readable purpose", "seed purpose"
)
EVENT_TRANSACTION_TYPE = _attr(
    "trading.event.transaction_type",
    "transaction_type",
    "string",
    "Category of the transaction",
    "seed transaction_type",
)
EVENT_ITERATION = _attr(
    "trading.event.iteration", "iteration", "int", "Loop iteration", "seed iteration"
)
EVENT_TRIGGER_TIME = _attr(
    "trading.event.trigger_time",
    "trigger_time_ns",
    "time_ns",
    "When the decision was made (ns since epoch)",
    "seed trigger_timestamp",
)
EVENT_COMPLETION_TIME = _attr(
    "trading.event.completion_time",
    "completion_time_ns",
    "time_ns",
    "When the transaction confirmed (ns since epoch)",
    "seed completion_timestamp",
)
EVENT_FAILURE_REASON = _attr(
    "trading.event.failure_reason", "failure_reason", "string", "Why a lifecycle ended in failed"
)

# --- ledger (on-chain and CEX balances) ------------------------------------------------------
LEDGER_VENUE = _attr(
    "trading.ledger.venue",
    "venue",
    "string",
    "Where it happened: ETHEREUM, AAVE, BINANCE, ...",
    "seed venue; ccxt exchange id",
)
LEDGER_TOKEN = _attr("trading.ledger.token", "token", "string", "Token involved", "seed token")
LEDGER_AMOUNT = _attr("trading.ledger.amount", "amount", "decimal", "Primary amount", "seed amount")
LEDGER_INPUT_TOKEN = _attr(
    "trading.ledger.input_token", "input_token", "string", "Token in", "seed input_token"
)
LEDGER_OUTPUT_TOKEN = _attr(
    "trading.ledger.output_token", "output_token", "string", "Token out", "seed output_token"
)
LEDGER_AMOUNT_OUT = _attr(
    "trading.ledger.amount_out", "amount_out", "decimal", "Amount received", "seed amount_out"
)
LEDGER_ORACLE_PRICE = _attr(
    "trading.ledger.oracle_price",
    "oracle_price",
    "decimal",
    "Oracle price used",
    "seed oracle_price",
)
LEDGER_ATOKEN_RECEIVED = _attr(
    "trading.ledger.atoken_received",
    "atoken_received",
    "decimal",
    "aTokens received for a supply",
    "seed atoken_received",
)
LEDGER_LIQUIDITY_INDEX = _attr(
    "trading.ledger.liquidity_index",
    "liquidity_index",
    "decimal",
    "AAVE liquidity index",
    "seed liquidity_index",
)
LEDGER_CONVERSION_NOTE = _attr(
    "trading.ledger.conversion_note",
    "conversion_note",
    "string",
    "Human-readable conversion",
    "seed conversion_note",
)
LEDGER_CHAIN = _attr("trading.ledger.chain", "chain", "string", "Chain name or id")
LEDGER_TX_HASH = _attr(
    "trading.ledger.tx_hash", "tx_hash", "string", "Transaction hash", "seed tx_hash"
)
LEDGER_BLOCK_NUMBER = _attr(
    "trading.ledger.block_number", "block_number", "int", "Block number of the transaction"
)
LEDGER_CONFIRMATION_BLOCKS = _attr(
    "trading.ledger.confirmation_blocks",
    "confirmation_blocks",
    "int",
    "Confirmations seen",
    "seed confirmation_blocks",
)
LEDGER_GAS_UNITS = _attr(
    "trading.ledger.gas_units", "gas_units", "int", "Gas used", "seed gas_units"
)
LEDGER_GAS_PRICE_GWEI = _attr(
    "trading.ledger.gas_price_gwei",
    "gas_price_gwei",
    "decimal",
    "Gas price in gwei",
    "seed gas_price_gwei",
)
LEDGER_GAS_COST_ETH = _attr(
    "trading.ledger.gas_cost_eth", "gas_cost_eth", "decimal", "Gas cost in ETH", "seed gas_cost_eth"
)
LEDGER_GAS_COST_USD = _attr(
    "trading.ledger.gas_cost_usd", "gas_cost_usd", "decimal", "Gas cost in USD", "seed gas_cost_usd"
)
LEDGER_FEE_TYPE = _attr(
    "trading.ledger.fee_type", "fee_type", "string", "Operation the gas paid for", "seed fee_type"
)
LEDGER_EXECUTION_COST_USD = _attr(
    "trading.ledger.execution_cost_usd",
    "execution_cost_usd",
    "decimal",
    "Execution cost in USD",
    "seed execution_cost_usd",
)
LEDGER_EXECUTION_COST_BPS = _attr(
    "trading.ledger.execution_cost_bps",
    "execution_cost_bps",
    "decimal",
    "Execution cost in basis points",
    "seed execution_cost_bps",
)
LEDGER_WALLET_BALANCE_AFTER = _attr(
    "trading.ledger.wallet_balance_after",
    "wallet_balance_after",
    "json",
    "Full position snapshot after the event",
    "seed wallet_balance_after",
)
LEDGER_CEX_BALANCE_AFTER = _attr(
    "trading.ledger.cex_balance_after",
    "cex_balance_after",
    "json",
    "CEX balances after the event",
    "seed cex_balance_after",
)
LEDGER_ONCHAIN_POSITION_AFTER = _attr(
    "trading.ledger.onchain_position_after",
    "aave_position_after",
    "json",
    "On-chain position subset after the event",
    "seed aave_position_after",
)

LEDGER_SNAPSHOT_ID = _attr(
    "trading.ledger.snapshot_id",
    "snapshot_id",
    "string",
    "Content digest of the snapshot; a repeated large snapshot carries only this id, its content "
    "is in the run's first record with the same id",
)

# --- funding ---------------------------------------------------------------------------------
FUNDING_RATE = _attr(
    "trading.funding.rate",
    "funding_rate",
    "decimal",
    "Funding rate",
    "seed funding_rate; ccxt fundingRate",
)
FUNDING_PNL_USD = _attr(
    "trading.funding.pnl_usd",
    "pnl_usd",
    "decimal",
    "Funding PnL in USD (positive: received)",
    "seed pnl_usd",
)
FUNDING_PNL_TYPE = _attr(
    "trading.funding.pnl_type", "pnl_type", "string", "RECEIVED or PAID", "seed pnl_type"
)

# --- bundle ----------------------------------------------------------------------------------
BUNDLE_NAME = _attr(
    "trading.bundle.name",
    "bundle_name",
    "string",
    "ATOMIC_LEVERAGE_ENTRY, ATOMIC_DELEVERAGE, ...",
    "seed bundle_name",
)
BUNDLE_DETAIL_COUNT = _attr(
    "trading.bundle.detail_count",
    "detail_count",
    "int",
    "Number of detail events in the bundle",
    "seed detail_count",
)
BUNDLE_NET_RESULT = _attr(
    "trading.bundle.net_result", "net_result", "json", "Net effect of the bundle", "seed net_result"
)

# --- instrumented calls ----------------------------------------------------------------------
CODE_FUNCTION = _attr(
    "code.function.name",
    "function",
    "string",
    "Qualified name of the instrumented function or method",
    "OpenTelemetry code.function.name",
)
CALL_ARGUMENTS = _attr(
    "trading.call.arguments",
    "arguments",
    "json",
    "Bound arguments of an instrumented call, by parameter name (redacted)",
)
CALL_RESULT = _attr(
    "trading.call.result", "call_result", "json", "Result of an instrumented call (redacted)"
)
INSTRUMENTATION_ERROR = _attr(
    "trading.instrumentation.error",
    "instrumentation_error",
    "string",
    "What tradetrace could not capture from this call (never raised)",
)

# --- record fields and resource (not attributes of a record, named for OTLP) -----------------
SEQ = "trading.seq"
RUN_ID = "trading.run.id"
PARENT_SEQ = "trading.parent_seq"
RELATED_SEQS = "trading.related_seqs"
RECORD_KIND = "trading.record.kind"
SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"
DEPLOYMENT_ENVIRONMENT = "deployment.environment.name"
HOST_NAME = "host.name"
TELEMETRY_SDK_NAME = "telemetry.sdk.name"
TELEMETRY_SDK_VERSION = "telemetry.sdk.version"
STRATEGY = "trading.strategy"
MODE = "trading.mode"
CLOCK_SOURCE = "trading.clock.source"

#: Columns that hold an exact number (Decimal) in tabular exporters.
DECIMAL_COLUMNS: frozenset[str] = frozenset(
    spec.column for spec in ATTRIBUTES.values() if spec.type == "decimal"
)
#: Attribute key -> short column name: the one mapping tabular exporters use.
COLUMN_OF: dict[str, str] = {spec.key: spec.column for spec in ATTRIBUTES.values()}
#: Short column name -> attribute key.
ATTRIBUTE_OF: dict[str, str] = {spec.column: spec.key for spec in ATTRIBUTES.values()}
