"""Clocks and timestamp conversion."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tradetrace.pipeline.clock import SimulatedClock, WallClock, format_ns, to_ns

NOON = 1_715_515_200 * 10**9  # 2024-05-12T12:00:00Z


class FakePandasTimestamp:
    """Duck type of pandas.Timestamp: ``value`` in ns and ``tz_localize``."""

    value = NOON + 7

    def tz_localize(self, tz: object) -> None:  # pragma: no cover - presence only
        return None


@pytest.mark.parametrize(
    "ts",
    [
        NOON,
        datetime(2024, 5, 12, 12, tzinfo=timezone.utc),
        datetime(2024, 5, 12, 12),  # naive is UTC
        datetime(2024, 5, 12, 14, tzinfo=timezone(timedelta(hours=2))),
        "2024-05-12T12:00:00Z",
        "2024-05-12T12:00:00.000000000+00:00",
        "2024-05-12 14:00:00+02:00",
    ],
)
def test_to_ns_accepts_the_documented_forms(ts: object) -> None:
    assert to_ns(ts) == NOON


def test_to_ns_keeps_nanoseconds() -> None:
    assert to_ns(FakePandasTimestamp()) == NOON + 7
    assert to_ns("2024-05-12T12:00:00.000000007Z") == NOON + 7
    assert to_ns(date(2024, 5, 12)) == NOON - 12 * 3600 * 10**9


def test_to_ns_refuses_ambiguous_or_garbage_input() -> None:
    with pytest.raises(TypeError, match="integer nanoseconds"):
        to_ns(1715515200.0)
    with pytest.raises(ValueError, match="not ISO 8601"):
        to_ns("yesterday")


def test_numpy_datetime64_if_available() -> None:
    np = pytest.importorskip("numpy")
    assert to_ns(np.datetime64("2024-05-12T12:00:00.000000007")) == NOON + 7


def test_simulated_clock_moves_only_when_told() -> None:
    clock = SimulatedClock("2024-05-12T12:00:00Z")
    assert clock.now_ns() == NOON == clock.now_ns()
    assert clock.advance(timedelta(hours=1)) == NOON + 3600 * 10**9
    assert clock.advance_to("2024-05-12T14:00:00Z") == NOON + 2 * 3600 * 10**9
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_to(NOON)
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)
    assert clock.set(NOON) == NOON  # set() may jump back
    assert repr(clock) == "SimulatedClock('2024-05-12T12:00:00.000000000Z')"


def test_wall_clock_is_epoch_ns() -> None:
    import time

    before = time.time_ns()
    assert before <= WallClock().now_ns() <= time.time_ns()
    assert format_ns(NOON + 1) == "2024-05-12T12:00:00.000000001Z"
