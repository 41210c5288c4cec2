"""The Processor: a bounded queue between the caller and the exporters.

The caller's only cost is one ``deque.append``. A dispatcher thread takes batches (by size or
after ``schedule_delay``) and hands each to every exporter's *lane*: a thread and a bounded
backlog of its own, so a slow or failing exporter never delays or loses data for the others.

Overflow of the caller-facing queue follows ``overflow``: ``"block"`` waits up to
``block_timeout`` for room, then drops and counts; ``"drop_newest"`` drops and counts at once.
A lane whose backlog exceeds ``queue_size`` drops its oldest batch and counts it against that
exporter only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tradetrace.exporters.base import Exporter, ExportResult
from tradetrace.pipeline.health import InternalErrors
from tradetrace.pipeline.run import Run
from tradetrace.records import DEFERRED, Record

Overflow = Literal["block", "drop_newest"]


@dataclass(frozen=True)
class FlushResult:
    """What a flush or shutdown achieved by its deadline. Truthy when nothing was left."""

    ok: bool
    pending: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    elapsed_s: float = 0.0

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"flushed in {self.elapsed_s:.3f}s"
        left = ", ".join(f"{name}: {n}" for name, n in self.pending.items() if n)
        return f"not finished after {self.elapsed_s:.3f}s: {self.queued} records still queued" + (
            f"; pending per exporter: {left}" if left else ""
        )


def check_overflow(overflow: str) -> None:
    if overflow not in ("block", "drop_newest"):
        raise ValueError(f"overflow={overflow!r}: must be 'block' or 'drop_newest'")


def await_markers(markers: Sequence[Marker], deadline: float) -> bool:
    """Wait for every request until ``deadline``; True if all finished and succeeded."""
    for marker in markers:
        marker.done.wait(max(0.0, deadline - time.monotonic()))
    return all(m.done.is_set() and m.ok for m in markers)


class ShutdownOnce:
    """Runs a shutdown once. A concurrent caller (atexit and a signal handler, say) waits for
    the first one up to its own timeout instead of racing it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.result: FlushResult | None = None

    def run(self, timeout: float, shutdown: Callable[[], FlushResult]) -> FlushResult:
        if self._lock.acquire(blocking=False):
            try:
                self.result = shutdown()
            finally:
                self._done.set()
            return self.result
        start = time.monotonic()
        self._done.wait(max(0.0, timeout))
        return self.result or FlushResult(False, elapsed_s=time.monotonic() - start)


class Marker:
    """A flush or stop request, run on a lane's thread after everything submitted before it
    (``target``: the spool position it must reach, in durable mode)."""

    def __init__(self, action: Literal["flush", "stop"], deadline: float, target: int = 0) -> None:
        self.action = action
        self.deadline = deadline
        self.target = target
        self.done = threading.Event()
        self.ok = False


def call_exporter(
    exporter: Exporter, name: str, what: str, argument: Any, errors: InternalErrors
) -> Any:
    """Call an exporter method (optional ones may be missing: ``None``); a failure is counted
    under ``exporter_<what>:<name>`` and returns ``False``. An exporter never kills its lane."""
    method = getattr(exporter, what, None)
    if method is None:
        return None
    try:
        return method(argument)
    except BaseException as exc:
        errors.report(f"exporter_{what}:{name}", exc)
        return False


def complete_deferred(record: Record, errors: InternalErrors) -> None:
    """Finish attributes deferred by the instrumentation (see ``records.DEFERRED``); on failure
    the record still goes out, with what it has."""
    deferred = record.attributes.pop(DEFERRED, None)
    if deferred is None:
        return
    try:
        deferred[0](record, *deferred[1:])
    except Exception as exc:
        errors.report("deferred_attributes", exc)


