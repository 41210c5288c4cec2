"""The current parent: which span or bundle a new record happens in.

Held in a ``ContextVar`` so nesting follows threads and asyncio tasks (a task created inside a
span starts with that span as its parent).
"""

from __future__ import annotations

from contextvars import ContextVar


class Scope:
    """An open span or bundle: its seq, its trace and span ids, and its child count."""

    __slots__ = ("children", "owner", "seq", "span_id", "trace_id")

    def __init__(self, owner: object, seq: int, trace_id: int, span_id: int) -> None:
        self.owner = owner
        self.seq = seq
        self.trace_id = trace_id
        self.span_id = span_id
        self.children = 0


CURRENT_SCOPE: ContextVar[Scope | None] = ContextVar("tradetrace_scope", default=None)
