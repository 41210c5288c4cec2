"""auto_instrument on the seed's generic trading-client shape (and NautilusTrader fills)."""

from __future__ import annotations

import enum
from decimal import Decimal

import pytest

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.memory import MemoryExporter


class AvellanedaClient:
    """The seed's client shape: a fill callback, a spread calculation, a risk check, orders."""

    def __init__(self) -> None:
        self.api_key = "CANARY-KEY"
        self.secret = "CANARY-SECRET"
        self.inventory = 0.0

    def on_order_filled(self, order_data: dict) -> None:
        self.inventory += float(order_data["size"])

    def calculate_optimal_spread(self, gamma: float, sigma: float, k: float) -> tuple:
        return 0.025, 0.025

    def check_risk_limits(self) -> tuple[bool, str]:
        return (abs(self.inventory) < 0.05, f"inventory {self.inventory}")

    def place_order(self, symbol: str, side: str, size: float, price: float) -> dict:
        return {"orderId": "o-42", "status": "NEW"}

    def cancel_order(self, order_id: str) -> bool:
        raise ConnectionError("cancel timed out")

    def my_callback(self, payload: dict) -> None:
        return None


def flushed(rec: tt.Recorder, memory: MemoryExporter) -> list[tt.Record]:
    assert rec.flush(5)
    return sorted(memory.records, key=lambda r: r.seq)


def test_the_seed_client_is_recorded_with_one_line(rec: tt.Recorder, memory: MemoryExporter):
    client = AvellanedaClient()
    handle = tt.auto_instrument(client, recorder=rec)
    assert handle.wrapped == {
        "on_order_filled": "fill", "calculate_optimal_spread": "decision",
        "check_risk_limits": "risk_check", "place_order": "order", "cancel_order": "order",
    }  # fmt: skip
    client.on_order_filled({"orderId": "order_1", "clientOrderId": "client_1", "side": "BUY",
                            "price": "67500.0", "size": "0.001", "fee": "0.135",
                            "feeAsset": "USDT", "symbol": "BTC-USDT"})  # fmt: skip
    assert client.calculate_optimal_spread(0.1, 0.02, 1.5) == (0.025, 0.025)
    client.inventory = 0.08
    assert client.check_risk_limits() == (False, "inventory 0.08")
    assert client.place_order("BTC-USDT", "SELL", 0.001, 67600.0) == {
        "orderId": "o-42",
        "status": "NEW",
    }
    with pytest.raises(ConnectionError, match="cancel timed out"):
        client.cancel_order("o-42")
    fill, decision, risk, order, cancel, error = flushed(rec, memory)
    f = fill.attributes
    assert fill.kind == "fill" and f[sc.ORDER_ID] == "order_1"
    assert f[sc.ORDER_CLIENT_ID] == "client_1" and f[sc.ORDER_SIDE] == "BUY"
    assert f[sc.FILL_PRICE] == Decimal("67500.0") and f[sc.FILL_QUANTITY] == Decimal("0.001")
    assert f[sc.FEE_AMOUNT] == Decimal("0.135") and f[sc.FEE_CURRENCY] == "USDT"
    assert decision.attributes[sc.DECISION_BID_SPREAD] == 0.025
    assert decision.attributes[sc.DECISION_INPUTS] == {"gamma": 0.1, "sigma": 0.02, "k": 1.5}
    assert (risk.kind, risk.severity, risk.attributes[sc.RISK_PASSED]) == (
        "risk_check", "CRITICAL", False)  # fmt: skip
    assert order.kind == "order" and order.attributes[sc.ORDER_ID] == "o-42"
    assert order.attributes[sc.ORDER_SIDE] == "SELL"
    assert order.attributes[sc.ORDER_QUANTITY] == 0.001
    assert cancel.status == "error" and error.parent_seq == cancel.seq
    assert error.attributes[sc.ERROR_TYPE] == "ConnectionError"
    assert error.attributes[sc.ERROR_RETRYABLE] is True
    everything = repr([r.attributes for r in memory.records])
    assert "CANARY" not in everything  # the client's own fields are never captured


