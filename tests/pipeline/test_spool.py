"""The spool on its own: frames, recovery of torn and corrupt tails, checkpoints, segment
release, the size bound and the lock. Real files throughout."""

from __future__ import annotations

import os
import random
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from tradetrace.pipeline.health import InternalErrors
from tradetrace.pipeline.spool import MAGIC, Spool, SpoolLockedError, SpoolReader, segment_name
from tradetrace.pipeline.spool_codec import decode, encode
from tradetrace.records import Record


def payload(n: int) -> bytes:
    return f'{{"n":{n},"pad":"{"x" * (n % 50)}"}}'.encode()


def open_spool(path: Path, **settings: object) -> Spool:
    settings.setdefault("sync", "none")
    return Spool(path, errors=InternalErrors(), **settings)  # type: ignore[arg-type]


def read_all(spool: Spool, start: int | None = None) -> list[bytes]:
    reader = SpoolReader(spool, spool.oldest() if start is None else start)
    out: list[bytes] = []
    while batch := reader.read(1000):
        out.extend(batch)
    reader.close()
    return out


def test_appended_payloads_are_read_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, max_bytes=1 << 20, segment_bytes=1 << 16)
    written = [payload(i) for i in range(5000)]
    assert all(spool.append(p) for p in written)
    assert len(list(tmp_path.glob("*.seg"))) > 3  # rotated
    assert read_all(spool) == written
    spool.close()
    print(f"5000 frames over {spool.stats()['segments']} segments read back in order")


