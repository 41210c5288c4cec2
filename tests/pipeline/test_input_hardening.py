"""Input hardening (issue #7): what each bad input gets.

Names used in file names are refused with an error naming the field; values no exporter can
write become marked ``repr`` text; long strings are cut with a marker; cyclic or deeply nested
containers are cut with a marker; and none of it ever stops the exporting worker.
"""

from __future__ import annotations

import csv
import re
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

import tradetrace as tt
from recording import flushed
from tradetrace import semconv as sc
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.pipeline.redaction import (
    CYCLE_MARKER,
    DEPTH_MARKER,
    REDACTED,
    REPR_MARKER,
    TRUNCATED_MARKER,
    Redactor,
)

MEGABYTE = 1_000_000
_CUT = re.compile(r"…<truncated: (\d+) more characters>\Z")


class WithRepr:
    def __repr__(self) -> str:
        return "WithRepr(42)"


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class NonStrRepr:
    def __repr__(self) -> Any:
        return 42


class HugeRepr:
    def __repr__(self) -> str:
        return "H" * MEGABYTE


class RaisingStrKey:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def assert_cut(value: str, original: str, limit: int = 65_536) -> None:
    """``value`` is ``original`` cut at ``limit``: a prefix plus the marker counting the rest."""
    match = _CUT.search(value)
    assert match is not None, value[-80:]
    kept = value[: match.start()]
    assert len(value) <= limit
    assert original.startswith(kept)
    assert len(kept) + int(match.group(1)) == len(original)


def cyclic_dict() -> dict[str, Any]:
    """A dict reachable from itself twice (``a`` and ``b``): exponential if expanded."""
    d: dict[str, Any] = {"level": 0}
    d["a"] = d
    d["b"] = d
    return d


def deep(levels: int) -> dict[str, Any]:
    nested: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        nested = {"n": nested}
    return nested


# --- names used in file names ------------------------------------------------------------

