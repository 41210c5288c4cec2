"""Property tests: any value round-trips through CSV, JSON Lines, DuckDB and Parquet unchanged,
or is refused with a clear error; 0 worker crashes; spool and memory modes write the same bytes.

Values: Unicode text (formula characters ``= + - @``, tab, CR, NUL, newlines, lone surrogates,
emoji, right-to-left text), Decimals with up to 18 places and beyond, ints beyond 64 bits,
floats up to their limits, nested snapshots. Documented exceptions, asserted exactly:

* a lone surrogate is written as ``\\udcXX`` text (every format);
* a CSV text cell starting with ``= + - @``, tab or CR gets a leading ``'`` in the file, which
  the query layer removes again (so text that itself starts with ``'=`` reads back without its
  ``'``), and an empty string in a CSV cell reads back as NULL;
* a number too wide for DECIMAL(38,18) is NULL in its column and exact in ``exact_text``.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.pipeline.redaction import Redactor
from tradetrace.query.source import open_source

T0 = 1_715_515_200_000_000_000  # 2024-05-12T12:00:00Z
RUN_ID = "roundtrip-1"
SERVICE = "rt"
FORMATS = ("duckdb", "parquet", "jsonl", "csv")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_REDACTOR = Redactor()
_EXACT = Context(prec=100)
_QUANTUM = Decimal(1).scaleb(-18)
_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- values --------------------------------------------------------------------------------

SPECIAL = "=+-@\t\r\n\x00'\",;\\ 😀🚀\u202e\u200f\u0627\u05d0"
CHARACTERS = st.one_of(
    st.sampled_from(SPECIAL),
    st.sampled_from(SPECIAL),
    st.characters(categories=["Cs"]),  # lone surrogates
    st.characters(codec=None),
    st.characters(codec=None),
)


def _unscrubbed(text: str) -> bool:
    """Text that redaction leaves alone (``token=...`` is scrubbed on purpose: no secrets out)."""
    return Redactor.scrub_text(text) == text


texts = st.text(CHARACTERS, max_size=12).filter(_unscrubbed)
required_texts = st.text(CHARACTERS, min_size=1, max_size=12).filter(_unscrubbed)


def _plain_key(key: str) -> bool:
    r"""Keys kept as they are: not sensitive (redacted), no backslash (``"\udc80"`` and
    ``"\\udc80"`` are both written ``\udc80``), not a decision result's spread columns."""
    return (
        "\\" not in key
        and not _REDACTOR.is_sensitive(key)
        and key not in ("bid_spread", "ask_spread")
    )


keys = st.text(CHARACTERS, max_size=8).filter(_plain_key)


@st.composite
def decimals(draw: st.DrawFn) -> Decimal:
    """Up to 18 places (sometimes more), up to 10**25 (sometimes an exponent), either sign."""
    digits = draw(st.one_of(st.integers(0, 10**6), st.integers(0, 10**25)))
    places = draw(st.one_of(st.integers(-3, 18), st.integers(-3, 18), st.integers(19, 24)))
    sign = draw(st.integers(0, 1))
    return Decimal((sign, tuple(int(c) for c in str(digits)), -places))


EDGE_INTS = (2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**20 - 1, 10**20)
ints = st.one_of(
    st.integers(-(10**6), 10**6),
    st.integers(-(10**30), 10**30),
    st.sampled_from(EDGE_INTS),
    st.sampled_from(EDGE_INTS).map(lambda i: -i),
)
floats = st.floats(allow_nan=False, allow_infinity=False)
decimal_strings = st.builds(lambda d, pad: f"{pad}{d}{pad}", decimals(), st.sampled_from(["", " "]))
numbers = st.one_of(decimals(), ints, floats, decimal_strings)