class Lane:
    """One exporter, its thread and its bounded backlog of batches."""

    def __init__(self, exporter: Exporter, run: Run, capacity: int, errors: InternalErrors):
        self.exporter = exporter
        self.name = exporter.name
        self.exported = 0
        self.failed = 0
        self.dropped = 0
        self._run = run
        self._capacity = capacity
        self._errors = errors
        self._items: deque[list[Record] | Marker] = deque()
        self._pending = 0
        self._stopped = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(
            target=self._loop, name=f"tradetrace-export-{self.name}", daemon=True
        )

    @property
    def pending(self) -> int:
        """Records submitted to this lane and not yet exported, failed or dropped."""
        return self._pending

    def start(self) -> None:
        self._thread.start()

    def submit(self, batch: list[Record]) -> None:
        with self._cond:
            if self._stopped:
                self.dropped += len(batch)
                return
            while self._pending + len(batch) > self._capacity and self._drop_oldest():
                pass
            self._items.append(batch)
            self._pending += len(batch)
            self._cond.notify()

    def _drop_oldest(self) -> bool:
        for index, item in enumerate(self._items):
            if isinstance(item, list):
                del self._items[index]
                self._pending -= len(item)
                self.dropped += len(item)
                self._errors.report(
                    f"backlog_full:{self.name}",
                    detail=f"exporter {self.name!r} is too slow; its oldest batches are dropped",
                )
                return True
        return False

    def request(self, action: Literal["flush", "stop"], deadline: float) -> Marker:
        marker = Marker(action, deadline)
        with self._cond:
            if self._stopped or not self._thread.is_alive():
                marker.ok = action == "stop"
                marker.done.set()
                return marker
            if action == "stop":
                self._stopped = True
            self._items.append(marker)
            self._cond.notify()
        return marker

    def _loop(self) -> None:
        self._call("open", self._run)
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                item = self._items.popleft()
            if isinstance(item, list):
                self._export(item)
                continue
            remaining = max(0.0, item.deadline - time.monotonic())
            if item.action == "flush":
                item.ok = self._call("force_flush", remaining) is not False
                item.done.set()
            else:
                item.ok = self._call("shutdown", remaining) is not False
                item.done.set()
                return

    def _export(self, batch: list[Record]) -> None:
        result = self._call("export", batch)
        with self._cond:
            self._pending -= len(batch)
            if result is ExportResult.SUCCESS:
                self.exported += len(batch)
            else:
                self.failed += len(batch)

    def _call(self, what: str, argument: Any) -> Any:
        return call_exporter(self.exporter, self.name, what, argument, self._errors)

    def counters(self) -> dict[str, int]:
        return {
            "exported": self.exported,
            "failed": self.failed,
            "dropped": self.dropped,
            "pending": self._pending,
        }


