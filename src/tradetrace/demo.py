"""The demo: a simulated Avellaneda–Stoikov market-making session, recorded with tradetrace.

Run it with ``tradetrace demo``. Every quoting cycle is a span; inside it the spread calculation
is a decision, the inventory limit a risk check, and each simulated fill a fill record with
exact Decimal prices, fees, realized PnL, inventory and equity before and after. One cycle hits
a simulated rate limit and records an API error, as the seed logger's demo does.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TextIO

from tradetrace.pipeline.clock import SimulatedClock
from tradetrace.pipeline.recorder import Recorder

START = "2025-10-24T12:00:00Z"
SYMBOL = "BTC-USDT"
TICK = Decimal("0.1")
LOT = Decimal("0.001")
MAKER_FEE_RATE = Decimal("0.0001")


class RateLimitExceeded(Exception):
    """What the simulated venue raises once during the session."""


@dataclass
class Book:
    """The strategy's position, cash and running totals (Decimal throughout)."""

    inventory: Decimal = Decimal(0)
    cash: Decimal = Decimal(1000)
    average_cost: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    fills: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def equity(self, mid: Decimal) -> Decimal:
        return self.cash + self.inventory * mid

    def apply(self, side: str, price: Decimal, size: Decimal, fee: Decimal) -> Decimal:
        """Book a fill; return its realized PnL (average-cost method)."""
        signed = size if side == "BUY" else -size
        realized = Decimal(0)
        if self.inventory and (self.inventory > 0) != (signed > 0):
            closed = min(abs(signed), abs(self.inventory))
            direction = 1 if self.inventory > 0 else -1
            realized = (price - self.average_cost) * closed * direction
        new_inventory = self.inventory + signed
        if new_inventory == 0:
            self.average_cost = Decimal(0)
        elif self.inventory == 0 or (self.inventory > 0) != (new_inventory > 0):
            self.average_cost = price
        elif (self.inventory > 0) == (signed > 0):
            total = self.average_cost * abs(self.inventory) + price * size
            self.average_cost = total / abs(new_inventory)
        self.inventory = new_inventory
        self.cash -= signed * price + fee
        self.realized += realized
        self.fees += fee
        self.fills += 1
        return realized


def _q(value: float | Decimal, step: Decimal) -> Decimal:
    return Decimal(str(value)).quantize(step, rounding=ROUND_HALF_EVEN)


def optimal_quotes(
    mid: float, inventory: float, gamma: float, sigma: float, k: float, horizon: float
) -> tuple[float, float]:
    """Avellaneda–Stoikov: reservation price and optimal total spread -> (bid, ask) spreads."""
    reservation = mid - inventory * gamma * sigma**2 * horizon
    spread = gamma * sigma**2 * horizon + (2 / gamma) * math.log(1 + gamma / k)
    bid = mid - (reservation - spread / 2)
    ask = (reservation + spread / 2) - mid
    return bid, ask


