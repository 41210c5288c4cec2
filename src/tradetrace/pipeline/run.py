"""A run and its resource: what belongs to the whole run, not to each record."""

from __future__ import annotations

import os
import re
import secrets
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from tradetrace import semconv as sc
from tradetrace.version import __version__

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")  # \Z: "$" accepts a final "\n"


def check_file_name_part(field_name: str, value: str) -> str:
    """Refuse a name used in file names that could escape or corrupt the directory.

    Letters, digits, ``_``, ``-`` and ``.``, starting with a letter or digit, at most 128
    characters: no path separators, no ``..``, no control characters.
    """
    if not isinstance(value, str) or not _SAFE_NAME.match(value) or ".." in value:
        raise ValueError(
            f"{field_name}={value!r} cannot be used in file names: use letters, digits, "
            "'_', '-' and '.', starting with a letter or digit (no path separators, no '..', "
            "no control characters, at most 128 characters)"
        )
    return value


def new_run_id(now_ns: int | None = None) -> str:
    """A sortable, unique run id: UTC start time plus 48 random bits."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime((now_ns or time.time_ns()) / 1e9))
    return f"{stamp}-{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Run:
    """The resource of one run: who recorded, how, where."""

    run_id: str
    service_name: str
    mode: str
    strategy: str | None = None
    environment: str | None = None
    clock_source: str = "wall"
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_ns: int = field(default_factory=time.time_ns)
    sdk_version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict)

    def resource_attributes(self) -> dict[str, Any]:
        """OpenTelemetry-style resource attributes."""
        attributes: dict[str, Any] = {
            sc.SERVICE_NAME: self.service_name,
            sc.SERVICE_VERSION: self.sdk_version,
            sc.RUN_ID: self.run_id,
            sc.MODE: self.mode,
            sc.CLOCK_SOURCE: self.clock_source,
            sc.HOST_NAME: self.host,
            sc.TELEMETRY_SDK_NAME: "tradetrace",
            sc.TELEMETRY_SDK_VERSION: self.sdk_version,
        }
        if self.strategy:
            attributes[sc.STRATEGY] = self.strategy
        if self.environment:
            attributes[sc.DEPLOYMENT_ENVIRONMENT] = self.environment
        attributes.update(self.extra)
        return attributes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