def exact(value: Any) -> Decimal:
    """The number a value denotes (a float by its shortest repr, text as Decimal does)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return Decimal(value.strip())
    return Decimal(value)


positive_numbers = numbers.filter(lambda v: exact(v) > 0)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, decimals(), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=5,
)
snapshots = st.dictionaries(keys, json_values, max_size=3)


def safe(text: str) -> str:
    """Documented: a lone surrogate is written as ``\\udcXX`` text."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def as_json(value: Any) -> Any:
    """What a value reads back as from JSON: Decimals and ints beyond 64 bits as exact text."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, str):
        return safe(value)
    if isinstance(value, dict):
        return {safe(k): as_json(v) for k, v in value.items()}
    return [as_json(v) for v in value]


def recorded(value: Any) -> Any:
    """What the explicit API keeps of a number: decimal text becomes a Decimal."""
    return Decimal(value.strip()) if isinstance(value, str) else value


def fits(number: Decimal) -> bool:
    """Whether DECIMAL(38,18) holds ``number`` exactly."""
    if not number:
        return True
    if number.adjusted() >= 20:
        return False
    return number.quantize(_QUANTUM, context=_EXACT) == number


def number_text(value: Any) -> str:
    """A number as the CSV exporter writes it: Decimals digit for digit, floats by repr."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return repr(value) if isinstance(value, float) else str(value)


def csv_file_text(text: str) -> str:
    """Documented: a CSV cell starting with a formula character gets a leading ``'``."""
    return safe("'" + text if text.startswith(FORMULA_PREFIXES) else text)


def text_out(text: str | None, format_: str) -> str | None:
    """A text column as the query layer reads it back from ``format_``."""
    if text is None:
        return None
    value = safe(text)
    if format_ == "csv":
        if value == "":
            return None  # documented: CSV cannot tell an empty string from a missing one
        if re.match(r"'[=+\-@\t\r]", value):
            return value[1:]  # documented: '=x written as is reads back as =x
    return value


# --- operations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    symbol: str
    side: str
    price: Any
    quantity: Any
    fee: Any
    notes: str | None
    order_id: str | None
    memo: Any  # a custom attribute (None: absent)
    extra: tuple[tuple[str, Any], ...] = ()  # semconv columns given as keywords

    def call(self, rec: tt.Recorder) -> int:
        more = dict(self.extra)
        if self.memo is not None:
            more["memo"] = self.memo
        return rec.record_fill(
            symbol=self.symbol, side=self.side, price=self.price, quantity=self.quantity,
            fee=self.fee, notes=self.notes, order_id=self.order_id, **more,
        )  # fmt: skip


@dataclass(frozen=True)
class Event:
    event_type: str
    amount: Any
    venue: str | None
    snapshot: Any
    status: str | None
    extra: tuple[tuple[str, Any], ...] = ()

    def call(self, rec: tt.Recorder) -> int:
        return rec.record_event(
            self.event_type, amount=self.amount, venue=self.venue, snapshot=self.snapshot,
            status=self.status, **dict(self.extra),
        )  # fmt: skip


@dataclass(frozen=True)
class Decision:
    name: str
    inputs: Any
    result: Any
    reason: str | None

    def call(self, rec: tt.Recorder) -> int:
        return rec.record_decision(
            self.name, inputs=self.inputs, result=self.result, reason=self.reason
        )


@dataclass(frozen=True)
class Refused:
    """A call the API must refuse with InvalidRecordError naming ``field``."""

    field: str
    call: Callable[[tt.Recorder], int]
    label: str

    def __repr__(self) -> str:
        return f"Refused({self.label})"


Op = Fill | Event | Decision | Refused
STATUSES = ("pending", "submitted", "confirmed", "completed", "failed", "cancelled")
SIDES = ("BUY", "buy", "SELL", "sell")


NO_EXTRA: st.SearchStrategy[tuple[tuple[str, Any], ...]] = st.just(())


def fills(extra: st.SearchStrategy[Any] = NO_EXTRA) -> st.SearchStrategy[Fill]:
    return st.builds(
        Fill, required_texts, st.sampled_from(SIDES), numbers, positive_numbers,
        st.none() | numbers, st.none() | texts, st.none() | texts, st.none() | json_values,
        extra,
    )  # fmt: skip