def simulate(recorder: Recorder, clock: SimulatedClock, steps: int, seed: int) -> Book:
    """Run the quoting loop for ``steps`` one-second cycles, recording everything."""
    rng = random.Random(seed)
    book = Book()
    mid = 67_500.0
    gamma, sigma, k, intensity = 0.1, 2.0, 0.05, 0.9
    limit = Decimal("0.020")
    error_step = steps // 2
    for step in range(steps):
        clock.advance(1_000_000_000)
        mid *= math.exp(rng.gauss(0, 0.0002))
        mid_d = _q(mid, TICK)
        with recorder.span("quote_cycle", symbol=SYMBOL, iteration=step):
            horizon = 1 - step / steps
            bid_spread, ask_spread = optimal_quotes(
                mid, float(book.inventory) * 100, gamma, sigma, k, horizon
            )
            recorder.record_decision(
                "spread_calculation",
                symbol=SYMBOL,
                inputs={"gamma": gamma, "sigma": sigma, "k": k, "inventory": book.inventory},
                result={"bid_spread": round(bid_spread, 6), "ask_spread": round(ask_spread, 6)},
                reason="Avellaneda-Stoikov optimal spread calculation",
            )
            if step == error_step:
                try:
                    raise RateLimitExceeded("Rate limit exceeded: 1200 requests per minute")
                except RateLimitExceeded as exc:
                    recorder.record_error(
                        "api_error", exception=exc, symbol=SYMBOL, severity="WARNING",
                        recovery_action="Retry after 1 second", notes="Temporary API issue",
                    )  # fmt: skip
                continue
            for side, distance in (("BUY", bid_spread), ("SELL", ask_spread)):
                if rng.random() < intensity * math.exp(-k * max(distance, 0.0)):
                    price = _q(mid - distance if side == "BUY" else mid + distance, TICK)
                    _fill(recorder, book, side, price, mid_d, step)
            observed = abs(book.inventory)
            recorder.record_risk_check(
                "inventory_limit",
                passed=observed <= limit,
                reason=f"|inventory| {observed} vs limit {limit}",
                limit=limit,
                observed=observed,
                symbol=SYMBOL,
            )
    return book


def _fill(recorder: Recorder, book: Book, side: str, price: Decimal, mid: Decimal, n: int) -> None:
    size = LOT
    fee = (price * size * MAKER_FEE_RATE).quantize(Decimal("0.00000001"))
    inventory_before, equity_before = book.inventory, book.equity(mid)
    realized = book.apply(side, price, size, fee)
    recorder.record_fill(
        symbol=SYMBOL,
        side=side,
        price=price,
        quantity=size,
        fee=fee,
        fee_currency="USDT",
        fee_rate=MAKER_FEE_RATE,
        order_id=f"order_{n}_{side[0]}",
        client_order_id=f"mm-{n}-{side.lower()}",
        order_type="LIMIT",
        liquidity_side="MAKER",
        realized_pnl=realized.quantize(Decimal("0.00000001")),
        spread_captured=(abs(price - mid) / mid * 100).quantize(Decimal("0.000001")),
        inventory_before=inventory_before,
        inventory_after=book.inventory,
        equity_before=equity_before.quantize(Decimal("0.00000001")),
        equity_after=book.equity(mid).quantize(Decimal("0.00000001")),
        venue="SIMULATED",
    )


def run_demo(
    directory: str | Path = "tradetrace-demo",
    steps: int = 600,
    seed: int = 7,
    out: TextIO = sys.stdout,
) -> Recorder:
    """Run the session, write CSV and JSON Lines under ``directory``, print where and how much."""
    clock = SimulatedClock(START)
    recorder = Recorder(
        service_name="avellaneda",
        exporters=("csv", "jsonl"),
        directory=directory,
        mode="backtest",
        clock=clock,
        strategy="avellaneda_stoikov",
    )
    print("=== tradetrace demo: simulated Avellaneda-Stoikov market making ===", file=out)
    print(f"{steps} one-second quoting cycles on {SYMBOL}, simulated clock from {START}", file=out)
    book = simulate(recorder, clock, steps, seed)
    result = recorder.shutdown(10)
    health = recorder.health()
    net = book.realized - book.fees
    print("", file=out)
    print(f"run id        {recorder.run_id}", file=out)
    print(f"records       {health['emitted']} (dropped {health['dropped']})", file=out)
    print(f"fills         {book.fills}", file=out)
    print(f"realized PnL  {book.realized.quantize(Decimal('0.0001'))} USDT", file=out)
    print(f"fees          {book.fees.quantize(Decimal('0.0001'))} USDT", file=out)
    print(f"net PnL       {net.quantize(Decimal('0.0001'))} USDT", file=out)
    print(f"inventory     {book.inventory} BTC", file=out)
    print(f"pipeline      {result}", file=out)
    print("", file=out)
    root = Path(directory)
    for sub in ("csv", "json"):
        for path in sorted((root / sub).glob("*")):
            print(f"wrote {path}", file=out)
    return recorder