class Processor:
    """Bounded queue, dispatcher thread and one lane per exporter."""

    def __init__(
        self,
        exporters: Sequence[Exporter],
        run: Run,
        *,
        errors: InternalErrors,
        queue_size: int = 100_000,
        batch_size: int = 512,
        schedule_delay: float = 0.2,
        overflow: Overflow = "block",
        block_timeout: float = 0.1,
    ) -> None:
        if queue_size < 1 or batch_size < 1:
            raise ValueError("queue_size and batch_size must be at least 1")
        check_overflow(overflow)
        if schedule_delay <= 0 or block_timeout < 0:
            raise ValueError("schedule_delay must be > 0 and block_timeout >= 0")
        self.exporters = tuple(exporters)
        self._errors = errors
        self._capacity = queue_size
        self._batch_size = batch_size
        self._delay = schedule_delay
        self._overflow = overflow
        self._block_timeout = block_timeout
        self._start(run)

    def _start(self, run: Run) -> None:
        self._queue: deque[Record] = deque()
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._drop_lock = threading.Lock()
        self._dispatched = 0
        self._dropped = 0
        self._high_water = 0
        self._closed = False
        self._stopping = False
        self._once = ShutdownOnce()
        self._lanes = [Lane(e, run, self._capacity, self._errors) for e in self.exporters]
        for lane in self._lanes:
            lane.start()
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="tradetrace-dispatcher", daemon=True
        )
        self._dispatcher.start()

    # --- caller side ---------------------------------------------------------------------

    def emit(self, record: Record) -> bool:
        """Queue a record; True if accepted. Never raises, waits at most ``block_timeout``."""
        queue = self._queue
        if len(queue) < self._capacity and not self._closed:
            queue.append(record)
            if len(queue) >= self._batch_size and not self._wake.is_set():
                self._wake.set()
            return True
        return self._emit_slow(record)

    def _emit_slow(self, record: Record) -> bool:
        if self._closed:
            self._count_drop("emit_after_shutdown", "a record arrived after shutdown()")
            return False
        if self._overflow == "block" and self._block_timeout > 0:
            deadline = time.monotonic() + self._block_timeout
            self._wake.set()
            with self._progress:
                while len(self._queue) >= self._capacity:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._progress.wait(remaining)
            if len(self._queue) < self._capacity:
                self._queue.append(record)
                return True
        self._count_drop("queue_full", f"queue full ({self._capacity} records)")
        return False

    def _count_drop(self, kind: str, detail: str) -> None:
        with self._drop_lock:
            self._dropped += 1
        self._errors.report(kind, detail=detail + "; records are being dropped")

    # --- dispatcher ----------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            try:
                self._drain()
            except BaseException as exc:  # keep dispatching whatever happens
                self._errors.report("dispatcher", exc)
            if self._stopping and not self._queue:
                return

    def _drain(self) -> None:
        queue = self._queue
        size = self._batch_size
        while queue:
            depth = len(queue)
            if depth > self._high_water:
                self._high_water = depth
            batch = [queue.popleft() for _ in range(min(depth, size))]
            for record in batch:
                if DEFERRED in record.attributes:
                    complete_deferred(record, self._errors)
            for lane in self._lanes:
                lane.submit(batch)
            with self._progress:
                self._dispatched += len(batch)
                self._progress.notify_all()

    # --- flush and shutdown --------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> FlushResult:
        """Export everything queued before this call; returns by ``timeout`` whatever happens."""
        return self._finish("flush", time.monotonic(), timeout)

    def shutdown(self, timeout: float = 10.0) -> FlushResult:
        """Flush, then shut every exporter down; returns by ``timeout``. Idempotent."""
        return self._once.run(timeout, lambda: self._stop(timeout))

    def _stop(self, timeout: float) -> FlushResult:
        self._closed = True
        return self._finish("stop", time.monotonic(), timeout)

    def _finish(
        self, action: Literal["flush", "stop"], start: float, timeout: float
    ) -> FlushResult:
        deadline = start + max(0.0, timeout)
        target = self._dispatched + len(self._queue)
        if action == "stop":
            self._stopping = True
        self._wake.set()
        with self._progress:
            while self._dispatched < target and self._dispatcher.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._progress.wait(min(remaining, self._delay))
        finished = await_markers([lane.request(action, deadline) for lane in self._lanes], deadline)
        pending = {lane.name: lane.pending for lane in self._lanes}
        queued = max(0, target - self._dispatched)
        ok = finished and queued == 0 and not any(pending.values())
        return FlushResult(ok, pending, queued, time.monotonic() - start)

    # --- introspection -------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Counters: emitted, dropped, queue depth and high-water, per-exporter counts."""
        depth = len(self._queue)
        return {
            "emitted": self._dispatched + depth + self._dropped,
            "dropped": self._dropped,
            "queue_depth": depth,
            "queue_capacity": self._capacity,
            "queue_high_water": max(self._high_water, depth),
            "exporters": {lane.name: lane.counters() for lane in self._lanes},
        }

    # --- fork ----------------------------------------------------------------------------

    def after_fork(self, run: Run) -> None:
        """In a forked child: forget the parent's queue and threads, start fresh for ``run``."""
        for exporter in self.exporters:
            try:
                exporter.after_fork()
            except Exception as exc:
                self._errors.report(f"exporter_after_fork:{exporter.name}", exc)
        self._start(run)