def events(
    pool: list[dict[str, Any]], extra: st.SearchStrategy[Any] = NO_EXTRA
) -> st.SearchStrategy[Event]:
    return st.builds(
        Event, required_texts, st.none() | numbers, st.none() | texts,
        st.none() | st.sampled_from(pool), st.none() | st.sampled_from(STATUSES), extra,
    )  # fmt: skip


decisions = st.builds(
    Decision, required_texts, st.none() | st.dictionaries(keys, json_values, max_size=3),
    st.none() | json_values, st.none() | texts,
)  # fmt: skip

NOT_FINITE = (float("nan"), float("inf"), float("-inf"), Decimal("NaN"), Decimal("-Infinity"))


def refusals(pool: list[dict[str, Any]]) -> st.SearchStrategy[Refused]:
    """Calls the explicit API refuses, each naming its field."""

    def fill(**kwargs: Any) -> Callable[[tt.Recorder], int]:
        arguments = {"symbol": "BTC-USDT", "side": "BUY", "price": "1", "quantity": "1"}
        arguments.update(kwargs)
        return lambda rec: rec.record_fill(**arguments)

    def event(**kwargs: Any) -> Callable[[tt.Recorder], int]:
        return lambda rec: rec.record_event("DEPOSIT", **kwargs)

    bad_numbers = st.sampled_from([*NOT_FINITE, "nan", "Infinity", "abc", "", "1e", True])
    nested_nan = st.sampled_from(
        [float("nan"), [1, float("inf")], {"x": float("-inf")}, Decimal("NaN"),
         [Decimal("Infinity")], {"x": Decimal("sNaN")}]
    )  # fmt: skip
    return st.one_of(
        bad_numbers.map(lambda v: Refused("price", fill(price=v), f"price={v!r}")),
        st.sampled_from([0, -1, Decimal("-0.5"), 0.0, "-3", *NOT_FINITE]).map(
            lambda v: Refused("quantity", fill(quantity=v), f"quantity={v!r}")
        ),
        st.sampled_from(["", None, 1.5]).map(
            lambda v: Refused("symbol", fill(symbol=v), f"symbol={v!r}")
        ),
        st.sampled_from(["HOLD", "", None, 1, "Buy"]).map(
            lambda v: Refused("side", fill(side=v), f"side={v!r}")
        ),
        nested_nan.map(lambda v: Refused("memo", fill(memo=v), f"memo={v!r}")),
        nested_nan.map(
            lambda v: Refused("snapshot", event(snapshot={"w": v}), f"snapshot={{'w': {v!r}}}")
        ),
        bad_numbers.map(lambda v: Refused("amount", event(amount=v), f"amount={v!r}")),
        st.sampled_from(["done", "", 3]).map(
            lambda v: Refused("status", event(status=v), f"status={v!r}")
        ),
        # a refused event whose snapshot the run has seen or will see again
        st.sampled_from(pool).map(
            lambda s: Refused(
                "severity", event(snapshot=s, severity="LOUD"), f"severity='LOUD', snapshot={s!r}"
            )
        ),
        st.sampled_from([[1, 2], "x=1", 5]).map(
            lambda v: Refused(
                "inputs", lambda rec: rec.record_decision("d", inputs=v), f"inputs={v!r}"
            )
        ),
    )


@st.composite
def sessions(draw: st.DrawFn) -> list[Op]:
    pool = draw(st.lists(snapshots, min_size=1, max_size=2))
    ops = [
        *draw(st.lists(fills(), min_size=1, max_size=2)),
        *draw(st.lists(events(pool), max_size=2)),
        *draw(st.lists(decisions, max_size=2)),
        *draw(st.lists(refusals(pool), max_size=2)),
    ]
    return draw(st.permutations(ops))


# --- running and reading back --------------------------------------------------------------


Written = dict[int, tuple[Op, int]]  # seq -> (operation, its event time)


