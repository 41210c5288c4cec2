"""The durable processor (``durability="spool"``): the spool between the caller and the exporters.

The caller encodes the record and appends it to the :class:`~tradetrace.pipeline.spool.Spool`
before the recording call returns. Each exporter has a :class:`SpoolLane`: a thread that reads
the spool from its own checkpoint, exports, and acknowledges what is durable in its sink:

- after every successful batch for exporters that write through (``durable_on_export = True``:
  CSV, JSON Lines, OTLP once the backend accepted);
- after a successful ``force_flush`` (at most every ``ack_interval`` seconds, and on flush and
  shutdown) for exporters that gather rows first (DuckDB, Parquet).

A failed batch is retried with backoff until it succeeds (an outage loses nothing; the spool
holds it); before a retry, the exporter's ``recover`` drops what a half-written attempt already
wrote. A batch that raises a non-I/O exception five times in a row is tried record by record:
a record that raises while the one after it goes through is set aside in
``quarantine.<exporter>.jsonl`` (kept, counted), so that one poisonous record cannot stop an
exporter forever; when every record fails, it is an outage and is retried.

At start, records an exporter had not acknowledged when the last process died are delivered
first; the exporter's ``recover`` sees the first of them to drop what is already in its sink
(CSV and JSON Lines read their files, DuckDB's primary key ignores repeats, OTLP is
at-least-once).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from tradetrace.exporters.base import Exporter, ExportResult
from tradetrace.pipeline.health import InternalErrors
from tradetrace.pipeline.processor import (
    FlushResult,
    Marker,
    Overflow,
    ShutdownOnce,
    await_markers,
    call_exporter,
    check_overflow,
    complete_deferred,
)
from tradetrace.pipeline.run import Run
from tradetrace.pipeline.spool import Spool, SpoolReader, SyncPolicy
from tradetrace.pipeline.spool_codec import decode, encode
from tradetrace.records import DEFERRED, Record

POISON_ATTEMPTS = 5  # a batch raising this often is retried record by record
RECOVERY_WINDOW = 8192  # replayed records shown to ``recover`` at start


class SharedBatches:
    """Decoded batches by spool position, so lanes that move together decode each record once
    (they share Record objects, as in memory mode). Small and bounded; a miss just decodes."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._batches: dict[int, tuple[list[Record], int, int]] = {}

    def get(self, position: int) -> tuple[list[Record], int, int] | None:
        return self._batches.get(position)

    def put(self, position: int, batch: tuple[list[Record], int, int]) -> None:
        batches = self._batches
        batches[position] = batch
        while len(batches) > self._size:
            del batches[next(iter(batches))]


def lane_names(exporters: Sequence[Exporter]) -> list[str]:
    """One unique, file-name-safe name per exporter (``csv``, ``csv-2``, ...)."""
    names: list[str] = []
    for exporter in exporters:
        base = "".join(c if c.isalnum() or c in "-_" else "_" for c in exporter.name) or "x"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    return names


