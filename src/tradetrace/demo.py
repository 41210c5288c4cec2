"""The demo: a simulated Avellaneda–Stoikov market-making session, recorded with tradetrace.

``tradetrace demo`` runs it. The simulated client has the seed's method names
(``calculate_optimal_spread``, ``check_risk_limits``, ``place_order``, ``on_order_filled``) and
no tradetrace code: one ``auto_instrument(client)`` line records its decisions, risk checks,
orders and fills. ``inventory_skew`` is a strategy function recorded with ``instrument``;
each quoting cycle is a span. One cycle hits a simulated rate limit (an API error, as in the
seed's demo); at the end a hedge runs as an atomic bundle and a withdrawal goes through a live
lifecycle.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, TextIO

from tradetrace.instrumentation.auto import auto_instrument
from tradetrace.instrumentation.decorators import instrument
from tradetrace.pipeline.clock import SimulatedClock
from tradetrace.pipeline.recorder import Recorder

START = "2025-10-24T12:00:00Z"
SYMBOL = "BTC-USDT"
TICK = Decimal("0.1")
LOT = Decimal("0.001")
CENTS = Decimal("0.00000001")
MAKER_FEE_RATE = Decimal("0.0001")
INVENTORY_LIMIT = Decimal("0.020")


class RateLimitExceeded(Exception):
    """What the simulated venue raises once during the session."""


def _q(value: float | Decimal, step: Decimal) -> Decimal:
    return Decimal(str(value)).quantize(step, rounding=ROUND_HALF_EVEN)


def inventory_skew(inventory: float, gamma: float, sigma: float, horizon: float) -> float:
    """How far the reservation price moves away from mid for the current inventory."""
    return round(inventory * gamma * sigma**2 * horizon, 6)


@dataclass
class SimulatedAvellanedaClient:
    """A market-making client over a simulated venue; it knows nothing about tradetrace."""

    rng: random.Random
    mid: float = 67_500.0
    inventory: Decimal = Decimal(0)
    cash: Decimal = Decimal(1000)
    average_cost: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    fills: int = 0
    api_key: str = "demo-key-never-recorded"

    def equity(self) -> Decimal:
        return self.cash + self.inventory * _q(self.mid, TICK)

    def calculate_optimal_spread(self, gamma: float, sigma: float, k: float) -> tuple:
        """Avellaneda–Stoikov optimal half-spread around the reservation price: (bid, ask)."""
        half = (gamma * sigma**2 + (2 / gamma) * math.log(1 + gamma / k)) / 2
        return round(half, 6), round(half, 6)

    def check_risk_limits(self) -> tuple[bool, str]:
        observed = abs(self.inventory)
        return observed <= INVENTORY_LIMIT, f"|inventory| {observed} vs limit {INVENTORY_LIMIT}"

    def place_order(self, symbol: str, side: str, size: Decimal, price: Decimal) -> dict:
        return {"orderId": f"order_{self.rng.randrange(10**9)}", "status": "NEW", "side": side}

    def on_order_filled(self, order_data: dict[str, Any]) -> None:
        """The venue's fill callback: books the fill."""
        side, price = order_data["side"], Decimal(order_data["price"])
        size, fee = Decimal(order_data["size"]), Decimal(order_data["fee"])
        signed = size if side == "BUY" else -size
        if self.inventory and (self.inventory > 0) != (signed > 0):
            self.realized += (
                (price - self.average_cost)
                * min(size, abs(self.inventory))
                * (1 if self.inventory > 0 else -1)
            )
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
        self.fees += fee
        self.fills += 1