def play(rec: tt.Recorder, clock: tt.SimulatedClock, session: list[Op]) -> Written:
    """Run the session; every refusal must name its field and take no seq."""
    written: Written = {}
    last = 0
    for op in session:
        clock.advance(1_000)
        if isinstance(op, Refused):
            with pytest.raises(tt.InvalidRecordError) as refused:
                op.call(rec)
            error = refused.value
            assert error.field == op.field or error.field.startswith(
                (op.field + ".", op.field + "[")
            ), (op, error.field)
            assert str(error).startswith(f"{error.field}="), str(error)
            continue
        seq = op.call(rec)
        assert seq == last + 1, f"seq gap: {seq} after {last}"
        last = seq
        written[seq] = (op, clock.now_ns())
    return written


def check_health(rec: tt.Recorder) -> None:
    """0 worker crashes, nothing failed, nothing dropped."""
    health = rec.health()
    assert health["internal_errors"] == {}, health["internal_errors"]
    assert health["dropped"] == 0
    for name, counters in health["exporters"].items():
        assert counters["failed"] == 0 and counters["dropped"] == 0, (name, counters)


@contextmanager
def recorder(durability: str, **settings_: Any) -> Iterator[tuple[tt.Recorder, Path]]:
    """A Recorder over a fresh directory; shut down (idempotent) whatever happens."""
    with tempfile.TemporaryDirectory() as tmp:
        rec = tt.Recorder(
            service_name=SERVICE, directory=tmp, durability=durability, handle_signals=False,
            schedule_delay=0.01, spool_sync="none", **settings_,
        )  # fmt: skip
        try:
            yield rec, Path(tmp)
        finally:
            rec.shutdown(10)


RECORD_SQL = """
SELECT seq, kind, name, time_ns, observed_ns, symbol, side, price, size, fee, notes, order_id,
  event_type, amount, venue, status, decision_type, parameters, result, reason, attributes,
  exact_text
FROM records ORDER BY seq
"""


def read_back(directory: Path, format_: str) -> tuple[list[dict[str, Any]], dict[int, Any]]:
    """Every record (``records`` view) and every event's snapshot (``events`` view)."""
    with open_source(directory, format=format_) as source:
        relation = tt.query(RECORD_SQL, source)
        rows = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
        snapshots_ = tt.query("SELECT seq, wallet_balance_after FROM events", source).fetchall()
    return rows, dict(snapshots_)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def check_number(row: dict[str, Any], column: str, value: Any) -> None:
    """Digit for digit: in its DECIMAL column when it fits, else in ``exact_text``."""
    wide = loads(row["exact_text"]) or {}
    if value is None:
        assert row[column] is None and column not in wide, (column, row[column])
        return
    number = exact(value)
    if fits(number):
        assert isinstance(row[column], Decimal), (column, row[column], value)
        assert row[column] == number, (column, row[column], value)
        assert column not in wide, (column, wide)
    else:
        assert row[column] is None, (column, row[column], value)
        assert wide.get(column) == format(number, "f"), (column, wide, value)


