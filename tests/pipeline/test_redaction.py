"""Redaction of sensitive keys, copying and cleaning of user values."""

from __future__ import annotations

import math
from decimal import Decimal
from enum import Enum

import pytest

from tradetrace import semconv as sc
from tradetrace.pipeline.redaction import (
    CYCLE_MARKER,
    DEPTH_MARKER,
    REDACTED,
    REPR_MARKER,
    Redactor,
)
from tradetrace.validation import InvalidRecordError

SENSITIVE = [
    "apiKey", "api_key", "API-KEY", "secret", "client_secret", "password", "passphrase",
    "privateKey", "private_key", "signature", "X-MBX-SIGNATURE", "token", "access_token",
    "Authorization", "auth", "cookie", "Set-Cookie", "mnemonic", "seed_phrase", "uid",
    "walletAddress", "twofa", "credentials",
]  # fmt: skip
INNOCENT = [
    "price", "size", "liquidity_index", "fluid", "symbol", "side", "keyboard_layout", "notes",
    sc.LEDGER_TOKEN, sc.LEDGER_INPUT_TOKEN, "status",
]  # fmt: skip


@pytest.mark.parametrize("key", SENSITIVE)
def test_sensitive_keys(key: str) -> None:
    assert Redactor().is_sensitive(key)


@pytest.mark.parametrize("key", INNOCENT)
def test_innocent_keys(key: str) -> None:
    assert not Redactor().is_sensitive(key)


def test_extra_patterns() -> None:
    assert Redactor(["account-number"]).is_sensitive("AccountNumber")


def test_clean_copies_redacts_and_converts() -> None:
    class Color(str, Enum):
        RED = "red"

    class Opaque:
        def __repr__(self) -> str:
            return "Opaque()"

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    source = {
        "nested": {"secret": "x", "ok": [1, 2.5, Decimal("1.10")]},
        "color": Color.RED,
        "tags": {"b", "a"},
        "obj": Opaque(),
        "bad": Hostile(),
        3: "int key",
    }
    cleaned = Redactor().clean(source)
    assert cleaned["nested"] == {"secret": REDACTED, "ok": [1, 2.5, Decimal("1.10")]}
    assert cleaned["color"] == "red" and type(cleaned["color"]) is str
    assert cleaned["tags"] == ["a", "b"]
    assert cleaned["obj"] == REPR_MARKER + "Opaque()"
    assert cleaned["bad"].startswith(REPR_MARKER + "<Hostile with failing __repr__")
    assert cleaned["3"] == "int key"
    source["nested"]["ok"].append(99)
    assert cleaned["nested"]["ok"] == [1, 2.5, Decimal("1.10")]


def test_cycles_and_depth_are_cut() -> None:
    cyclic: dict = {"a": 1}
    cyclic["self"] = cyclic
    assert Redactor(max_depth=4).clean(cyclic) == {"a": 1, "self": CYCLE_MARKER}
    nested: dict = {"a": 1}
    for _ in range(5):
        nested = {"inner": nested}
    cleaned = Redactor(max_depth=4).clean(nested)
    assert cleaned["inner"]["inner"]["inner"]["inner"] == DEPTH_MARKER


def test_non_finite_floats_are_refused_with_their_path() -> None:
    with pytest.raises(InvalidRecordError, match=r"snap\.a\[\]"):
        Redactor().clean({"a": [1.0, math.nan]}, "snap")


@pytest.mark.parametrize(
    ("text", "canary"),
    [
        ("GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=c4n4ry", "c4n4ry"),
        ('{"apiKey": "c4n4ry", "qty": 1}', "c4n4ry"),
        ("X-MBX-APIKEY: c4n4ry", "c4n4ry"),
        ("Authorization: Bearer c4n4ry.jwt", "c4n4ry"),
        ("password=c4n4ry uid=c4n4ry", "c4n4ry"),
        ("{'secret': 'c4n4ry'}", "c4n4ry"),
    ],
)
def test_secrets_are_scrubbed_from_free_text(text: str, canary: str) -> None:
    scrubbed = Redactor().scrub_text(text)
    assert canary not in scrubbed and REDACTED in scrubbed
    assert canary not in Redactor().clean({"message": text})["message"]


def test_innocent_text_is_untouched() -> None:
    for text in ("BTC/USDT:USDT", 'binance {"code":-2010,"msg":"insufficient balance"}', "a b"):
        assert Redactor().scrub_text(text) == text


def test_upper_case_tickers_are_not_credentials() -> None:
    balances = Redactor().clean({"KEY": 120.5, "TOKEN": 3, "AUTH": 1, "PASS": 2, "token": "x"})
    assert balances == {"KEY": 120.5, "TOKEN": 3, "AUTH": 1, "PASS": 2, "token": REDACTED}