def simulate(
    recorder: Recorder, clock: SimulatedClock, steps: int, seed: int, progress: TextIO | None
) -> SimulatedAvellanedaClient:
    """Run ``steps`` one-second quoting cycles against the simulated venue."""
    rng = random.Random(seed)
    client = SimulatedAvellanedaClient(rng)
    auto_instrument(client, recorder=recorder)  # the one line
    skew_of = instrument("inventory_skew", kind="decision", recorder=recorder)(inventory_skew)
    gamma, sigma, k, intensity = 0.1, 2.0, 0.05, 0.9
    for step in range(steps):
        clock.advance(1_000_000_000)
        client.mid *= math.exp(rng.gauss(0, 0.0002))
        with recorder.span("quote_cycle", symbol=SYMBOL, iteration=step):
            horizon = 1 - step / steps
            skew = skew_of(float(client.inventory) * 100, gamma, sigma, horizon)
            bid_spread, ask_spread = client.calculate_optimal_spread(gamma, sigma, k)
            if step == steps // 2:
                try:
                    raise RateLimitExceeded("Rate limit exceeded: 1200 requests per minute")
                except RateLimitExceeded as exc:
                    recorder.record_error(
                        "api_error", exception=exc, symbol=SYMBOL, severity="WARNING",
                        recovery_action="Retry after 1 second", notes="Temporary API issue",
                    )  # fmt: skip
                continue
            for side, distance in (("BUY", bid_spread + skew), ("SELL", ask_spread - skew)):
                if rng.random() < intensity * math.exp(-k * max(distance, 0.0)):
                    _trade(client, side, distance)
            client.check_risk_limits()
        if progress is not None and (step + 1) % max(1, steps // 40) == 0:
            done = (step + 1) / steps
            progress.write(f"\r  [{'#' * int(done * 30):<30}] {done:4.0%} simulating")
            progress.flush()
    if progress is not None:
        progress.write("\n")
    return client


def _trade(client: SimulatedAvellanedaClient, side: str, distance: float) -> None:
    mid = _q(client.mid, TICK)
    price = _q(client.mid - distance if side == "BUY" else client.mid + distance, TICK)
    order = client.place_order(SYMBOL, side, LOT, price)
    inventory_before, equity_before = client.inventory, client.equity()
    realized_before = client.realized
    fee = (price * LOT * MAKER_FEE_RATE).quantize(CENTS)
    fill = {
        "orderId": order["orderId"], "clientOrderId": f"mm-{order['orderId']}",
        "symbol": SYMBOL, "side": side, "type": "LIMIT", "price": str(price), "size": str(LOT),
        "fee": str(fee), "feeAsset": "USDT", "takerOrMaker": "maker",
        "spread_captured": str((abs(price - mid) / mid * 100).quantize(Decimal("0.000001"))),
        "inventory_before": str(inventory_before),
        "equity_before": str(equity_before.quantize(CENTS)),
    }  # fmt: skip
    projected = SimulatedAvellanedaClient(client.rng, client.mid, client.inventory, client.cash,
                                          client.average_cost, client.realized)  # fmt: skip
    projected.on_order_filled(fill)
    fill["realized_pnl"] = str((projected.realized - realized_before).quantize(CENTS))
    fill["inventory_after"] = str(projected.inventory)
    fill["equity_after"] = str(projected.equity().quantize(CENTS))
    client.on_order_filled(fill)


def ledger_tour(recorder: Recorder, clock: SimulatedClock) -> None:
    """A hedge as an atomic bundle, and a withdrawal through its live lifecycle."""
    clock.advance(60_000_000_000)
    snapshot = {"wallet": {"USDT": "1000.00"}, "cex_accounts": {"binance": {"USDT": "5000"}}}
    with recorder.bundle("ATOMIC_HEDGE", net_result={"delta": "0.000"}, venue="INSTADAPP"):
        recorder.record_event("FLASH_BORROW", venue="BALANCER", token="USDT", amount="5000")
        recorder.record_event("SPOT_TRADE", venue="BINANCE", token="BTC", amount="0.074",
                              side="SELL", snapshot=snapshot)  # fmt: skip
        recorder.record_event("FLASH_REPAID", venue="BALANCER", token="USDT", amount="5000")
    withdrawal = recorder.record_event(
        "VENUE_TRANSFER", venue="BINANCE", token="USDT", amount="250.00", status="pending",
        purpose="move profits to cold wallet",
    )  # fmt: skip
    clock.advance(5_000_000_000)
    recorder.update_event(withdrawal, "submitted", tx_hash="0x5e1f0c8d")
    clock.advance(36_000_000_000)
    recorder.update_event(withdrawal, "confirmed", confirmation_blocks=12,
                          completion_timestamp=clock.now_ns())  # fmt: skip


def run_demo(
    directory: str | Path = "tradetrace-demo",
    steps: int = 600,
    seed: int = 7,
    out: TextIO = sys.stdout,
    exporters: tuple[str, ...] = ("csv", "jsonl", "duckdb", "parquet"),
    progress: TextIO | None = None,
) -> Recorder:
    """Run the session, write every export under ``directory``, print what happened.

    A progress bar goes to ``progress`` (default: stderr when it is a terminal)."""
    if progress is None and sys.stderr.isatty():
        progress = sys.stderr
    clock = SimulatedClock(START)
    recorder = Recorder(  # explicit: nothing else in the process can shut it down mid-run
        service_name="avellaneda", exporters=exporters, directory=directory, mode="backtest",
        clock=clock, strategy="avellaneda_stoikov",
    )  # fmt: skip
    print("=== tradetrace demo: simulated Avellaneda-Stoikov market making ===", file=out)
    print(f"{steps} one-second quoting cycles on {SYMBOL}, simulated clock from {START}", file=out)
    client = simulate(recorder, clock, steps, seed, progress)
    ledger_tour(recorder, clock)
    result = recorder.shutdown(30)
    health = recorder.health()
    net = client.realized - client.fees
    print("", file=out)
    print(f"run id        {recorder.run_id}", file=out)
    print(f"records       {health['emitted']} (dropped {health['dropped']})", file=out)
    print(f"fills         {client.fills}", file=out)
    print(f"realized PnL  {client.realized.quantize(Decimal('0.0001'))} USDT", file=out)
    print(f"fees          {client.fees.quantize(Decimal('0.0001'))} USDT", file=out)
    print(f"net PnL       {net.quantize(Decimal('0.0001'))} USDT", file=out)
    print(f"inventory     {client.inventory} BTC", file=out)
    print(f"pipeline      {result}", file=out)
    print("", file=out)
    root = Path(directory)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".tmp"):
        if path.parent.name.startswith("date=") and path.suffix == ".parquet":
            continue  # listed once per folder below
        print(f"wrote {path}", file=out)
    parquet = root / "parquet"
    if parquet.is_dir():
        print(f"wrote {parquet}/kind=*/date=*/*.parquet", file=out)
    if "duckdb" in exporters or "parquet" in exporters or "csv" in exporters:
        inspect_session(root, out)
    return recorder


