"""End to end through a real OpenTelemetry collector: the ``rotel`` agent from PyPI.

tradetrace -> rotel's OTLP/HTTP receiver -> rotel's debug log and its OTLP exporter -> a
decoding receiver. Skipped, with the reason, where the ``rotel`` package or its agent binary
cannot run (it ships a manylinux x86-64 binary): ``pip install rotel``.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from otlp_receiver import OtlpHttpReceiver, attributes

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.otlp import OtlpExporter

PRICE = "67500.123456789012345678"


def _agent() -> Path:
    try:
        import rotel
    except ImportError:
        pytest.skip("the rotel collector is not installed (pip install rotel)")
    agent = Path(rotel.__file__).parent / "rotel-agent"
    if not agent.is_file():
        pytest.skip(f"the rotel package has no agent binary at {agent}")
    try:
        done = subprocess.run([str(agent), "--version"], capture_output=True, timeout=20)
    except OSError as exc:
        pytest.skip(f"the rotel agent cannot run here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"the rotel agent cannot run here: {done.stderr.decode()[:200]}")
    return agent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"rotel exited: {process.stdout.read().decode() if process.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail("rotel did not start listening")


@pytest.fixture
def rotel(tmp_path: Path) -> Iterator[tuple[str, OtlpHttpReceiver, Path]]:
    """``(rotel's OTLP/HTTP endpoint, the receiver behind it, rotel's output file)``."""
    agent = _agent()
    http_port, grpc_port = _free_port(), _free_port()
    output = tmp_path / "rotel.out"
    with OtlpHttpReceiver() as downstream, open(output, "wb") as sink:
        process = subprocess.Popen(
            [str(agent), "start",
             "--otlp-http-endpoint", f"127.0.0.1:{http_port}",
             "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}",
             "--exporter", "otlp", "--otlp-exporter-protocol", "http",
             "--otlp-exporter-endpoint", downstream.url,
             "--debug-log", "traces", "--debug-log", "logs", "--debug-log", "metrics",
             "--debug-log-verbosity", "detailed",
             "--pid-file", str(tmp_path / "rotel.pid"), "--log-file", str(tmp_path / "rotel.log")],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_listening(http_port, process)
            yield f"http://127.0.0.1:{http_port}", downstream, output
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def test_records_go_through_the_rotel_collector(
    rotel: tuple[str, OtlpHttpReceiver, Path], tmp_path: Path
) -> None:
    endpoint, downstream, output = rotel
    exporter = OtlpExporter(endpoint, metrics_interval=3600)
    rec = tt.Recorder(service_name="via-rotel", exporters=(exporter,), directory=tmp_path,
                      schedule_delay=0.01)  # fmt: skip
    with rec.span("rebalance", symbol="BTC-USDT"):
        rec.record_fill(symbol="BTC-USDT", side="BUY", price=PRICE, quantity="0.001",
                        order_id="o-1")  # fmt: skip
        rec.record_decision("spread_calculation", result={"bid_spread": "0.5"})
    assert rec.shutdown(10)
    assert exporter.counters()["undelivered"] == 0

    received = downstream.received
    assert received.wait_for(lambda r: len(r.spans()) == 1 and len(r.logs()) == 2, 20)
    assert received.wait_for(lambda r: "trading.fills" in r.metrics(), 20)
    (resource, span), = received.spans()  # fmt: skip
    assert resource["service.name"] == "via-rotel" and resource[sc.RUN_ID] == rec.run_id
    fill = next(log for _, log in received.logs() if log.event_name == "trading.fill")
    assert fill.span_id == span.span_id and fill.trace_id == span.trace_id
    assert attributes(fill.attributes)[sc.FILL_PRICE] == PRICE
    assert sorted(received.seqs()) == [1, 2, 3]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "trading.fill.price" not in output.read_text():
        time.sleep(0.05)
    debug = output.read_text()
    assert f"trading.fill.price: Str({PRICE})" in debug  # rotel's own rendering
    assert "EventName: trading.fill" in debug and "Name           : rebalance" in debug
