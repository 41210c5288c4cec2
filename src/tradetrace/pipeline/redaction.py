"""Redaction: sensitive keys are replaced before a record leaves the Recorder.

A key is sensitive when, lower-cased with everything but letters and digits removed, it contains
one of :data:`SENSITIVE_FRAGMENTS` or equals one of :data:`SENSITIVE_NAMES` (short names that
would match innocent words as fragments: ``uid`` is in ``liquidity``). tradetrace's own
semantic-convention keys are never redacted: they are the schema, not user data.

:meth:`Redactor.clean` also copies user-provided containers, so later mutation by the caller
cannot change a record already taken, turns values no exporter can write into text, and bounds
what a record can hold: strings are cut at ``max_string_length`` (:data:`TRUNCATED_MARKER`),
containers at ``max_depth`` levels (:data:`DEPTH_MARKER`) and a container met again inside
itself is not expanded (:data:`CYCLE_MARKER`). :meth:`Redactor.limit_text` does the same for
the free-text fields kept outside ``clean`` (reasons, messages, tracebacks).
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
#: Marker that replaces a container nested deeper than the depth limit.
DEPTH_MARKER = "<truncated: nested too deep>"
#: Marker that replaces a container met again inside itself (a cyclic dict or list).
CYCLE_MARKER = "<truncated: cycle>"
#: Marker ending a string cut at the length limit; ``{n}`` is the number of characters cut.
#: The cut string, marker included, is never longer than the limit. (When a redaction made the
#: kept part longer, it is cut again to fit: ``{n}`` counts the original text past the part
#: that was scrubbed.)
TRUNCATED_MARKER = "…<truncated: {n} more characters>"
#: Smallest ``max_string_length``: room for the marker and some text.
MIN_STRING_LENGTH = 64

SENSITIVE_FRAGMENTS: tuple[str, ...] = (
    "apikey", "apisecret", "secret", "password", "passwd", "passphrase", "privatekey",
    "signature", "token", "auth", "cookie", "mnemonic", "seedphrase", "credential",
    "walletaddress", "twofa",
)  # fmt: skip
SENSITIVE_NAMES: frozenset[str] = frozenset({"uid", "sig", "pwd", "pass", "key", "login"})

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# In free text (exception messages, URLs, JSON strings): ``key=value``, ``key: value``,
# ``"key": "value"`` for a sensitive key, and ``Bearer <token>``. A key is a whole run of word
# characters, dots and dashes (only a run's start can begin one, so the scan is linear: a single
# pattern with the sensitive words inside the run backtracked quadratically on long words); it is
# sensitive when it contains one of these words or ends with the word ``uid`` or ``sig``.
_SENSITIVE_KEY = re.compile(
    r"(?i)api[_\-]?key|api[_\-]?secret|secret|password|passwd|passphrase|private[_\-]?key|"
    r"signature|token|auth|cookie|mnemonic|seed[_\-]?phrase|credential|wallet[_\-]?address|"
    r"\b(?:uid|sig)\Z"
)
_KEY_VALUE = re.compile(
    r"(?<![\w.\-])([\w.\-]+)([\"']?\s*[=:]\s*[\"']?)(?!\[REDACTED\])([^\"'&\s,;}\]]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
_CACHE_LIMIT = 65_536
_CACHE_KEY_LENGTH = 256  # longer keys are judged every time, not kept in the cache
_PLAIN = frozenset({int, bool, type(None)})  # values copied as they are


class Redactor:
    """Decides which keys are sensitive (memoised) and cleans nested user values.

    ``max_depth`` bounds container nesting and ``max_string_length`` (an int >= 64) the length
    of every string a record keeps (see :data:`TRUNCATED_MARKER`).
    """

    def __init__(
        self,
        extra_patterns: Iterable[str] = (),
        max_depth: int = 32,
        max_string_length: int = 65_536,
    ) -> None:
        if type(max_string_length) is not int or max_string_length < MIN_STRING_LENGTH:
            raise ValueError(
                f"max_string_length={max_string_length!r}: must be an int >= "
                f"{MIN_STRING_LENGTH} (longer strings are cut and end with a marker)"
            )
        extras = tuple(_NOT_ALNUM.sub("", p.lower()) for p in extra_patterns)
        self._fragments = SENSITIVE_FRAGMENTS + tuple(e for e in extras if e)
        self._max_depth = max_depth
        self._max_string_length = max_string_length
        self._cache: dict[str, bool] = dict.fromkeys(ATTRIBUTES, False)

    @property
    def max_string_length(self) -> int:
        """Longest string a cleaned value or :meth:`limit_text` result can hold."""
        return self._max_string_length

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
        if len(self._cache) < _CACHE_LIMIT and len(text) <= _CACHE_KEY_LENGTH:
            self._cache[key] = verdict
        return verdict

    @staticmethod
    def scrub_text(text: str) -> str:
        """Replace values of sensitive keys inside free text with the redaction marker.

        Linear in the text's length (no catastrophic backtracking on long words).
        """
        if "=" not in text and ":" not in text and " " not in text:
            return text
        text = _BEARER.sub(lambda m: m.group(1) + " " + REDACTED, text)
        if "=" not in text and ":" not in text:  # every key-value pair has one
            return text
        parts: list[str] = []
        done = pos = 0
        search = _KEY_VALUE.search
        while (match := search(text, pos)) is not None:
            if _SENSITIVE_KEY.search(match.group(1)):
                parts.append(text[done : match.start(3)])
                parts.append(REDACTED)
                done = pos = match.end(3)
            else:  # the value may hold a key of its own (a URL's query string)
                pos = match.end(2)
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def limit_text(self, text: str) -> str:
        """Scrub secrets from free text and cut it at ``max_string_length`` with the marker.

        For the free-text fields kept outside :meth:`clean` (reasons, messages, tracebacks).
        A long text is cut before scrubbing (a kept key's value is still redacted, and the cut
        part is not written at all), so scrubbing a megabyte costs no more than the limit.
        """
        limit = self._max_string_length
        if len(text) <= limit:
            return self.scrub_text(text)
        room = limit - len(TRUNCATED_MARKER.format(n=len(text)))
        kept = self.scrub_text(text[:room])
        return kept[:room] + TRUNCATED_MARKER.format(n=len(text) - room)

    def _cut(self, text: str) -> str:
        """``text`` cut at the limit with the marker (no scrubbing: for keys)."""
        room = self._max_string_length - len(TRUNCATED_MARKER.format(n=len(text)))
        return text[:room] + TRUNCATED_MARKER.format(n=len(text) - room)

    def clean(self, value: Any, field: str = "value", depth: int = 0, strict: bool = True) -> Any:
        """Return a redacted, detached copy of a user value.

        Mappings become dicts with sensitive keys' values replaced; lists, tuples and sets
        become lists; scalars pass; anything else becomes its ``repr`` with
        :data:`REPR_MARKER` (a failing ``__repr__`` is named instead). Strings (keys too) longer
        than ``max_string_length`` are cut with :data:`TRUNCATED_MARKER`; a container deeper
        than ``max_depth`` becomes :data:`DEPTH_MARKER` and one met again inside itself
        :data:`CYCLE_MARKER` (the same container shared by two branches is copied twice). A
        float NaN or infinity is refused with :class:`InvalidRecordError` naming ``field`` (with
        ``strict=False``, the instrumentation's path, it becomes marked text instead).
        """
        kind = type(value)
        if kind is str:
            if len(value) <= 8:
                return value
            if len(value) > self._max_string_length:
                return self.limit_text(value)
            return self.scrub_text(value)
        if kind is int or kind is bool or value is None:
            return value
        if kind is Decimal and value.is_finite():
            return value
        if kind is float or kind is Decimal:
            if not (value.is_finite() if kind is Decimal else math.isfinite(value)):
                if strict:
                    raise InvalidRecordError(field, value, "must be a finite number")
                return NON_FINITE_MARKER + repr(value)
            return value
        return self._nested(value, field, depth, strict, None)

    def _nested(
        self, value: Any, field: str, depth: int, strict: bool, path: list[int] | None
    ) -> Any:
        """:meth:`clean` for everything but exact scalars; ``path`` holds the ids of the
        containers being copied above ``value`` (cycle detection; scalars never pay for it)."""
        if depth >= self._max_depth:
            return DEPTH_MARKER
        if isinstance(value, Mapping):
            ident = id(value)
            if path is None:
                path = [ident]
            elif ident in path:
                return CYCLE_MARKER
            else:
                path.append(ident)
            limit = self._max_string_length
            result = {}
            for key, item in value.items():
                name = key if type(key) is str else _key_text(key)
                if self.is_sensitive(name):
                    result[name if len(name) <= limit else self._cut(name)] = REDACTED
                    continue
                if len(name) > limit:
                    name = self._cut(name)
                kind = type(item)
                if kind in _PLAIN or (kind is float and item - item == 0.0):  # finite float
                    result[name] = item
                elif kind is str or kind is float or kind is Decimal:
                    result[name] = self.clean(item, f"{field}.{name}", depth + 1, strict)
                else:
                    result[name] = self._nested(item, f"{field}.{name}", depth + 1, strict, path)
            path.pop()
            return result
        if isinstance(value, (list, tuple, set, frozenset)):
            ident = id(value)
            if path is None:
                path = [ident]
            elif ident in path:
                return CYCLE_MARKER
            else:
                path.append(ident)
            items = sorted(value, key=_safe_repr) if isinstance(value, (set, frozenset)) else value
            copied = []
            for item in items:
                kind = type(item)
                if kind in _PLAIN or (kind is float and item - item == 0.0):
                    copied.append(item)
                elif kind is str or kind is float or kind is Decimal:
                    copied.append(self.clean(item, f"{field}[]", depth + 1, strict))
                else:
                    copied.append(self._nested(item, f"{field}[]", depth + 1, strict, path))
            path.pop()
            return copied
        if isinstance(value, (str, int, float, Decimal)):  # subclasses: enums, numpy scalars
            return self.clean(_plain(value), field, depth, strict)
        return self.limit_text(REPR_MARKER + _safe_repr(value))


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
    """``repr(value)``; a ``__repr__`` that raises or returns a non-str is named instead."""
    try:
        return repr(value)
    except Exception as exc:  # a hostile __repr__ must not break recording
        return f"<{type(value).__name__} with failing __repr__: {type(exc).__name__}>"


def _key_text(key: Any) -> str:
    """A non-str mapping key as text; a key whose ``__str__`` fails is named instead."""
    try:
        return str(key)
    except Exception as exc:
        return f"<{type(key).__name__} key with failing __str__: {type(exc).__name__}>"