def check_row(row: dict[str, Any], op: Op, time_ns: int, snapshot: Any, format_: str) -> None:
    """One record as the query layer reads it back from ``format_``."""
    assert row["time_ns"] == time_ns and type(row["time_ns"]) is int
    assert type(row["observed_ns"]) is int
    if isinstance(op, Fill):
        assert (row["kind"], row["name"]) == ("fill", "fill")
        assert row["symbol"] == text_out(op.symbol, format_), ("symbol", row["symbol"])
        assert row["side"] == op.side.upper(), ("side", row["side"])
        check_number(row, "price", op.price)
        check_number(row, "size", op.quantity)
        check_number(row, "fee", op.fee)
        assert row["notes"] == text_out(op.notes, format_), ("notes", row["notes"])
        assert row["order_id"] == text_out(op.order_id, format_), ("order_id", row["order_id"])
        memo = None if op.memo is None else {"memo": as_json(op.memo)}
        assert loads(row["attributes"]) == memo, ("attributes", row["attributes"])
    elif isinstance(op, Event):
        assert row["kind"] == "event"
        assert row["name"] == row["event_type"] == text_out(op.event_type, format_), (
            "event_type", row["name"], row["event_type"]
        )  # fmt: skip
        check_number(row, "amount", op.amount)
        assert row["venue"] == text_out(op.venue, format_), ("venue", row["venue"])
        assert row["status"] == (op.status or "pending"), ("status", row["status"])
        expected = None if op.snapshot is None else as_json(op.snapshot)
        assert loads(snapshot) == expected, ("snapshot (events view)", snapshot)
        assert row["attributes"] is None, ("attributes", row["attributes"])
    else:
        assert isinstance(op, Decision)
        assert row["kind"] == "decision"
        assert row["name"] == row["decision_type"] == text_out(op.name, format_), (
            "decision_type", row["name"], row["decision_type"]
        )  # fmt: skip
        inputs = None if op.inputs is None else as_json(op.inputs)
        assert loads(row["parameters"]) == inputs, ("parameters", row["parameters"])
        result = None if op.result is None else as_json(op.result)
        assert loads(row["result"]) == result, ("result", row["result"])
        assert row["reason"] == text_out(op.reason, format_), ("reason", row["reason"])
        assert row["attributes"] is None, ("attributes", row["attributes"])


def record_files(folder: Path, suffix: str) -> list[Path]:
    return [p for p in sorted(folder.glob(f"{SERVICE}_*{suffix}")) if "_runs" not in p.name]


def check_csv_files(directory: Path, written: Written) -> None:
    """The CSV files as the csv module reads them: exact cells, formula cells neutralised."""
    rows: dict[int, dict[str, str]] = {}
    for path in record_files(directory / "csv", ".csv"):
        with open(path, newline="", encoding="utf-8") as file:
            for row in csv.DictReader(file):
                assert int(row["seq"]) not in rows, f"seq {row['seq']} written twice"
                rows[int(row["seq"])] = row
    assert sorted(rows) == sorted(written)

    def cell(text: str | None) -> str:
        return "" if text is None else csv_file_text(text)

    def number(value: Any) -> str:
        return "" if value is None else number_text(recorded(value))

    for seq, (op, time_ns) in written.items():
        row = rows[seq]
        assert row["time_ns"] == str(time_ns) and row["run_id"] == RUN_ID
        if isinstance(op, Fill):
            assert row["symbol"] == cell(op.symbol) and row["side"] == op.side.upper()
            assert (row["price"], row["size"], row["fee"]) == (
                number(op.price), number(op.quantity), number(op.fee)
            )  # fmt: skip
            assert (row["notes"], row["order_id"]) == (cell(op.notes), cell(op.order_id))
            memo = "" if op.memo is None else {"memo": as_json(op.memo)}
            assert (json.loads(row["attributes"]) if row["attributes"] else "") == memo
        elif isinstance(op, Event):
            assert row["event_type"] == row["name"] == cell(op.event_type)
            assert (row["amount"], row["venue"]) == (number(op.amount), cell(op.venue))
            assert row["status"] == (op.status or "pending")
        elif isinstance(op, Decision):
            assert row["decision_type"] == row["name"] == cell(op.name)
            assert row["reason"] == cell(op.reason)
            if op.inputs is not None:
                assert json.loads(row["parameters"]) == as_json(op.inputs)
            if isinstance(op.result, dict | list):
                assert json.loads(row["result"]) == as_json(op.result)


