"""Redaction: sensitive keys are replaced before a record leaves the Recorder.

A key is sensitive when, lower-cased with everything but letters and digits removed, it contains
one of :data:`SENSITIVE_FRAGMENTS` or equals one of :data:`SENSITIVE_NAMES` (short names that
would match innocent words as fragments: ``uid`` is in ``liquidity``). tradetrace's own
semantic-convention keys are never redacted: they are the schema, not user data.

:meth:`Redactor.clean` also copies user-provided containers, so later mutation by the caller
cannot change a record already taken, and turns values no exporter can write into text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from tradetrace.semconv.attributes import ATTRIBUTES
from tradetrace.validation import InvalidRecordError

REDACTED = "[REDACTED]"
#: Marker prefixed to the ``repr`` of a value that is not JSON-like.
REPR_MARKER = "<repr> "
#: Marker prefixed to a NaN or infinity met on the automatic (never-raising) path.
NON_FINITE_MARKER = "<non-finite> "
#: Marker that replaces a container nested deeper than the depth limit (or cyclic).
DEPTH_MARKER = "<truncated: nested too deep>"

SENSITIVE_FRAGMENTS: tuple[str, ...] = (
    "apikey", "apisecret", "secret", "password", "passwd", "passphrase", "privatekey",
    "signature", "token", "auth", "cookie", "mnemonic", "seedphrase", "credential",
    "walletaddress", "twofa",
)  # fmt: skip
SENSITIVE_NAMES: frozenset[str] = frozenset({"uid", "sig", "pwd", "pass", "key", "login"})

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# In free text (exception messages, URLs, JSON strings): ``key=value``, ``key: value``,
# ``"key": "value"`` for a sensitive key, and ``Bearer <token>``.
_TEXT_KEY = (
    r"[\w.\-]*(?:api[_\-]?key|api[_\-]?secret|secret|password|passwd|passphrase|private[_\-]?key|"
    r"signature|token|auth\w*|cookie|mnemonic|seed[_\-]?phrase|credential|wallet[_\-]?address)"
    r"[\w.\-]*|\buid\b|\bsig\b"
)
_SECRET_IN_TEXT = re.compile(
    rf"(?i)({_TEXT_KEY})([\"']?\s*[=:]\s*[\"']?)(?!\[REDACTED\])([^\"'&\s,;}}\]]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
_CACHE_LIMIT = 65_536


class Redactor:
    """Decides which keys are sensitive (memoised) and cleans nested user values."""

    def __init__(self, extra_patterns: Iterable[str] = (), max_depth: int = 32) -> None:
        extras = tuple(_NOT_ALNUM.sub("", p.lower()) for p in extra_patterns)
        self._fragments = SENSITIVE_FRAGMENTS + tuple(e for e in extras if e)
        self._max_depth = max_depth
        self._cache: dict[str, bool] = dict.fromkeys(ATTRIBUTES, False)

    def is_sensitive(self, key: str) -> bool:
        """Whether values under ``key`` must never be written."""
        known = self._cache.get(key)
        if known is not None:
            return known
        text = str(key)
        if len(text) <= 5 and text.isalnum() and text.isupper():
            verdict = False  # a ticker (KEY, TOKEN, AUTH, PASS are coins), not a credential name
        else:
            normal = _NOT_ALNUM.sub("", text.lower())
            verdict = normal in SENSITIVE_NAMES or any(f in normal for f in self._fragments)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = verdict
        return verdict

    @staticmethod
    def scrub_text(text: str) -> str:
        """Replace values of sensitive keys inside free text with the redaction marker."""
        if "=" not in text and ":" not in text and " " not in text:
            return text
        text = _BEARER.sub(lambda m: m.group(1) + " " + REDACTED, text)
        return _SECRET_IN_TEXT.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)

    def clean(self, value: Any, field: str = "value", depth: int = 0, strict: bool = True) -> Any:
        """Return a redacted, detached copy of a user value.

        Mappings become dicts with sensitive keys' values replaced; lists, tuples and sets
        become lists; scalars pass; anything else becomes its ``repr`` with a marker. A float
        NaN or infinity is refused with :class:`InvalidRecordError` naming ``field`` (with
        ``strict=False``, the instrumentation's path, it becomes marked text instead).
        """
        kind = type(value)
        if kind is str:
            return self.scrub_text(value) if len(value) > 8 else value
        if kind is int or kind is bool or value is None or kind is Decimal:
            return value
        if kind is float:
            if not math.isfinite(value):
                if strict:
                    raise InvalidRecordError(field, value, "must be a finite number")
                return NON_FINITE_MARKER + repr(value)
            return value
        if depth >= self._max_depth:
            return DEPTH_MARKER
        if isinstance(value, Mapping):
            result = {}
            for key, item in value.items():
                name = key if type(key) is str else str(key)
                if self.is_sensitive(name):
                    result[name] = REDACTED
                else:
                    result[name] = self.clean(item, f"{field}.{name}", depth + 1, strict)
            return result
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            return [self.clean(item, f"{field}[]", depth + 1, strict) for item in items]
        if isinstance(value, (str, int, float, Decimal)):  # subclasses: enums, numpy scalars
            return self.clean(_plain(value), field, depth, strict)
        return REPR_MARKER + _safe_repr(value)


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return str(value.value) if hasattr(value, "value") else str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal):
        return Decimal(value)
    return float(value)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a hostile __repr__ must not break recording
        return f"<{type(value).__name__} with failing __repr__: {type(exc).__name__}>"
