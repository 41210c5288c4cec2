"""Client specs: which methods of a trading client ``auto_instrument`` wraps, and as what.

A spec maps method names to *roles*: the generic record kinds (``fill``, ``decision``,
``risk_check``, ``order``, ``span``) or ccxt's result-reading roles (``trades``, ``balance``,
``positions``, ``funding``), whose results become fill records and snapshot or funding events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ROLES = frozenset(
    {"fill", "decision", "risk_check", "order", "span", "trades", "balance", "positions",
     "funding"}
)  # fmt: skip
#: The record kind each role's call is recorded as.
KIND_OF_ROLE = {
    "fill": "fill", "decision": "decision", "risk_check": "risk_check", "order": "order",
    "span": "span", "trades": "span", "balance": "span", "positions": "span", "funding": "span",
}  # fmt: skip


@dataclass(frozen=True)
class ClientSpec:
    """A named mapping of method name -> role; ``camel_case_aliases`` also wraps ``createOrder``
    for ``create_order`` (ccxt copies each method to a camelCase alias per instance)."""

    name: str
    methods: Mapping[str, str]
    camel_case_aliases: bool = False
    venue_attribute: str | None = None
    reentrant_roles: frozenset[str] = field(default_factory=lambda: frozenset({"order"}))
    #: Keys of mapping results never stored (ccxt's ``info``: the exchange's raw reply).
    private_result_keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = {role for role in self.methods.values() if role not in ROLES}
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; roles are {sorted(ROLES)}")


def _roles(role: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, role)


GENERIC = ClientSpec(
    "generic",
    {
        **_roles(
            "fill",
            "on_order_filled",
            "on_fill",
            "on_trade",
            "on_execution",
            "on_order_fill",
            "on_fill_event",
            "handle_fill",
            "on_order_filled_event",
        ),
        **_roles(
            "decision",
            "calculate_optimal_spread",
            "calculate_spread",
            "compute_spread",
            "optimal_spread",
            "calculate_quotes",
            "compute_quotes",
        ),
        **_roles(
            "risk_check",
            "check_risk_limits",
            "check_risk",
            "risk_check",
            "check_limits",
            "validate_risk",
        ),
        **_roles(
            "order",
            "place_order",
            "submit_order",
            "create_order",
            "send_order",
            "cancel_order",
            "cancel_all_orders",
            "cancel_orders",
            "amend_order",
            "modify_order",
            "edit_order",
        ),
    },
)

CCXT = ClientSpec(
    "ccxt",
    {
        **_roles(
            "order",
            "create_order",
            "create_orders",
            "edit_order",
            "cancel_order",
            "cancel_orders",
            "cancel_all_orders",
            "fetch_order",
            "create_limit_order",
            "create_market_order",
            "create_limit_buy_order",
            "create_limit_sell_order",
            "create_market_buy_order",
            "create_market_sell_order",
            "create_stop_order",
            "create_stop_limit_order",
            "create_stop_market_order",
            "create_reduce_only_order",
            "create_post_only_order",
            "create_trigger_order",
            "create_take_profit_order",
            "create_stop_loss_order",
            "create_market_order_with_cost",
            "create_market_buy_order_with_cost",
            "create_market_sell_order_with_cost",
            "create_order_with_take_profit_and_stop_loss",
        ),
        "fetch_my_trades": "trades",
        "fetch_balance": "balance",
        "fetch_positions": "positions",
        "fetch_funding_history": "funding",
    },
    camel_case_aliases=True,
    venue_attribute="id",
    private_result_keys=frozenset({"info"}),
)

SPECS = {spec.name: spec for spec in (GENERIC, CCXT)}


def is_ccxt_exchange(client: Any) -> bool:
    """Whether ``client`` is a ccxt exchange (sync or async), without importing ccxt."""
    return any(
        cls.__name__ == "Exchange" and cls.__module__.startswith("ccxt")
        for cls in type(client).__mro__
    )


def spec_for(client: Any, spec: ClientSpec | str | None = None) -> ClientSpec:
    """The spec to use: the one given (or named), else detected from the client's type."""
    if isinstance(spec, ClientSpec):
        return spec
    if isinstance(spec, str):
        try:
            return SPECS[spec]
        except KeyError:
            raise ValueError(f"unknown spec {spec!r}; known specs: {sorted(SPECS)}") from None
    return CCXT if is_ccxt_exchange(client) else GENERIC


_SNAKE = re.compile(r"_([a-z0-9])")


def camel_case(name: str) -> str:
    """``create_limit_order`` -> ``createLimitOrder`` (ccxt's alias naming)."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)