BAD_NAMES = ["a/b", "/etc", "a\\b", "..", "a..b", "../up", "a\x00b", "a\nb", "svc\n", "x" * 200]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_service_name_gets_value_error_naming_the_field(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^service_name="):
        tt.Recorder(service_name=name, exporters=("memory",), directory=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing was created


@pytest.mark.parametrize("name", [*BAD_NAMES, ""])
def test_bad_strategy_gets_value_error_naming_the_field(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^strategy="):
        tt.Recorder(service_name="ok", strategy=name, exporters=("memory",), directory=tmp_path)


def test_empty_service_name_gets_the_default_and_a_bad_env_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    rec = tt.Recorder(service_name="", exporters=("memory",), directory=tmp_path)
    assert rec.service_name == "tradetrace"  # documented fallback, not an error
    rec.shutdown(5)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "../escape")
    with pytest.raises(ValueError, match=r"^service_name='\.\./escape'"):
        tt.Recorder(exporters=("memory",), directory=tmp_path)


@pytest.mark.parametrize("bad", [0, 63, -1, 1.5e6, "65536", True, None])
def test_bad_max_string_length_gets_value_error(bad: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^max_string_length=.*int >= 64"):
        tt.Recorder(service_name="ok", exporters=(), directory=tmp_path, max_string_length=bad)


# --- values no exporter can write --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (WithRepr(), REPR_MARKER + "WithRepr(42)"),
        (RaisingRepr(), REPR_MARKER + "<RaisingRepr with failing __repr__: RuntimeError>"),
        (NonStrRepr(), REPR_MARKER + "<NonStrRepr with failing __repr__: TypeError>"),
        ({RaisingRepr()}, [REPR_MARKER + "<RaisingRepr with failing __repr__: RuntimeError>"]),
        ({RaisingStrKey(): 1}, {"<RaisingStrKey key with failing __str__: RuntimeError>": 1}),
        (object, REPR_MARKER + "<class 'object'>"),
    ],
    ids=["repr", "raising-repr", "non-str-repr", "set-of-raising-repr", "raising-str-key", "type"],
)
def test_unwritable_attribute_gets_marked_repr_and_the_record_is_exported(
    value: Any, expected: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    recorder.record_fill(symbol="BTC", side="buy", price=1, quantity=1, custom=value)
    recorder.record_event("X", snapshot={"thing": value})
    fill, event = flushed(recorder, memory)
    assert fill.attributes["custom"] == expected
    assert event.attributes[sc.LEDGER_WALLET_BALANCE_AFTER] == {"thing": expected}
    assert recorder.health()["internal_errors"] == {}


def test_a_huge_repr_gets_cut_and_a_secret_in_a_repr_gets_redacted() -> None:
    class Config:
        def __repr__(self) -> str:
            return "Config(api_key='c4n4ry', venue='x')"

    redactor = Redactor()
    assert_cut(redactor.clean(HugeRepr()), REPR_MARKER + "H" * MEGABYTE)
    assert redactor.clean(Config()) == REPR_MARKER + f"Config(api_key='{REDACTED}', venue='x')"


# --- cycles and depth --------------------------------------------------------------------


def test_cyclic_snapshot_gets_the_cycle_marker_fast(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    started = time.perf_counter()
    recorder.record_event("X", snapshot=cyclic_dict())
    recorder.record_decision("quote", inputs=cyclic_dict())
    assert time.perf_counter() - started < 1.0  # expanded, it would be 2**32 copies
    event, decision = flushed(recorder, memory)
    expected = {"level": 0, "a": CYCLE_MARKER, "b": CYCLE_MARKER}
    assert event.attributes[sc.LEDGER_WALLET_BALANCE_AFTER] == expected
    assert decision.attributes[sc.DECISION_INPUTS] == expected


def test_indirect_cycles_through_lists_and_tuples_get_the_cycle_marker() -> None:
    outer: dict[str, Any] = {"books": []}
    outer["books"].append({"parent": outer, "levels": (1, outer["books"])})
    cleaned = Redactor().clean(outer)
    assert cleaned == {"books": [{"parent": CYCLE_MARKER, "levels": [1, CYCLE_MARKER]}]}


def test_a_shared_sub_dict_that_is_not_a_cycle_is_copied_each_time() -> None:
    shared = {"qty": 1}
    cleaned = Redactor().clean({"a": shared, "b": shared, "c": [shared, shared]})
    assert cleaned == {"a": shared, "b": shared, "c": [shared, shared]}
    assert cleaned["a"] is not shared and cleaned["a"] is not cleaned["b"]


def test_a_40_level_snapshot_gets_cut_at_the_depth_limit(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    recorder.record_event("X", snapshot=deep(40))
    (event,) = flushed(recorder, memory)
    node = event.attributes[sc.LEDGER_WALLET_BALANCE_AFTER]
    for _ in range(32):  # the snapshot is level 0; level 32 is the first one cut
        assert isinstance(node, dict)
        node = node["n"]
    assert node == DEPTH_MARKER


# --- long strings ------------------------------------------------------------------------


def test_megabyte_strings_get_cut_with_the_marker(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    big = "x" * MEGABYTE
    spaced = "word " * (MEGABYTE // 5)  # the secret scrubber runs on it
    started = time.perf_counter()
    recorder.record_fill(symbol="BTC", side="buy", price=1, quantity=1, notes=big, blob=spaced)
    recorder.record_decision("quote", reason=big, inputs={"text": spaced, big: 1})
    recorder.record_risk_check("limit", passed=False, reason=big)
    recorder.record_error("E", exception=ValueError(big), recovery_action=big)
    recorder.record_error("F", message=big)
    seq = recorder.record_event("X")
    recorder.update_event(seq, "failed", reason=big)
    with pytest.raises(ValueError), recorder.span("work"):
        raise ValueError(spaced)
    assert time.perf_counter() - started < 5.0
    fill, decision, risk, error, message, _, update, span = flushed(recorder, memory)
    assert_cut(fill.attributes[sc.NOTES], big)
    assert_cut(fill.attributes["blob"], spaced)
    assert_cut(decision.attributes[sc.DECISION_REASON], big)
    ((key, _),) = [kv for kv in decision.attributes[sc.DECISION_INPUTS].items() if kv[1] == 1]
    assert_cut(key, big)
    assert_cut(decision.attributes[sc.DECISION_INPUTS]["text"], spaced)
    assert_cut(risk.attributes[sc.RISK_REASON], big)
    assert_cut(error.attributes[sc.EXCEPTION_MESSAGE], big)
    assert_cut(error.attributes[sc.ERROR_MESSAGE], big)
    assert_cut(error.attributes[sc.ERROR_RECOVERY_ACTION], big)
    assert len(error.attributes[sc.EXCEPTION_STACKTRACE]) <= 65_536
    assert _CUT.search(error.attributes[sc.EXCEPTION_STACKTRACE])
    assert_cut(message.attributes[sc.ERROR_MESSAGE], big)
    assert_cut(update.attributes[sc.EVENT_FAILURE_REASON], big)
    assert_cut(span.attributes[sc.EXCEPTION_MESSAGE], spaced)


def test_a_string_at_the_limit_is_kept_whole_and_one_over_is_cut_to_the_limit() -> None:
    redactor = Redactor(max_string_length=64)
    assert redactor.clean("y" * 64) == "y" * 64
    assert redactor.limit_text("y" * 64) == "y" * 64
    cut = redactor.limit_text("y" * 65)
    assert len(cut) == 64 and cut == "y" * 32 + TRUNCATED_MARKER.format(n=33)
    assert_cut(cut, "y" * 65, 64)


def test_a_secret_in_a_long_text_is_still_redacted_and_scrubbing_is_linear() -> None:
    redactor = Redactor()
    text = "GET /x?token=c4n4ry&q=" + "a" * MEGABYTE
    cleaned = redactor.limit_text(text)
    assert "c4n4ry" not in cleaned and REDACTED in cleaned
    assert cleaned.startswith(f"GET /x?token={REDACTED}&q=aaa") and len(cleaned) <= 65_536
    match = _CUT.search(cleaned)  # counts the original's characters past the part scrubbed
    assert match is not None and int(match.group(1)) == len(text) - match.start()
    started = time.perf_counter()  # one long word before a space: quadratic in a naive regex
    scrubbed = Redactor.scrub_text("w" * 200_000 + " password=c4n4ry")
    assert time.perf_counter() - started < 1.0
    assert scrubbed.endswith(f"password={REDACTED}")


# --- through real exporters --------------------------------------------------------------


@pytest.fixture
def big_csv_fields() -> Iterator[None]:
    previous = csv.field_size_limit(sys.maxsize)
    yield
    csv.field_size_limit(previous)


class Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("hostile")


class Liar:
    def __repr__(self) -> Any:
        return None


def test_bad_inputs_go_through_csv_and_json_lines_without_a_worker_crash(
    tmp_path: Path, big_csv_fields: None
) -> None:
    limit = 1_000
    rec = tt.Recorder(
        service_name="hardening",
        exporters=("csv", "jsonl"),
        directory=tmp_path,
        schedule_delay=0.01,
        max_string_length=limit,
    )
    big = "z" * MEGABYTE
    seqs = [
        rec.record_fill(symbol="BTC", side="buy", price=1, quantity=1, notes=big, odd=Hostile()),
        rec.record_decision("quote", inputs=cyclic_dict(), reason=big, liar=Liar()),
        rec.record_event("X", snapshot=cyclic_dict(), attached=WithRepr()),
        rec.record_event("Y", snapshot=deep(40), nested={"set": {Hostile(), Liar()}}),
        rec.record_risk_check("limit", passed=False, reason=big),
        rec.record_error("E", exception=ValueError(big), recovery_action=big),
    ]
    seqs.append(rec.update_event(seqs[2], "failed", reason=big))
    assert rec.shutdown(10)
    health = rec.health()
    assert health["internal_errors"] == {}
    assert all(e["exported"] == len(seqs) for e in health["exporters"].values()), health

    by_seq: dict[int, dict[str, Any]] = {}
    for path in (tmp_path / "json").glob("*.jsonl"):
        if not path.name.endswith("_runs.jsonl"):
            for line in path.read_bytes().splitlines():
                item = orjson.loads(line)
                by_seq[item["seq"]] = item["attributes"]
    assert sorted(by_seq) == seqs
    fill, decision, event, nested, risk, error, update = (by_seq[s] for s in seqs)
    assert_cut(fill[sc.NOTES], big, limit)
    assert fill["odd"] == REPR_MARKER + "<Hostile with failing __repr__: RuntimeError>"
    assert decision[sc.DECISION_INPUTS] == {"level": 0, "a": CYCLE_MARKER, "b": CYCLE_MARKER}
    assert decision["liar"] == REPR_MARKER + "<Liar with failing __repr__: TypeError>"
    assert_cut(decision[sc.DECISION_REASON], big, limit)
    assert event[sc.LEDGER_WALLET_BALANCE_AFTER]["a"] == CYCLE_MARKER
    assert event["attached"] == REPR_MARKER + "WithRepr(42)"
    assert DEPTH_MARKER in orjson.dumps(nested[sc.LEDGER_WALLET_BALANCE_AFTER]).decode()
    assert len(nested["nested"]["set"]) == 2
    assert_cut(risk[sc.RISK_REASON], big, limit)
    assert_cut(error[sc.EXCEPTION_MESSAGE], big, limit)
    assert_cut(error[sc.ERROR_RECOVERY_ACTION], big, limit)
    assert_cut(update[sc.EVENT_FAILURE_REASON], big, limit)

    rows: dict[int, dict[str, str]] = {}
    for path in (tmp_path / "csv").glob("*.csv"):
        if not path.name.endswith("_runs.csv"):
            with open(path, newline="", encoding="utf-8") as file:
                rows.update({int(row["seq"]): row for row in csv.DictReader(file)})
    assert sorted(rows) == seqs
    for seq in seqs:
        text = "".join(rows[seq].values())
        assert big not in text and "z" * (limit + 1) not in text
    assert "more characters>" in rows[seqs[0]]["notes"]
    assert CYCLE_MARKER in "".join(rows[seqs[1]].values())


def test_a_decimal_nan_or_infinity_is_refused_like_a_float_one(recorder: tt.Recorder) -> None:
    """Found by the round-trip property test: ``Decimal('NaN')`` passed where ``nan`` did not."""
    for bad in (Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN")):
        with pytest.raises(tt.InvalidRecordError, match="memo"):
            recorder.record_fill(symbol="BTC-USDT", side="buy", price=1, quantity=1, memo=bad)
        with pytest.raises(tt.InvalidRecordError, match="inputs"):
            recorder.record_decision("quote", inputs={"edge": [bad]})
    seq = recorder.record_fill(symbol="BTC-USDT", side="buy", price=1, quantity=1, memo="ok")
    assert seq == 1  # the refused calls took no seq
