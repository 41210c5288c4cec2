"""Clocks: wall time for live trading, a simulated clock driven by a backtest engine.

Both report integer nanoseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol, runtime_checkable

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now_ns()`` and a ``source`` name can drive event time."""

    source: str

    def now_ns(self) -> int: ...


class WallClock:
    """The system's wall clock (``time.time_ns``)."""

    source = "wall"

    def now_ns(self) -> int:
        return time.time_ns()

    def __repr__(self) -> str:
        return "WallClock()"


class SimulatedClock:
    """A clock that only moves when told to: the backtest engine's notion of now.

    ``SimulatedClock("2024-05-12T00:00:00Z")``, then ``advance_to(ts)`` (never backwards),
    ``advance(timedelta(hours=1))`` or ``set(ts)`` (any direction). Timestamps may be datetimes
    (naive ones are UTC), pandas or numpy timestamps, ISO strings or nanosecond ints.
    """

    source = "simulated"

    def __init__(self, start: Any = 0) -> None:
        self._now = to_ns(start)
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        return self._now

    def set(self, ts: Any) -> int:
        """Jump to ``ts`` in either direction; returns the new time in ns."""
        self._now = to_ns(ts)
        return self._now

    def advance_to(self, ts: Any) -> int:
        """Move forward to ``ts``; moving backwards is a ``ValueError``."""
        target = to_ns(ts)
        with self._lock:
            if target < self._now:
                raise ValueError(
                    f"advance_to({ts!r}) would move the clock backwards from "
                    f"{format_ns(self._now)} to {format_ns(target)}; use set() to jump back"
                )
            self._now = target
        return target

    def advance(self, delta: timedelta | int) -> int:
        """Move forward by a ``timedelta`` or a number of nanoseconds."""
        step = _timedelta_ns(delta) if isinstance(delta, timedelta) else int(delta)
        if step < 0:
            raise ValueError(f"advance({delta!r}) must not be negative")
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"SimulatedClock({format_ns(self._now)!r})"


def _timedelta_ns(delta: timedelta) -> int:
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1_000


def to_ns(ts: Any) -> int:
    """Convert a timestamp to integer nanoseconds since the epoch, UTC.

    Accepts ns ints, datetimes (naive = UTC), dates, pandas ``Timestamp``, numpy
    ``datetime64`` and ISO 8601 strings. Floats are refused: seconds or nanoseconds would be a
    guess.
    """
    if type(ts) is int:
        return ts
    value = getattr(ts, "value", None)
    if type(value) is int and hasattr(ts, "tz_localize"):  # pandas.Timestamp, ns exact
        return value
    if isinstance(ts, datetime):
        aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
        return _timedelta_ns(aware - _EPOCH)
    if isinstance(ts, date):
        return to_ns(datetime(ts.year, ts.month, ts.day, tzinfo=timezone.utc))
    if isinstance(ts, str):
        return _iso_to_ns(ts)
    dtype = getattr(ts, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "") == "M":  # numpy.datetime64
        return int(ts.astype("datetime64[ns]").astype("int64"))
    if isinstance(ts, int) and not isinstance(ts, bool):
        return int(ts)
    raise TypeError(
        f"cannot read a timestamp from {type(ts).__name__} {ts!r}: pass a datetime, an ISO "
        "string, a pandas/numpy timestamp or integer nanoseconds since the epoch"
    )


_FRACTION = re.compile(r"^(.*?[T ]\d\d:\d\d(?::\d\d)?)(?:[.,](\d+))?(.*)$")


def _iso_to_ns(text: str) -> int:
    """ISO 8601 to ns, keeping up to 9 fractional digits (``fromisoformat`` keeps 6)."""
    match = _FRACTION.match(text.strip())
    base, fraction, zone = match.groups() if match else (text.strip(), None, "")
    try:
        parsed = datetime.fromisoformat(base + zone.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not ISO 8601") from None
    nanos = int((fraction or "0")[:9].ljust(9, "0"))
    return to_ns(parsed) + nanos


def format_ns(ns: int) -> str:
    """ISO 8601 UTC with nanoseconds: ``2024-05-12T14:00:00.000000001Z``."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"