#: Three questions a trader asks after a session, as SQL over the views.
EXAMPLE_QUERIES: tuple[tuple[str, str], ...] = (
    (
        "Fills, volume and fees by side",
        "SELECT side, count(*) AS fills, sum(size) AS volume, sum(fee) AS fees, "
        "sum(realized_pnl) AS realized_pnl FROM fills GROUP BY side ORDER BY side",
    ),
    (
        "Risk checks by outcome",
        "SELECT check_name, passed, severity, count(*) AS checks FROM risk_checks "
        "GROUP BY ALL ORDER BY ALL",
    ),
    (
        "The ledger: latest status of every event",
        "SELECT seq, event_type, status FROM event_status ORDER BY seq",
    ),
)


def inspect_session(root: Path, out: TextIO) -> None:
    """Print the seed's summary statistics, three SQL answers and ``verify``; write the report."""
    from tradetrace.query import query, summary, verify
    from tradetrace.query.render import table
    from tradetrace.report import write_report

    stats = summary(root)
    print("\n=== Summary Stats ===", file=out)
    for key, value in stats.items():
        shown = f"{value:.2f}%" if key == "win_rate" and value is not None else value
        print(f"{key}: {shown}", file=out)
    for title, sql in EXAMPLE_QUERIES:
        relation = query(sql, source=root)
        print(f"\n=== {title} ===\n{sql}", file=out)
        print(table(relation.columns, relation.fetchall()), file=out)
    report = verify(root)
    print(f"\n=== verify ===\n{report}", file=out)
    path = write_report(root, root / "report.html")
    print(f"\nreport: {path}", file=out)
