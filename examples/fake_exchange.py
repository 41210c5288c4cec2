"""A local fake of Binance's REST API (spot and USDⓈ-M futures), for offline ccxt runs.

It serves canned but stateful Binance-shaped JSON on 127.0.0.1 so that a real ``ccxt.binance``
(sync or ``ccxt.async_support``) runs its own HTTP, signing and error handling against it::

    with FakeBinance(api_key="k", secret="s") as server:
        exchange = server.point(ccxt.binance({"apiKey": "k", "secret": "s"}))
        exchange.create_limit_order("BTC/USDT", "buy", 0.01, 49_000)

Signed endpoints check the ``X-MBX-APIKEY`` header and the HMAC-SHA256 ``signature`` the way
Binance does. A spot order costing more than the free balance is refused with Binance's
``-2010`` reply; :meth:`FakeBinance.fail_next` injects rate limits, bans, dropped connections
and stalls. Standard library only, so the example and the tests share this one file.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, Any]
FAULTS = ("rate_limit", "ban", "disconnect", "stall")

INSUFFICIENT_BALANCE = {
    "code": -2010,
    "msg": "Account has insufficient balance for requested action.",
}
UNKNOWN_ORDER = {"code": -2011, "msg": "Unknown order sent."}
NO_SUCH_ORDER = {"code": -2013, "msg": "Order does not exist."}
BAD_SIGNATURE = {"code": -1022, "msg": "Signature for this request is not valid."}
BAD_API_KEY = {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
FEE_RATE = Decimal("0.001")


def _num(value: Decimal) -> str:
    """Binance's number format: eight decimals, as a string."""
    return f"{value:.8f}"


def _ms() -> int:
    return time.time_ns() // 1_000_000


def _spot_market(symbol: str, base: str, quote: str) -> dict[str, Any]:
    return {
        "symbol": symbol, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
        "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False, "permissions": ["SPOT"],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
             "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
             "stepSize": "0.00001000"},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "maxNotional": "9000000.00"},
        ],
    }  # fmt: skip


def _perpetual(symbol: str, base: str, quote: str) -> dict[str, Any]:
    return {
        "symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "status": "TRADING",
        "baseAsset": base, "quoteAsset": quote, "marginAsset": quote, "pricePrecision": 2,
        "quantityPrecision": 3, "baseAssetPrecision": 8, "quotePrecision": 8,
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "4529764",
             "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
        ],
    }  # fmt: skip


@dataclass
class Order:
    """A spot order on the fake book."""

    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal
    time_in_force: str | None
    time: int
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    quote_executed: Decimal = Decimal(0)
    fills: list[dict[str, Any]] = field(default_factory=list)

    def reply(self, **extra: Any) -> dict[str, Any]:
        """The order as Binance's RESULT/FULL reply and GET /api/v3/order show it."""
        body = {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1,
            "clientOrderId": self.client_id, "transactTime": self.time, "time": self.time,
            "updateTime": self.time, "price": _num(self.price), "origQty": _num(self.quantity),
            "executedQty": _num(self.executed), "cummulativeQuoteQty": _num(self.quote_executed),
            "status": self.status, "timeInForce": self.time_in_force or "GTC",
            "type": self.type, "side": self.side, "workingTime": self.time,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }  # fmt: skip
        body.update(extra)
        return body


@dataclass
class Seen:
    """One request as the server received it (for tests to inspect)."""

    method: str
    path: str
    params: dict[str, str]
    api_key: str | None
    signature: str | None