def check_jsonl_files(directory: Path, written: Written) -> None:
    """The JSON Lines files as orjson reads them: every field, exact numbers as text."""
    objects: dict[int, dict[str, Any]] = {}
    for path in record_files(directory / "json", ".jsonl"):
        for line in path.read_bytes().splitlines():
            item = orjson.loads(line)
            assert item["seq"] not in objects, f"seq {item['seq']} written twice"
            objects[item["seq"]] = item
    assert sorted(objects) == sorted(written)

    def number(value: Any) -> Any:
        return None if value is None else as_json(recorded(value))

    def text(value: str | None) -> str | None:
        return None if value is None else safe(value)

    for seq, (op, time_ns) in written.items():
        item = objects[seq]
        a = item["attributes"]
        assert item["time_ns"] == time_ns and type(item["observed_ns"]) is int
        assert item["run_id"] == RUN_ID
        if isinstance(op, Fill):
            assert a[sc.SYMBOL] == safe(op.symbol) and a[sc.ORDER_SIDE] == op.side.upper()
            assert (a[sc.FILL_PRICE], a[sc.FILL_QUANTITY], a.get(sc.FEE_AMOUNT)) == (
                number(op.price), number(op.quantity), number(op.fee)
            )  # fmt: skip
            assert (a.get(sc.NOTES), a.get(sc.ORDER_ID)) == (text(op.notes), text(op.order_id))
            assert a.get("memo") == (None if op.memo is None else as_json(op.memo))
        elif isinstance(op, Event):
            assert item["name"] == a[sc.EVENT_TYPE] == safe(op.event_type)
            assert a.get(sc.LEDGER_AMOUNT) == number(op.amount)
            assert a.get(sc.LEDGER_VENUE) == text(op.venue)
            assert item["status"] == (op.status or "pending")
            if sc.LEDGER_WALLET_BALANCE_AFTER in a:
                assert a[sc.LEDGER_WALLET_BALANCE_AFTER] == as_json(op.snapshot)
            else:  # a repeated snapshot is written once per run, then named by its id
                assert (op.snapshot is None) is (sc.LEDGER_SNAPSHOT_ID not in a)
        elif isinstance(op, Decision):
            assert item["name"] == a[sc.DECISION_TYPE] == safe(op.name)
            assert a.get(sc.DECISION_INPUTS) == (None if op.inputs is None else as_json(op.inputs))
            assert a.get(sc.DECISION_RESULT) == (None if op.result is None else as_json(op.result))
            assert a.get(sc.DECISION_REASON) == text(op.reason)


# --- the properties ------------------------------------------------------------------------

EXAMPLES = {"memory": 0, "spool": 0, "deterministic": 0}  # examples run, printed at the end


@pytest.fixture(scope="module", autouse=True)
def _print_examples() -> Iterator[None]:
    yield
    print(f"\nround-trip property examples run: {EXAMPLES}")


@settings(_SETTINGS, max_examples=40)
@given(session=sessions(), durability=st.sampled_from(["memory", "spool"]))
def test_values_round_trip_through_every_exporter_or_are_refused(
    session: list[Op], durability: str
) -> None:
    clock = tt.SimulatedClock(T0)
    with recorder(
        durability, exporters=("csv", "jsonl", "duckdb", "parquet"), clock=clock,
        run_id=RUN_ID, snapshot_dedupe_bytes=32,
    ) as (rec, directory):  # fmt: skip
        written = play(rec, clock, session)
        assert rec.shutdown(10), "shutdown did not deliver everything"
        check_health(rec)
        check_csv_files(directory, written)
        check_jsonl_files(directory, written)
        for format_ in FORMATS if written else ():  # no Parquet file without a record
            rows, snapshots_ = read_back(directory, format_)
            assert [row["seq"] for row in rows] == sorted(written), format_  # no gap, no repeat
            for row in rows:
                op, time_ns = written[row["seq"]]
                try:
                    check_row(row, op, time_ns, snapshots_.get(row["seq"]), format_)
                except AssertionError as failure:
                    raise AssertionError(f"{format_}, seq {row['seq']}: {failure}") from None
    EXAMPLES[durability] += 1


# --- spool mode and memory mode write the same bytes ---------------------------------------


@dataclass(frozen=True)
class Block:
    """A span, or a bundle, around other operations."""

    name: str
    bundle: bool
    children: tuple[Op | Update, ...]


@dataclass(frozen=True)
class Update:
    """A lifecycle update of the latest event that may still move to ``status``."""

    status: str
    reason: str | None