class SpoolLane:
    """One exporter reading the spool from its checkpoint (see the module docstring)."""

    def __init__(
        self,
        exporter: Exporter,
        name: str,
        run: Run,
        spool: Spool,
        errors: InternalErrors,
        batch_size: int,
        poll_interval: float,
        shared: SharedBatches | None = None,
        ack_interval: float = 1.0,
        max_backoff: float = 2.0,
    ) -> None:
        self.exporter = exporter
        self.name = name
        self.exported = 0
        self.failed = 0  # failed attempts (the records are retried, not lost)
        self.retries = 0
        self.quarantined = 0
        self.skipped_on_recovery = 0
        self.max_backoff = max_backoff
        self._run = run
        self._spool = spool
        self._errors = errors
        self._batch_size = batch_size
        self._poll = poll_interval
        self._ack_interval = ack_interval
        self._write_through = bool(getattr(exporter, "durable_on_export", False))
        start = spool.register(name)
        self._reader = SpoolReader(spool, start)
        self._backlog = spool.frames_from(start)
        self._consumed = self._consumed_at_ack = 0
        self._failures_in_row = self._raised_in_row = 0
        self._halted = False
        self._acked = self._exported_to = start
        self._last_ack = time.monotonic()
        self._replay_end = spool.recovered_end
        self._shared = shared if shared is not None else SharedBatches()
        self._requests: deque[Marker] = deque()
        self._cond = threading.Condition()
        self._thread = threading.Thread(
            target=self._loop, name=f"tradetrace-spool-{name}", daemon=True
        )

    @property
    def pending(self) -> int:
        """Records in the spool this exporter has not exported yet."""
        return max(0, self._backlog + self._spool.appended - self._consumed)

    def start(self) -> None:
        self._thread.start()

    def request(self, action: Literal["flush", "stop"], deadline: float, target: int) -> Marker:
        marker = Marker(action, deadline, target)
        if not self._thread.is_alive():
            marker.ok = action == "stop" and self._acked >= target
            marker.done.set()
            return marker
        with self._cond:
            self._requests.append(marker)
            self._cond.notify()
        return marker

    # --- the lane's thread ---------------------------------------------------------------

    def _loop(self) -> None:
        self._call("open", self._run)
        try:
            if self._reader.position < self._replay_end and not self._replay():
                return
            while not self._halted:
                if self._serve_requests():
                    return
                batch = self._next_batch()
                if batch is not None:
                    if not self._deliver(*batch):
                        return
                    continue
                self._acknowledge()
                with self._cond:
                    if not self._requests:
                        self._cond.wait(self._poll)
        except BaseException as exc:  # never die silently; the spool keeps the records
            self._errors.report(f"spool_lane:{self.name}", exc)
            self._finish_requests(ok=False)
        finally:
            self._reader.close()

    def _replay(self) -> bool:
        """Deliver the first records left unacknowledged by the last process, minus those the
        exporter says its sink already holds."""
        payloads = self._reader.read(RECOVERY_WINDOW)
        records = self._decode(payloads)
        fresh = self._call("recover", records)
        if fresh is None or fresh is False:
            fresh = records  # no recover hook (at-least-once), or it failed
        fresh = list(fresh)
        self.skipped_on_recovery += len(records) - len(fresh)
        return self._deliver(fresh, len(payloads))

    def _next_batch(self) -> tuple[list[Record], int] | None:
        """The next batch (records, frames), shared with lanes at the same position."""
        reader = self._reader
        start = reader.position
        cached = self._shared.get(start)
        if cached is not None:
            records, frames, reader.position = cached
            return records, frames
        payloads = reader.read(self._batch_size)
        if not payloads:
            if self._exported_to == start:  # passed only segment headers: nothing to export,
                self._exported_to = reader.position  # so acknowledge past them too
            return None
        records = self._decode(payloads)
        self._shared.put(start, (records, len(payloads), reader.position))
        return records, len(payloads)

    def _decode(self, payloads: list[bytes]) -> list[Record]:
        records = []
        for payload in payloads:
            try:
                records.append(decode(payload))
            except Exception as exc:  # a checksummed frame that is not a record: set aside
                self._errors.report(f"spool_decode:{self.name}", exc)
                self._quarantine_payload(payload)
        return records

    def _deliver(self, records: list[Record], frames: int) -> bool:
        """Export one batch until it succeeds; False if the lane must stop.

        A gathering exporter that fails may have lost the rows of earlier batches it had not
        written yet: the lane then goes back to its last checkpoint and reads again from there
        (its sink ignores what it already holds)."""
        while True:
            result, exc = self._try_export(records) if records else (ExportResult.SUCCESS, None)
            if result is ExportResult.SUCCESS:
                self.exported += len(records)
                self._failures_in_row = self._raised_in_row = 0
                self._mark_delivered(frames)
                return True
            self.failed += len(records)
            self._failures_in_row += 1
            poison = exc is not None and not isinstance(exc, OSError)
            self._raised_in_row = self._raised_in_row + 1 if poison else 0
            if self._raised_in_row >= POISON_ATTEMPTS:
                records = self._one_by_one(records)
                self._raised_in_row = 0
                if len(records) == 1:  # it raised alone: the next record will tell why
                    more = self._next_batch()
                    if more is not None:
                        records, frames = records + more[0], frames + more[1]
                if records and not self._wait_before_retry():
                    return False
                continue
            if not self._write_through and self._exported_to > self._acked:
                self._rewind()
                return self._wait_before_retry()
            if exc is not None:  # a half-written attempt: let the sink say what it holds
                kept = self._call("recover", records)
                if kept is not None and kept is not False:
                    records = list(kept)
            if not self._wait_before_retry():
                return False
            self.retries += 1

    def _mark_delivered(self, frames: int) -> None:
        self._consumed += frames
        self._exported_to = self._reader.position
        if self._write_through:
            self._ack(self._exported_to)
        else:
            self._acknowledge()

    def _rewind(self) -> None:
        """Read again from the last checkpoint."""
        self.retries += 1
        self._reader.position = self._exported_to = self._acked
        self._consumed = self._consumed_at_ack

    def _try_export(self, records: list[Record]) -> tuple[Any, BaseException | None]:
        try:
            return self.exporter.export(records), None
        except BaseException as exc:
            self._errors.report(f"exporter_export:{self.name}", exc)
            return ExportResult.FAILURE, exc

    def _one_by_one(self, records: list[Record]) -> list[Record]:
        """Export each record alone. One that raises is poison if the record after it then
        goes through: it is set aside. If that one fails too, or the failure is not a raised
        non-I/O exception, the exporter is down: returns the records from there on (a last
        record that raised is returned too: undecided until a next one comes)."""
        index = 0
        while index < len(records):
            result, exc = self._try_export([records[index]])
            if result is ExportResult.SUCCESS:
                self._one_succeeded()
                index += 1
                continue
            if exc is None or isinstance(exc, OSError) or index + 1 == len(records):
                return records[index:]
            if self._try_export([records[index + 1]])[0] is not ExportResult.SUCCESS:
                return records[index:]
            self._quarantine_payload(encode(records[index]))
            self._one_succeeded()
            index += 2
        return []

    def _one_succeeded(self) -> None:
        self.exported += 1
        self._failures_in_row = 0

    def _quarantine_payload(self, payload: bytes) -> None:
        self.quarantined += 1
        path = self._spool.directory / f"quarantine.{self.name}.jsonl"
        try:
            with open(path, "ab") as file:
                file.write(payload + b"\n")
        except OSError as exc:
            self._errors.report(f"spool_quarantine:{self.name}", exc)

    def halt(self) -> None:
        """Stop at once, acknowledging nothing more (see :meth:`DurableProcessor.halt`)."""
        self._halted = True
        with self._cond:
            self._cond.notify_all()
        self._thread.join(5.0)

    def _wait_before_retry(self) -> bool:
        """Back off; serve flush requests whose deadline passed. False if a stop request's
        deadline passed (the records stay in the spool for the next start)."""
        backoff = 0.05 * 2 ** min(self._failures_in_row - 1, 16)
        until = time.monotonic() + min(backoff, self.max_backoff)
        while not self._halted:
            now = time.monotonic()
            with self._cond:
                for marker in list(self._requests):
                    if marker.deadline <= now:
                        if marker.action == "stop":
                            self._requests.remove(marker)
                            self._stop(marker, ok=False)
                            return False
                        self._requests.remove(marker)
                        marker.ok = False
                        marker.done.set()
                if now >= until:
                    return True
                wake = min([until, *(m.deadline for m in self._requests)])
                self._cond.wait(max(0.0, wake - now))
        return False

    def _serve_requests(self) -> bool:
        """Complete requests whose target was reached; True once stopped."""
        while self._requests:
            marker = self._requests[0]
            reached = self._reader.position >= marker.target
            if not reached and time.monotonic() < marker.deadline:
                return False
            with self._cond:
                self._requests.popleft()
            if marker.action == "stop":
                self._stop(marker, ok=reached)
                return True
            flushed = self._acknowledge(force=True)
            marker.ok = reached and flushed
            marker.done.set()
        return False

    def _stop(self, marker: Marker, ok: bool) -> None:
        flushed = self._acknowledge(force=True)
        remaining = max(0.0, marker.deadline - time.monotonic())
        stopped = self._call("shutdown", remaining) is not False
        marker.ok = ok and flushed and stopped
        marker.done.set()
        self._finish_requests(ok=False)

    def _finish_requests(self, ok: bool) -> None:
        with self._cond:
            while self._requests:
                marker = self._requests.popleft()
                marker.ok = ok
                marker.done.set()

    def _acknowledge(self, force: bool = False) -> bool:
        """Acknowledge what was exported, flushing a gathering exporter first (at most every
        ``ack_interval`` unless forced). True if everything exported is acknowledged."""
        if self._exported_to <= self._acked and not force:
            return True
        if not self._write_through:
            due = time.monotonic() - self._last_ack >= self._ack_interval
            if not (force or due):
                return False
            remaining = 5.0
            if self._requests:
                remaining = max(0.0, self._requests[0].deadline - time.monotonic())
            if self._call("force_flush", remaining) is False:
                return False
        self._ack(self._exported_to)
        return True

    def _ack(self, position: int) -> None:
        self._last_ack = time.monotonic()
        if position > self._acked and not self._halted:
            try:
                self._spool.acknowledge(self.name, position)
            except OSError as exc:
                self._errors.report(f"spool_checkpoint:{self.name}", exc)
                return
            self._acked = position
            self._consumed_at_ack = self._consumed

    def _call(self, what: str, argument: Any) -> Any:
        return call_exporter(self.exporter, self.name, what, argument, self._errors)

    def counters(self) -> dict[str, Any]:
        return {
            "exported": self.exported,
            "failed": self.failed,
            "dropped": 0,
            "pending": self.pending,
            "retries": self.retries,
            "quarantined": self.quarantined,
            "skipped_on_recovery": self.skipped_on_recovery,
            "acknowledged_position": self._acked,
        }


