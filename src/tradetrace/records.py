"""The Record, the one internal type, and the typed entry models users may build.

A :class:`Record` is a slotted object built once per recorded thing on the caller's hot path and
never modified afterwards. The pydantic entry models (:class:`FillEntry`, ...) are for users who
prefer to build and validate a value first and record it later with ``Recorder.record(entry)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from tradetrace import validation as check

AttributeValue = Any  # str | bool | int | float | Decimal | sequences | mappings (snapshots)

#: Attribute key holding ``(finish, *args)`` for a record whose attributes are completed off the
#: caller's thread: the Processor calls ``finish(record, *args)`` and removes the key before any
#: exporter sees the record.
DEFERRED = "__tradetrace_deferred__"


class Record:
    """One fill, order, decision, risk check, error, event or span.

    ``seq`` is unique and gap-free within ``run_id``. ``time_ns`` is the configured clock's
    event time, ``observed_ns`` wall time (``None`` in deterministic runs). ``trace_id`` and
    ``span_id`` are ints (``None`` when absent); for a span they are its own ids, for anything
    else the ids of the span it happened in.
    """

    __slots__ = (
        "attributes",
        "duration_ns",
        "kind",
        "name",
        "observed_ns",
        "parent_seq",
        "parent_span_id",
        "related_seqs",
        "run_id",
        "seq",
        "severity",
        "span_id",
        "status",
        "time_ns",
        "trace_id",
    )

    def __init__(
        self,
        seq: int,
        run_id: str,
        kind: str,
        name: str,
        time_ns: int,
        observed_ns: int | None,
        duration_ns: int | None,
        trace_id: int | None,
        span_id: int | None,
        parent_span_id: int | None,
        parent_seq: int | None,
        related_seqs: tuple[int, ...] | None,
        severity: str | None,
        status: str | None,
        attributes: dict[str, AttributeValue],
    ) -> None:
        self.seq = seq
        self.run_id = run_id
        self.kind = kind
        self.name = name
        self.time_ns = time_ns
        self.observed_ns = observed_ns
        self.duration_ns = duration_ns
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.parent_seq = parent_seq
        self.related_seqs = related_seqs
        self.severity = severity
        self.status = status
        self.attributes = attributes

    FIELDS: tuple[str, ...] = (
        "seq",
        "run_id",
        "kind",
        "name",
        "time_ns",
        "observed_ns",
        "duration_ns",
        "trace_id",
        "span_id",
        "parent_span_id",
        "parent_seq",
        "related_seqs",
        "severity",
        "status",
        "attributes",
    )

    def as_tuple(self) -> tuple[Any, ...]:
        """All fields, in :attr:`FIELDS` order."""
        return tuple(getattr(self, name) for name in self.FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (attributes copied)."""
        result = {name: getattr(self, name) for name in self.FIELDS}
        result["attributes"] = dict(self.attributes)
        return result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return self.as_tuple() == other.as_tuple()

    __hash__ = None  # type: ignore[assignment]  # mutable attributes: not hashable

    def __repr__(self) -> str:
        return (
            f"Record(seq={self.seq}, kind={self.kind!r}, name={self.name!r}, "
            f"time_ns={self.time_ns}, parent_seq={self.parent_seq}, status={self.status!r}, "
            f"attributes={self.attributes!r})"
        )


# --- typed entry models ---------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments for the matching ``record_*`` call."""
        values = {k: v for k, v in self.__dict__.items() if v is not None}
        values.update(values.pop("attributes", None) or {})
        return values


class FillEntry(_Entry):
    """A fill, validated exactly as ``record_fill`` validates it."""

    entry: Literal["fill"] = "fill"
    symbol: str
    side: str
    price: Decimal | float | int
    quantity: Decimal | float | int
    fee: Decimal | float | int | None = None
    fee_currency: str | None = None
    order_id: str | None = None
    client_order_id: str | None = None
    order_type: str | None = None
    trade_id: str | None = None
    liquidity_side: str | None = None
    realized_pnl: Decimal | float | int | None = None
    spread_captured: Decimal | float | int | None = None
    inventory_before: Decimal | float | int | None = None
    inventory_after: Decimal | float | int | None = None
    equity_before: Decimal | float | int | None = None
    equity_after: Decimal | float | int | None = None
    notes: str | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("side", mode="before")
    @classmethod
    def _side(cls, value: Any) -> str:
        return check.side(value)

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, value: Any) -> str:
        return check.required_text("symbol", value)

    @field_validator(
        "price",
        "fee",
        "realized_pnl",
        "spread_captured",
        "inventory_before",
        "inventory_after",
        "equity_before",
        "equity_after",
        mode="before",
    )
    @classmethod
    def _finite(cls, value: Any, info: Any) -> Any:
        return check.optional_number(info.field_name, value)

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        return check.positive("quantity", value)

    @field_validator("liquidity_side", mode="before")
    @classmethod
    def _liquidity(cls, value: Any) -> Any:
        return None if value is None else check.liquidity_side(value)


class DecisionEntry(_Entry):
    """A strategy decision (``record_decision``)."""

    entry: Literal["decision"] = "decision"
    name: str
    inputs: Mapping[str, Any] | None = None
    result: Any = None
    reason: str | None = None
    symbol: str | None = None
    notes: str | None = None
    attributes: dict[str, Any] | None = None


class RiskCheckEntry(_Entry):
    """A risk check (``record_risk_check``)."""

    entry: Literal["risk_check"] = "risk_check"
    name: str
    passed: bool
    reason: str | None = None
    limit: Decimal | float | int | None = None
    observed: Decimal | float | int | None = None
    symbol: str | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("passed", mode="before")
    @classmethod
    def _passed(cls, value: Any) -> bool:
        return check.flag("passed", value)

    @field_validator("limit", "observed", mode="before")
    @classmethod
    def _finite(cls, value: Any, info: Any) -> Any:
        return check.optional_number(info.field_name, value)


class ErrorEntry(_Entry):
    """An error (``record_error``)."""

    entry: Literal["error"] = "error"
    error_type: str
    exception: BaseException | None = None
    message: str | None = None
    severity: str = "ERROR"
    recovery_action: str | None = None
    symbol: str | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> str:
        return check.severity(value)


class EventEntry(_Entry):
    """A ledger event (``record_event``)."""

    entry: Literal["event"] = "event"
    event_type: str
    venue: str | None = None
    token: str | None = None
    amount: Decimal | float | int | None = None
    snapshot: Mapping[str, Any] | None = None
    parent: int | None = None
    related: Sequence[int] | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Any:
        return check.optional_number("amount", value)


Entry = FillEntry | DecisionEntry | RiskCheckEntry | ErrorEntry | EventEntry