class FakeBinance:
    """The fake exchange: its state, and a threading HTTP server on a random local port."""

    SPOT_MARKETS = (("BTCUSDT", "BTC", "USDT"), ("ETHUSDT", "ETH", "USDT"))

    def __init__(
        self,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        balances: dict[str, str] | None = None,
        last_price: str = "50000",
        host: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.last_price = Decimal(last_price)
        start = balances or {"USDT": "10000", "BTC": "1", "ETH": "0"}
        self.free = {asset: Decimal(amount) for asset, amount in start.items()}
        self.locked = dict.fromkeys(self.free, Decimal(0))
        self.orders: dict[int, Order] = {}
        self.trades: list[dict[str, Any]] = []
        self.income: list[dict[str, Any]] = []
        self.positions: list[dict[str, Any]] = []
        self.seen: list[Seen] = []
        self._faults: list[tuple[str, float]] = []
        self._order_ids = itertools.count(1001)
        self._trade_ids = itertools.count(5001)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBinance:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="fake-binance", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (stalled replies are abandoned)."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def point(self, exchange: Any) -> Any:
        """Point every API URL of a ccxt binance instance at this server; returns it."""
        urls = exchange.urls["api"]
        for name, url in list(urls.items()):
            if isinstance(url, str):
                urls[name] = self.base_url + urlsplit(url).path
        return exchange

    # --- test controls -------------------------------------------------------------------

    def fail_next(self, fault: str, times: int = 1, stall_seconds: float = 2.0) -> None:
        """Make the next ``times`` requests fail: ``rate_limit`` (HTTP 429), ``ban`` (HTTP 418),
        ``disconnect`` (connection closed without a reply) or ``stall`` (reply withheld for
        ``stall_seconds``, past the client's timeout). aiohttp retries an idempotent request
        once after a dropped connection: async clients need ``disconnect`` twice."""
        if fault not in FAULTS:
            raise ValueError(f"fault={fault!r}: one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([(fault, stall_seconds)] * times)

    def fill(self, order_id: int | str, *, maker: bool = True, price: str | None = None) -> None:
        """Fill a resting order completely (a counterparty arrived), as maker by default."""
        with self._lock:
            order = self.orders[int(order_id)]
            fill_price = Decimal(price) if price is not None else order.price
            self._execute(order, fill_price, maker=maker)

    def open_position(self, symbol: str, amount: str, entry: str, mark: str) -> None:
        """Hold a USDⓈ-M perpetual position (``amount`` negative for a short)."""
        size, entry_price, mark_price = Decimal(amount), Decimal(entry), Decimal(mark)
        with self._lock:
            self.positions.append({
                "symbol": symbol, "positionSide": "BOTH", "positionAmt": str(size),
                "entryPrice": str(entry_price), "breakEvenPrice": str(entry_price),
                "markPrice": str(mark_price),
                "unRealizedProfit": _num(size * (mark_price - entry_price)),
                "liquidationPrice": "0", "isolatedMargin": "0", "notional": str(size * mark_price),
                "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": "0",
                "maintMargin": "0", "positionInitialMargin": "0", "openOrderInitialMargin": "0",
                "adl": 0, "bidNotional": "0", "askNotional": "0", "updateTime": _ms(),
            })  # fmt: skip

    def pay_funding(self, symbol: str, amount: str, asset: str = "USDT") -> None:
        """A funding payment on a perpetual (negative: paid, positive: received)."""
        with self._lock:
            self.income.append({
                "symbol": symbol, "incomeType": "FUNDING_FEE", "income": _num(Decimal(amount)),
                "asset": asset, "info": "FUNDING_FEE", "time": _ms(),
                "tranId": next(self._trade_ids), "tradeId": "",
            })  # fmt: skip

    def signatures(self) -> list[str]:
        """Every ``signature`` ccxt sent (query string or form body)."""
        return [s.signature for s in self.seen if s.signature]

    # --- request handling (called from the server's threads) -----------------------------

    def take_fault(self) -> tuple[str, float] | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def receive(self, method: str, path: str, raw: str, headers: Any) -> Seen:
        """Note a request (before any injected fault, so failed requests are seen too)."""
        params = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        signature = params.pop("signature", None)
        seen = Seen(method, path, params, headers.get("X-MBX-APIKEY"), signature)
        with self._lock:
            self.seen.append(seen)
        return seen

    def handle(self, request: Seen, raw: str) -> Reply:
        """Answer a request the way Binance would."""
        route = ROUTES.get((request.method, request.path))
        if route is None:
            return 404, {"code": -1100, "msg": f"Unknown endpoint {request.method} {request.path}."}
        handler, signed = route
        if signed:
            refused = self._check_signature(raw, request.api_key, request.signature)
            if refused is not None:
                return refused
        with self._lock:
            return handler(self, request.params)

    def _check_signature(
        self, raw: str, api_key: str | None, signature: str | None
    ) -> Reply | None:
        if not api_key or (self.api_key is not None and api_key != self.api_key):
            return 401, BAD_API_KEY
        if signature is None:
            return 400, {"code": -1102, "msg": "Mandatory parameter 'signature' was not sent."}
        if self.secret is not None:
            payload = raw.rpartition("&signature=")[0]
            expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, signature):
                return 400, BAD_SIGNATURE
        return None

    # --- endpoints -----------------------------------------------------------------------

    def _time(self, params: dict[str, str]) -> Reply:
        return 200, {"serverTime": _ms()}

    def _spot_info(self, params: dict[str, str]) -> Reply:
        symbols = [_spot_market(*m) for m in self.SPOT_MARKETS]
        return 200, {"timezone": "UTC", "serverTime": _ms(), "rateLimits": [], "symbols": symbols}

    def _futures_info(self, params: dict[str, str]) -> Reply:
        symbols = [_perpetual("BTCUSDT", "BTC", "USDT")]
        return 200, {"timezone": "UTC", "serverTime": _ms(), "assets": [], "symbols": symbols}

    def _empty_info(self, params: dict[str, str]) -> Reply:
        return 200, {"timezone": "UTC", "serverTime": _ms(), "symbols": []}

    def _empty_list(self, params: dict[str, str]) -> Reply:
        return 200, []

    def _new_order(self, params: dict[str, str]) -> Reply:
        symbol, side, kind = params.get("symbol", ""), params.get("side"), params.get("type")
        market = next((m for m in self.SPOT_MARKETS if m[0] == symbol), None)
        if market is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if side not in ("BUY", "SELL") or kind not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            return 400, {"code": -1116, "msg": "Invalid orderType."}
        quantity = Decimal(params.get("quantity", "0"))
        price = Decimal(params.get("price") or self.last_price)
        _, base, quote = market
        if side == "BUY" and quantity * price > self.free.get(quote, Decimal(0)):
            return 400, INSUFFICIENT_BALANCE
        if side == "SELL" and quantity > self.free.get(base, Decimal(0)):
            return 400, INSUFFICIENT_BALANCE
        order_id = next(self._order_ids)
        order = Order(
            order_id, params.get("newClientOrderId") or f"fake-{order_id}", symbol, side, kind,
            quantity, price if kind != "MARKET" else Decimal(0), params.get("timeInForce"), _ms(),
        )  # fmt: skip
        self.orders[order_id] = order
        if kind == "MARKET":
            self._execute(order, self.last_price, maker=False)
        else:
            self._lock_funds(order, market, +1)
        return 200, order.reply(fills=order.fills)

    def _lock_funds(self, order: Order, market: tuple[str, str, str], sign: int) -> None:
        _, base, quote = market
        asset, amount = (quote, order.quantity * order.price) if order.side == "BUY" else (
            base, order.quantity)  # fmt: skip
        self.free[asset] -= sign * amount
        self.locked[asset] = self.locked.get(asset, Decimal(0)) + sign * amount

    def _execute(self, order: Order, price: Decimal, *, maker: bool) -> None:
        market = next(m for m in self.SPOT_MARKETS if m[0] == order.symbol)
        if order.status == "NEW" and order.type != "MARKET":
            self._lock_funds(order, market, -1)
        _, base, quote = market
        quantity, cost = order.quantity, order.quantity * price
        buyer = order.side == "BUY"
        fee_asset, fee = (base, quantity * FEE_RATE) if buyer else (quote, cost * FEE_RATE)
        self.free[base] = self.free.get(base, Decimal(0)) + (quantity if buyer else -quantity)
        self.free[quote] = self.free.get(quote, Decimal(0)) + (-cost if buyer else cost)
        self.free[fee_asset] -= fee
        trade_id = next(self._trade_ids)
        now = _ms()
        order.status, order.executed, order.quote_executed = "FILLED", quantity, cost
        order.fills.append({"price": _num(price), "qty": _num(quantity), "commission": _num(fee),
                            "commissionAsset": fee_asset, "tradeId": trade_id})  # fmt: skip
        self.trades.append({
            "symbol": order.symbol, "id": trade_id, "orderId": order.order_id, "orderListId": -1,
            "price": _num(price), "qty": _num(quantity), "quoteQty": _num(cost),
            "commission": _num(fee), "commissionAsset": fee_asset, "time": now,
            "isBuyer": buyer, "isMaker": maker, "isBestMatch": True,
        })  # fmt: skip

    def _find(self, params: dict[str, str]) -> Order | None:
        if params.get("orderId"):
            return self.orders.get(int(params["orderId"]))
        client_id = params.get("origClientOrderId")
        return next((o for o in self.orders.values() if o.client_id == client_id), None)

    def _cancel(self, params: dict[str, str]) -> Reply:
        order = self._find(params)
        if order is None or order.status != "NEW":
            return 400, UNKNOWN_ORDER
        market = next(m for m in self.SPOT_MARKETS if m[0] == order.symbol)
        self._lock_funds(order, market, -1)
        order.status = "CANCELED"
        return 200, order.reply(origClientOrderId=order.client_id, transactTime=_ms())

    def _cancel_replace(self, params: dict[str, str]) -> Reply:
        """Binance's edit: cancel ``cancelOrderId``, then place the new order."""
        status, canceled = self._cancel({"orderId": params.get("cancelOrderId", ""),
                                         "origClientOrderId": params.get(
                                             "cancelOrigClientOrderId", "")})  # fmt: skip
        if status != 200:
            return status, canceled
        status, placed = self._new_order(params)
        if status != 200:
            return status, placed
        return 200, {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
                     "cancelResponse": canceled, "newOrderResponse": placed}  # fmt: skip

    def _cancel_all(self, params: dict[str, str]) -> Reply:
        symbol = params.get("symbol")
        open_ids = [o.order_id for o in self.orders.values()
                    if o.symbol == symbol and o.status == "NEW"]  # fmt: skip
        if not open_ids:
            return 400, UNKNOWN_ORDER
        return 200, [self._cancel({"orderId": str(i)})[1] for i in open_ids]

    def _get_order(self, params: dict[str, str]) -> Reply:
        order = self._find(params)
        return (200, order.reply()) if order is not None else (400, NO_SUCH_ORDER)

    def _open_orders(self, params: dict[str, str]) -> Reply:
        symbol = params.get("symbol")
        return 200, [o.reply() for o in self.orders.values()
                     if o.status == "NEW" and symbol in (None, o.symbol)]  # fmt: skip

    def _my_trades(self, params: dict[str, str]) -> Reply:
        trades = [t for t in self.trades if t["symbol"] == params.get("symbol")]
        if params.get("fromId"):
            trades = [t for t in trades if t["id"] >= int(params["fromId"])]
        if params.get("startTime"):
            trades = [t for t in trades if t["time"] >= int(params["startTime"])]
        limit = int(params.get("limit") or 500)
        return 200, trades[-limit:]

    def _account(self, params: dict[str, str]) -> Reply:
        balances = [{"asset": a, "free": _num(self.free[a]), "locked": _num(self.locked.get(a, 0))}
                    for a in sorted(self.free)]  # fmt: skip
        return 200, {
            "makerCommission": 10, "takerCommission": 10, "canTrade": True, "canWithdraw": True,
            "canDeposit": True, "updateTime": _ms(), "accountType": "SPOT",
            "balances": balances, "permissions": ["SPOT"],
        }  # fmt: skip

    def _position_risk(self, params: dict[str, str]) -> Reply:
        return 200, list(self.positions)

    def _leverage_brackets(self, params: dict[str, str]) -> Reply:
        bracket = {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
                   "maintMarginRatio": 0.004, "cum": 0.0}  # fmt: skip
        return 200, [{"symbol": "BTCUSDT", "brackets": [bracket]}]

    def _income(self, params: dict[str, str]) -> Reply:
        entries = [e for e in self.income if params.get("incomeType") in (None, e["incomeType"])]
        return 200, entries


ROUTES: dict[tuple[str, str], tuple[Callable[[FakeBinance, dict[str, str]], Reply], bool]] = {
    ("GET", "/api/v3/ping"): (lambda self, params: (200, {}), False),
    ("GET", "/api/v3/time"): (FakeBinance._time, False),
    ("GET", "/api/v3/exchangeInfo"): (FakeBinance._spot_info, False),
    ("GET", "/fapi/v1/exchangeInfo"): (FakeBinance._futures_info, False),
    ("GET", "/dapi/v1/exchangeInfo"): (FakeBinance._empty_info, False),
    ("GET", "/sapi/v1/capital/config/getall"): (FakeBinance._empty_list, True),
    ("GET", "/sapi/v1/margin/allPairs"): (FakeBinance._empty_list, True),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): (FakeBinance._empty_list, True),
    ("POST", "/api/v3/order"): (FakeBinance._new_order, True),
    ("DELETE", "/api/v3/order"): (FakeBinance._cancel, True),
    ("POST", "/api/v3/order/cancelReplace"): (FakeBinance._cancel_replace, True),
    ("GET", "/api/v3/order"): (FakeBinance._get_order, True),
    ("GET", "/api/v3/openOrders"): (FakeBinance._open_orders, True),
    ("DELETE", "/api/v3/openOrders"): (FakeBinance._cancel_all, True),
    ("GET", "/api/v3/myTrades"): (FakeBinance._my_trades, True),
    ("GET", "/api/v3/account"): (FakeBinance._account, True),
    ("GET", "/fapi/v2/positionRisk"): (FakeBinance._position_risk, True),
    ("GET", "/fapi/v3/positionRisk"): (FakeBinance._position_risk, True),
    ("GET", "/fapi/v1/income"): (FakeBinance._income, True),
    ("GET", "/fapi/v1/leverageBracket"): (FakeBinance._leverage_brackets, True),
}