Step = Op | Update | Block
HOUR_NS = 3_600 * 10**9
EVENT_COLUMNS = ("tx_hash", "chain", "purpose", "block_number", "gas_units", "iteration")
column_values = st.one_of(ints, floats, decimals(), texts, st.booleans())


def extras(columns: tuple[str, ...], size: int) -> st.SearchStrategy[tuple[tuple[str, Any], ...]]:
    """Semconv columns given as keywords, with values of any type (not only the column's)."""
    pairs = st.tuples(st.sampled_from(columns), column_values)
    return st.lists(pairs, max_size=size, unique_by=lambda pair: pair[0]).map(tuple)


@st.composite
def backtests(draw: st.DrawFn) -> list[Step]:
    pool = draw(st.lists(snapshots, min_size=1, max_size=2))
    leaf = st.one_of(
        fills(extras(("time_in_force",), 1)), events(pool, extras(EVENT_COLUMNS, 3)), decisions,
        refusals(pool), st.builds(Update, st.sampled_from(STATUSES), st.none() | texts),
    )  # fmt: skip
    block = st.builds(Block, required_texts, st.booleans(), st.lists(leaf, max_size=3).map(tuple))
    return draw(st.lists(st.one_of(leaf, block), min_size=1, max_size=8))


def run_backtest(rec: tt.Recorder, clock: tt.SimulatedClock, steps: list[Step]) -> None:
    events_: list[int] = []
    for step in steps:
        clock.advance(7 * HOUR_NS + 1)  # crosses UTC days: several daily files
        if isinstance(step, Block):
            opened = rec.bundle(step.name) if step.bundle else rec.span(step.name)
            with opened:
                run_backtest(rec, clock, list(step.children))
        elif isinstance(step, Update):
            for seq in reversed(events_):
                now = tt.semconv.Status(rec.event_status(seq))
                if tt.semconv.Status(step.status) in tt.semconv.STATUS_TRANSITIONS[now]:
                    rec.update_event(seq, step.status, reason=step.reason)
                    break
        elif isinstance(step, Refused):
            with pytest.raises(tt.InvalidRecordError):
                step.call(rec)
        else:
            seq = step.call(rec)
            if isinstance(step, Event):
                events_.append(seq)