def test_recovery_keeps_every_record_of_a_clean_spool(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    written = [payload(i) for i in range(1000)]
    for p in written:
        spool.append(p)
    spool.abandon()  # the process died: nothing acknowledged, nothing deleted
    again = open_spool(tmp_path)
    assert again.recovery.records == 1000
    assert again.recovery.discarded_records == 0
    assert read_all(again) == written
    again.close()


@pytest.mark.parametrize(
    "damage",
    ["cut_mid_payload", "cut_mid_header", "flip_payload_byte", "flip_length", "garbage_tail"],
)
def test_a_torn_or_corrupt_tail_is_cut_and_counted(tmp_path: Path, damage: str) -> None:
    spool = open_spool(tmp_path)
    written = [payload(i) for i in range(200)]
    for p in written:
        spool.append(p)
    spool.abandon()
    segment = tmp_path / segment_name(0)
    data = bytearray(segment.read_bytes())
    last_three = sum(8 + len(p) for p in written[-3:])
    first_bad = len(data) - last_three  # offset of the third-last frame
    if damage == "cut_mid_payload":
        data = data[: first_bad + 8 + 5]
        lost = 1  # the torn fragment
    elif damage == "cut_mid_header":
        data = data[: first_bad + 3]
        lost = 1
    elif damage == "flip_payload_byte":
        data[first_bad + 10] ^= 0xFF
        lost = 3
    elif damage == "flip_length":
        data[first_bad] ^= 0x01
        lost = None  # the walk after a bad length is a best effort
    else:
        data = data + os.urandom(37)
        first_bad = len(data) - 37
        lost = 1
    segment.write_bytes(bytes(data))
    again = open_spool(tmp_path)
    report = again.recovery
    kept = read_all(again)
    valid = [p for p in written if sum(8 + len(q) for q in written[: written.index(p) + 1]) <= (
        first_bad - len(MAGIC))]  # fmt: skip
    assert kept == valid  # the valid prefix, intact
    assert report.records == len(valid)
    assert report.discarded_bytes == len(data) - first_bad
    if lost is not None:
        assert report.discarded_records == lost
    assert report.discarded_records >= 1
    assert segment.stat().st_size == first_bad  # cut at the last valid record
    assert again.append(payload(9999))  # and the spool goes on
    assert read_all(again)[-1] == payload(9999)
    again.close()
    print(f"{damage}: kept {len(kept)}, discarded {report.discarded_records} record(s), "
          f"{report.discarded_bytes} bytes")  # fmt: skip


def test_random_damage_never_breaks_recovery(tmp_path: Path) -> None:
    rng = random.Random(7)
    for trial in range(50):
        folder = tmp_path / str(trial)
        spool = open_spool(folder)
        written = [payload(i) for i in range(100)]
        for p in written:
            spool.append(p)
        spool.abandon()
        segment = folder / segment_name(0)
        data = bytearray(segment.read_bytes())
        position = rng.randrange(len(MAGIC), len(data))
        if rng.random() < 0.5:
            data = data[:position]
        else:
            data[position] ^= 1 << rng.randrange(8)
        segment.write_bytes(bytes(data))
        again = open_spool(folder)
        kept = read_all(again)
        assert kept == written[: len(kept)]  # always a prefix of what was written
        assert len(kept) + again.recovery.discarded_records >= len(written) - 1 or (
            again.recovery.discarded_records >= 1
        )
        again.close()


def test_checkpoints_release_segments_and_survive_a_restart(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, segment_bytes=1 << 16)
    written = [payload(i) for i in range(3000)]
    for p in written:
        spool.append(p)
    assert spool.register("a") == spool.register("b") == len(MAGIC)
    reader = SpoolReader(spool, len(MAGIC))
    first = reader.read(1500)
    spool.acknowledge("a", reader.position)
    segments_before = len(list(tmp_path.glob("*.seg")))
    spool.acknowledge("b", reader.position)
    assert len(list(tmp_path.glob("*.seg"))) < segments_before  # released once both acked
    spool.abandon()
    again = open_spool(tmp_path)
    start = again.register("a")
    assert read_all(again, start) == written[1500:]
    assert again.frames_from(start) == 1500
    assert first == written[:1500]
    again.close()


def test_a_clean_close_after_every_acknowledgement_leaves_nothing(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for i in range(100):
        spool.append(payload(i))
    spool.register("a")
    spool.acknowledge("a", spool.end)
    spool.close()
    assert not list(tmp_path.glob("*.seg")) and not list(tmp_path.glob("checkpoint.*"))
    again = open_spool(tmp_path)
    assert again.recovery.records == 0 and again.register("a") == again.end
    again.close()


def test_an_unacknowledged_reader_keeps_the_records(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for i in range(100):
        spool.append(payload(i))
    spool.register("slow")
    spool.close()
    again = open_spool(tmp_path)
    assert again.recovery.records == 100
    again.close()


def test_a_full_spool_drops_newest_or_blocks_then_drops_and_counts(tmp_path: Path) -> None:
    big = b"x" * 60_000
    for overflow in ("drop_newest", "block"):
        spool = open_spool(
            tmp_path / overflow, max_bytes=1 << 20, overflow=overflow, block_timeout=0.05
        )
        accepted = sum(spool.append(big) for _ in range(40))
        assert accepted == (1 << 20) // (60_008) - 0  # what fits
        assert spool.dropped == 40 - accepted
        spool.register("r")
        spool.close()


def test_blocking_waits_for_room_made_by_an_acknowledgement(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, max_bytes=1 << 20, segment_bytes=1 << 16, block_timeout=5)
    spool.register("r")
    big = b"y" * 30_000
    while spool.used_bytes + 30_008 <= spool.max_bytes:
        spool.append(big)
    reader = SpoolReader(spool, spool.oldest())

    def consume() -> None:
        reader.read(20)
        spool.acknowledge("r", reader.position)

    timer = threading.Timer(0.2, consume)
    timer.start()
    assert spool.append(big)  # waited for the acknowledgement, then went in
    assert spool.dropped == 0
    timer.join()
    spool.close()


def test_a_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    with pytest.raises(SpoolLockedError, match=str(os.getpid())):
        open_spool(tmp_path)
    spool.close()
    open_spool(tmp_path).close()  # free again once closed


def test_bad_settings_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spool_sync"):
        open_spool(tmp_path, sync="sometimes")
    with pytest.raises(ValueError, match="max_spool_bytes"):
        open_spool(tmp_path, max_bytes=1000)
    with pytest.raises(ValueError, match="spool_sync_interval"):
        open_spool(tmp_path, sync="interval", sync_interval=0)


def test_sync_policies_write_the_same_frames(tmp_path: Path) -> None:
    for policy in ("none", "interval", "always"):
        spool = open_spool(tmp_path / policy, sync=policy, sync_interval=0.01)
        for i in range(50):
            spool.append(payload(i))
        spool.sync_now()
        assert read_all(spool) == [payload(i) for i in range(50)]
        spool.register("r")
        spool.close()


def test_codec_round_trips_a_record() -> None:
    record = Record(
        7, "run-1", "fill", "fill", 1_700_000_000_000_000_001, None, 5, (1 << 127) | 12345,
        (1 << 63) | 9, None, 3, (1, 2), "INFO", None,
        {"trading.fill.price": Decimal("50000.123456789012345678"), "trading.fill.quantity": 0.5,
         "custom": {"nested": [1, "two", None, True]}, "big": 1 << 70, "text": "a\x00\n=1+2"},
    )  # fmt: skip
    back = decode(encode(record))
    assert back.as_tuple()[:14] == record.as_tuple()[:14]
    assert back.attributes["trading.fill.price"] == Decimal("50000.123456789012345678")
    assert back.attributes["custom"] == {"nested": [1, "two", None, True]}
    assert back.attributes["big"] == str(1 << 70)  # exact digits, as every exporter writes it
    assert back.attributes["text"] == "a\x00\n=1+2"
    with pytest.raises(ValueError):
        decode(b'{"not": "a record"}')


def test_lanes_acknowledging_at_once_release_each_segment_once(tmp_path: Path) -> None:
    for trial in range(20):
        spool = open_spool(tmp_path / str(trial), segment_bytes=1 << 16)
        for i in range(4000):
            spool.append(payload(i))
        names = [f"lane{n}" for n in range(4)]
        for name in names:
            spool.register(name)
        end = spool.end
        barrier = threading.Barrier(len(names))

        def ack(name: str, spool: Spool, end: int, barrier: threading.Barrier) -> None:
            barrier.wait()
            spool.acknowledge(name, end)

        threads = [
            threading.Thread(target=ack, args=(n, spool, end, barrier)) for n in names
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert spool.used_bytes == spool.end - spool._current_start  # closed ones freed once
        assert not spool._errors.counts()
        spool.close()