def test_instance_level_idempotent_and_exactly_undone(rec: tt.Recorder, memory: MemoryExporter):
    client, other = AvellanedaClient(), AvellanedaClient()
    original = client.calculate_optimal_spread
    handle = tt.auto_instrument(client, recorder=rec)
    assert tt.auto_instrument(client, recorder=rec) is handle
    client.calculate_optimal_spread(1, 2, 3)
    other.calculate_optimal_spread(1, 2, 3)
    assert len(flushed(rec, memory)) == 1  # once, and not for the other instance
    assert "calculate_optimal_spread" not in vars(other)
    assert tt.uninstrument(client) is True
    assert "calculate_optimal_spread" not in vars(client)
    assert client.calculate_optimal_spread == original
    assert client.calculate_optimal_spread.__func__ is AvellanedaClient.calculate_optimal_spread
    client.calculate_optimal_spread(1, 2, 3)
    assert len(flushed(rec, memory)) == 1
    assert tt.uninstrument(client) is False
    handle.uninstrument()  # idempotent


def test_methods_argument_adds_roles(rec: tt.Recorder, memory: MemoryExporter) -> None:
    client = AvellanedaClient()
    tt.auto_instrument(client, recorder=rec, methods={"my_callback": "fill",
                                                      "place_order": "span"})  # fmt: skip
    client.my_callback({"id": "t-1", "side": "sell", "qty": 2, "price": 10, "symbol": "ETH"})
    client.place_order("ETH", "BUY", 1, 10)
    fill, span = flushed(rec, memory)
    assert fill.kind == "fill" and fill.attributes[sc.FILL_TRADE_ID] == "t-1"
    assert span.kind == "span"
    with pytest.raises(ValueError, match="unknown roles"):
        tt.auto_instrument(AvellanedaClient(), recorder=rec, methods={"x": "trade"})


class OrderSide(enum.Enum):
    BUY = 1
    SELL = 2


class LiquiditySide(enum.Enum):
    MAKER = 1
    TAKER = 2


class Money:
    def __init__(self, amount: str, currency: str) -> None:
        self._amount, self.currency = Decimal(amount), currency

    def as_decimal(self) -> Decimal:
        return self._amount


class OrderFilled:
    """The attribute names of NautilusTrader's OrderFilled event."""

    def __init__(self) -> None:
        self.instrument_id = "BTCUSDT.BINANCE"
        self.client_order_id = "O-20240512-001"
        self.venue_order_id = "123456"
        self.trade_id = "T-9"
        self.order_side = OrderSide.SELL
        self.last_qty = Decimal("0.250")
        self.last_px = Decimal("67123.45")
        self.commission = Money("1.25", "USDT")
        self.liquidity_side = LiquiditySide.MAKER


def test_nautilus_order_filled_objects(rec: tt.Recorder, memory: MemoryExporter) -> None:
    class Strategy:
        def on_fill(self, event: OrderFilled) -> None:
            return None

    strategy = Strategy()
    tt.auto_instrument(strategy, recorder=rec)
    strategy.on_fill(OrderFilled())
    (fill,) = flushed(rec, memory)
    a = fill.attributes
    assert a[sc.SYMBOL] == "BTCUSDT.BINANCE" and a[sc.ORDER_SIDE] == "SELL"
    assert a[sc.FILL_PRICE] == Decimal("67123.45") and a[sc.FILL_QUANTITY] == Decimal("0.250")
    assert a[sc.FEE_AMOUNT] == Decimal("1.25") and a[sc.FEE_CURRENCY] == "USDT"
    assert a[sc.FILL_TRADE_ID] == "T-9" and a[sc.FILL_LIQUIDITY_SIDE] == "MAKER"
    assert a[sc.ORDER_CLIENT_ID] == "O-20240512-001" and a[sc.ORDER_ID] == "123456"


def test_unreadable_fill_is_noted_never_raised(rec: tt.Recorder, memory: MemoryExporter) -> None:
    client = AvellanedaClient()
    tt.auto_instrument(client, recorder=rec)
    client.on_order_filled({"side": "HOLD", "size": "0", "price": "NaN"})
    (fill,) = flushed(rec, memory)
    note = fill.attributes[sc.INSTRUMENTATION_ERROR]
    assert "side: must be BUY or SELL" in note and "price: must be a finite number" in note
    assert "size: must be greater than zero" in note and "symbol: not found" in note
    assert rec.health()["internal_errors"]["instrumentation_value:on_order_filled"] == 1


def test_async_client_methods(rec: tt.Recorder, memory: MemoryExporter) -> None:
    import asyncio

    class AsyncClient:
        async def place_order(self, symbol: str, side: str, amount: float) -> dict:
            await asyncio.sleep(0)
            return {"id": "a-1"}

    client = AsyncClient()
    tt.auto_instrument(client, recorder=rec)
    assert asyncio.run(client.place_order("BTC-USDT", "buy", 1.0)) == {"id": "a-1"}
    (order,) = flushed(rec, memory)
    assert order.attributes[sc.ORDER_ID] == "a-1" and order.duration_ns > 0