def _handler_for(exchange: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: no stale keep-alives

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            raw = parts.query if self.command in ("GET", "DELETE") or not body else body
            request = exchange.receive(self.command, parts.path, raw, self.headers)
            fault = exchange.take_fault()
            if fault is not None and self._inject(*fault):
                return
            try:
                status, reply = exchange.handle(request, raw)
            except Exception as exc:  # a bug in the fake: answer like a broken server
                status, reply = 500, {"code": -1000, "msg": f"fake exchange error: {exc!r}"}
            self._send(status, reply)

        def _inject(self, fault: str, stall_seconds: float) -> bool:
            if fault == "rate_limit":
                self._send(429, {"code": -1003, "msg": "Too many requests; current limit is "
                                 "6000 request weight per 1 MINUTE."})  # fmt: skip
            elif fault == "ban":
                self._send(418, {"code": -1003, "msg": "Way too many requests; IP banned."})
            elif fault == "disconnect":
                self.close_connection = True
            else:  # stall: hold the reply past the client's timeout, then drop the connection
                exchange._stopping.wait(stall_seconds)
                self.close_connection = True
            return True

        def _send(self, status: int, reply: Any) -> None:
            data = json.dumps(reply).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout): nothing to tell it
                pass

        do_GET = do_POST = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler
