"""A local fake Binance (examples/fake_exchange.py, shared with the example) and real ccxt
exchanges pointed at it: ccxt's own HTTP, signing and error handling run, offline."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tradetrace as tt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: Every credential ccxt knows, each a canary that must never appear in anything exported.
CREDENTIALS = {
    "apiKey": "CANARY-KEY-123",
    "secret": "CANARY-SECRET-456",
    "password": "CANARY-PASS",
    "uid": "CANARY-UID",
    "privateKey": "CANARY-PK",
    "walletAddress": "CANARY-WALLET",
    "token": "CANARY-TOKEN",
}


def _load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (not a package) as module ``name``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


fake_exchange = _load_example("fake_exchange")
FakeBinance = fake_exchange.FakeBinance


@pytest.fixture
def credentials() -> dict[str, str]:
    return dict(CREDENTIALS)


@pytest.fixture
def fake_binance() -> Iterator[Any]:
    """A running fake Binance that checks the canary API key and HMAC signatures."""
    with FakeBinance(api_key=CREDENTIALS["apiKey"], secret=CREDENTIALS["secret"]) as server:
        yield server


@pytest.fixture
def make_exchange(fake_binance: Any) -> Iterator[Callable[..., Any]]:
    """``make_exchange()`` -> a real ``ccxt.binance`` pointed at the fake (``asynchronous=True``:
    ``ccxt.async_support.binance``, which the test must ``await close()``), with the canary
    credentials and no client-side throttling; extra keywords go to ccxt's config."""
    import ccxt
    import ccxt.async_support

    built: list[Any] = []

    def make(asynchronous: bool = False, **config: Any) -> Any:
        module = ccxt.async_support if asynchronous else ccxt
        exchange = module.binance({**CREDENTIALS, "enableRateLimit": False, **config})
        if not asynchronous:
            built.append(exchange)
        return fake_binance.point(exchange)

    yield make
    for exchange in built:
        exchange.close()


@pytest.fixture
def binance(make_exchange: Callable[..., Any]) -> Any:
    """A sync ``ccxt.binance`` pointed at the fake, markets loaded over HTTP."""
    exchange = make_exchange()
    exchange.load_markets()
    return exchange


@pytest.fixture
def rec(recorder: tt.Recorder) -> tt.Recorder:
    """The root conftest's explicit Recorder (memory exporter), under the name these tests use."""
    return recorder