def written_files(directory: Path) -> dict[str, bytes]:
    """The CSV and JSON Lines files (not the runs files: they name the start time and pid)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for folder in ("csv", "json")
        for path in sorted((directory / folder).glob("*"))
        if "_runs." not in path.name
    }


def first_difference(left: bytes, right: bytes) -> str:
    for a, b in zip(left.splitlines(), right.splitlines(), strict=False):
        if a != b:
            return f"\nmemory: {a!r}\nspool:  {b!r}"
    return f"\nlengths {len(left)} and {len(right)}"


@settings(_SETTINGS, max_examples=30)
@example(
    steps=[
        Fill(
            "BTC-USDT", "BUY", "1", "1", None, None, None, None, (("time_in_force", Decimal(-1)),)
        ),
        Event("DEPOSIT", None, None, None, None, (("block_number", -(2**70)),)),
    ]
)
@given(steps=backtests())
def test_spool_and_memory_modes_write_identical_csv_and_jsonl_files(steps: list[Step]) -> None:
    files = {}
    for durability in ("memory", "spool"):
        clock = tt.SimulatedClock(T0)
        with recorder(
            durability, exporters=("csv", "jsonl"), clock=clock, run_id=RUN_ID, mode="backtest",
            deterministic=True, snapshot_dedupe_bytes=32,
        ) as (rec, directory):  # fmt: skip
            run_backtest(rec, clock, steps)
            assert rec.shutdown(10), f"{durability}: shutdown did not deliver everything"
            check_health(rec)
            files[durability] = written_files(directory)
    memory, spool = files["memory"], files["spool"]
    assert sorted(memory) == sorted(spool)
    for name, content in memory.items():
        assert content == spool[name], name + first_difference(content, spool[name])
    EXAMPLES["deterministic"] += 1


# --- minimal reproductions of what the properties found ------------------------------------


def test_a_refused_event_does_not_swallow_its_snapshot() -> None:
    """``record_event`` stores a large snapshot once per run and later events name it by id;
    a call refused after its snapshot was taken (a bad severity here) must not count as the
    one that stored it, or the content is written nowhere."""
    snapshot = {"wallet": {"USDT": "1000.5"}, "padding": "x" * 40}
    with recorder("memory", exporters=("jsonl",), snapshot_dedupe_bytes=32) as (rec, directory):
        with pytest.raises(tt.InvalidRecordError, match=r"^severity="):
            rec.record_event("DEPOSIT", snapshot=snapshot, severity="LOUD")
        seq = rec.record_event("DEPOSIT", snapshot=snapshot)
        assert seq == 1
        assert rec.shutdown(10)
        with open_source(directory) as source:
            stored = source.sql("SELECT wallet_balance_after FROM events").fetchall()
    assert [loads(value) for (value,) in stored] == [snapshot]


@pytest.mark.parametrize(
    "result", ["123", "true", Decimal("1.5"), Decimal("-1.944E-18"), -(2**64) + 1]
)
def test_a_scalar_decision_result_reads_back_the_same_from_csv_as_from_jsonl(result: Any) -> None:
    """A decision result that is a string, a Decimal or a wide int reads back unchanged."""
    with recorder("memory", exporters=("csv", "jsonl")) as (rec, directory):
        rec.record_decision("quote", result=result)
        assert rec.shutdown(10)
        read = {}
        for format_ in ("jsonl", "csv"):
            with open_source(directory, format=format_) as source:
                ((read[format_],),) = source.sql("SELECT result FROM decisions").fetchall()
    assert loads(read["jsonl"]) == as_json(result)
    assert loads(read["csv"]) == as_json(result), f"CSV reads {read['csv']!r}"


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN"), float("nan")], ids=repr
)
@pytest.mark.parametrize("where", ["custom attribute", "snapshot", "semconv attribute"])
def test_a_non_finite_decimal_is_refused_like_a_non_finite_float(value: Any, where: str) -> None:
    """DESIGN.md, exact numbers: NaN and infinities are refused with a clear error at the
    explicit API, wherever they are given."""
    with recorder("memory", exporters=("memory",)) as (rec, _):
        with pytest.raises(tt.InvalidRecordError) as refused:
            if where == "custom attribute":
                rec.record_fill(symbol="X", side="BUY", price=1, quantity=1, memo={"x": value})
            elif where == "snapshot":
                rec.record_event("DEPOSIT", snapshot={"wallet": {"USDT": value}})
            else:
                rec.record_event("DEPOSIT", tx_hash=value)
        assert refused.value.field.split(".")[0] in ("memo", "snapshot", "tx_hash")
        assert rec.record_fill(symbol="X", side="BUY", price=1, quantity=1) == 1  # no seq taken


BAD_SETTINGS = [
    ("durability", {"durability": "disk"}),
    ("mode", {"mode": "paper"}),
    ("service_name", {"service_name": "../escape"}),
    ("event_buffer_size", {"event_buffer_size": 0}),
    ("max_string_length", {"max_string_length": 10}),
    ("deterministic", {"deterministic": True}),
    ("overflow", {"overflow": "drop_oldest"}),
    ("queue_size", {"queue_size": 0}),
    ("spool_sync", {"durability": "spool", "spool_sync": "sometimes"}),
    ("max_spool_bytes", {"durability": "spool", "max_spool_bytes": 1_000}),
]


@pytest.mark.parametrize(("name", "bad"), BAD_SETTINGS, ids=[name for name, _ in BAD_SETTINGS])
def test_a_bad_setting_is_refused_with_a_value_error_naming_it(
    name: str, bad: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        arguments = {"service_name": SERVICE, "exporters": ("memory",), "directory": tmp,
                     "handle_signals": False, **bad}  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(name)):
            tt.Recorder(**arguments)