class DurableProcessor:
    """Same interface as :class:`~tradetrace.pipeline.processor.Processor`, spool-backed."""

    def __init__(
        self,
        exporters: Sequence[Exporter],
        run: Run,
        *,
        errors: InternalErrors,
        spool_directory: Path,
        sync: SyncPolicy = "interval",
        sync_interval: float = 0.1,
        max_spool_bytes: int = 1 << 30,
        batch_size: int = 512,
        schedule_delay: float = 0.2,
        overflow: Overflow = "block",
        block_timeout: float = 0.1,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        check_overflow(overflow)
        self.exporters = tuple(exporters)
        self._errors = errors
        self._spool_settings: dict[str, Any] = {
            "sync": sync,
            "sync_interval": sync_interval,
            "max_bytes": max_spool_bytes,
            "overflow": overflow,
            "block_timeout": block_timeout,
        }
        self._batch_size = batch_size
        self._poll = min(schedule_delay, 0.2)
        self._start(run, Path(spool_directory))

    def _start(self, run: Run, directory: Path) -> None:
        self.spool = Spool(directory, errors=self._errors, **self._spool_settings)
        self._encode_failures = 0
        self._once = ShutdownOnce()
        names = lane_names(self.exporters)
        self.spool.forget_checkpoints(set(names))
        shared = SharedBatches()
        self._lanes = [
            SpoolLane(e, n, run, self.spool, self._errors, self._batch_size, self._poll, shared)
            for e, n in zip(self.exporters, names, strict=True)
        ]
        for lane in self._lanes:
            lane.start()

    def emit(self, record: Record) -> bool:
        """Append the record to the spool; True once it is there. Never raises."""
        if DEFERRED in record.attributes:
            complete_deferred(record, self._errors)
        try:
            payload = encode(record)
        except Exception as exc:  # to_json refuses nothing; this is a bug, counted
            self._encode_failures += 1
            self._errors.report("spool_encode", exc)
            return False
        return self.spool.append(payload)

    def flush(self, timeout: float = 5.0) -> FlushResult:
        """Deliver and acknowledge everything appended before this call, by ``timeout``."""
        return self._finish("flush", time.monotonic(), timeout)

    def shutdown(self, timeout: float = 10.0) -> FlushResult:
        """Deliver what it can by ``timeout``, stop the exporters, close the spool (what was
        not delivered stays in it for the next start). Idempotent."""
        return self._once.run(timeout, lambda: self._stop(timeout))

    def _stop(self, timeout: float) -> FlushResult:
        start = time.monotonic()
        result = self._finish("stop", start, timeout)
        self.spool.close(max(0.1, start + timeout - time.monotonic()))
        return result

    def _finish(
        self, action: Literal["flush", "stop"], start: float, timeout: float
    ) -> FlushResult:
        deadline = start + max(0.0, timeout)
        target = self.spool.end
        markers = [lane.request(action, deadline, target) for lane in self._lanes]
        ok = await_markers(markers, deadline)
        pending = {lane.name: lane.pending for lane in self._lanes}
        return FlushResult(ok, pending, 0, time.monotonic() - start)

    def health(self) -> dict[str, Any]:
        """Counters: emitted, dropped, spool state, per-exporter counts."""
        spool = self.spool
        dropped = spool.dropped + self._encode_failures
        depth = max((lane.pending for lane in self._lanes), default=0)
        return {
            "emitted": spool.appended + dropped,
            "dropped": dropped,
            "queue_depth": depth,
            "queue_capacity": None,
            "queue_high_water": None,
            "durability": "spool",
            "spool": spool.stats(),
            "exporters": {lane.name: lane.counters() for lane in self._lanes},
        }

    def halt(self) -> None:
        """Stop as a killed process would: lanes stop without flushing, acknowledging or
        shutting their exporters down; the spool stays on disk as it is. For crash tests and
        for embedding code that must hand the spool to another process."""
        self._once.run(0.0, lambda: FlushResult(False))  # a later shutdown does nothing
        for lane in self._lanes:
            lane.halt()
        self.spool.abandon()

    def after_fork(self, run: Run) -> None:
        """In a forked child: leave the parent's spool alone; spool to ``forks/<pid>`` under
        it (delivered by the child)."""
        parent = self.spool.directory
        self.spool.abandon()
        for exporter in self.exporters:
            try:
                exporter.after_fork()
            except Exception as exc:
                self._errors.report(f"exporter_after_fork:{exporter.name}", exc)
        self._start(run, parent / "forks" / str(os.getpid()))
