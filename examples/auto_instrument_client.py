"""auto_instrument: one line records a trading client's fills, spreads, risk checks and orders.

Run: ``python examples/auto_instrument_client.py [OUTPUT_DIR]``
"""

from __future__ import annotations

import random
import sys
import tempfile

import tradetrace as tt


class AvellanedaClient:
    """A market-making client with the seed's method names (no tradetrace code inside)."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key  # never captured: tradetrace does not read the client's fields
        self.inventory = 0.0
        self.mid = 67_500.0

    def calculate_optimal_spread(self, gamma: float, sigma: float, k: float) -> tuple:
        half = gamma * sigma**2 / 2 + 1 / k
        return round(half, 4), round(half, 4)

    def check_risk_limits(self) -> tuple[bool, str]:
        return abs(self.inventory) <= 0.005, f"|inventory| {abs(self.inventory):.3f} vs 0.005"

    def place_order(self, symbol: str, side: str, size: float, price: float) -> dict:
        return {"orderId": f"o-{random.randrange(10**6)}", "status": "NEW"}

    def on_order_filled(self, order_data: dict) -> None:
        sign = 1 if order_data["side"] == "BUY" else -1
        self.inventory += sign * float(order_data["size"])


def main(directory: str) -> None:
    tt.configure(service_name="auto-example", exporters=("csv", "jsonl"), directory=directory)
    client = AvellanedaClient(api_key="sk-live-not-a-real-key")
    tt.auto_instrument(client)  # <- the one line

    rng = random.Random(3)
    for _ in range(20):
        bid, ask = client.calculate_optimal_spread(gamma=0.1, sigma=2.0, k=1.5)
        side = rng.choice(("BUY", "SELL"))
        price = client.mid - bid if side == "BUY" else client.mid + ask
        order = client.place_order("BTC-USDT", side, 0.001, price)
        client.on_order_filled({"orderId": order["orderId"], "side": side, "price": price,
                                "size": 0.001, "fee": 0.0135, "feeAsset": "USDT",
                                "symbol": "BTC-USDT"})  # fmt: skip
        safe, reason = client.check_risk_limits()
        if not safe:
            print("risk limit:", reason)
            break
    print(tt.flush())
    health = tt.health()
    print(f"recorded {health['emitted']} records; files under {directory}")
    tt.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tradetrace-"))
