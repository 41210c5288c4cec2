"""The event ledger: events in time order, bundles folded under their wrapper, lifecycles.

A bundle's wrapper is one row whose ``<details>`` holds its children (from the ``bundles``
view); its children are not repeated as rows. An event with lifecycle updates shows its latest
status (from ``event_status``) and, folded, the chain of updates. Only the first
:data:`MAX_ROWS` rows are written, with a note and the counts: a million DOM rows would make
the page unusable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradetrace.report.markup import esc, paging_note, table, value_text
from tradetrace.report.runner import SqlRunner, one_row

MAX_ROWS = 500
MAX_CHILDREN = 200
MAX_UPDATES = 20
#: Columns of ``events`` shown in the details cell when present and not NULL.
DETAIL_COLUMNS: tuple[str, ...] = (
    "side", "symbol", "chain", "tx_hash", "purpose", "transaction_type", "failure_reason",
    "notes",
)  # fmt: skip
_OWN = ("venue", "token", "amount")
_GOOD = frozenset({"ok", "completed", "confirmed"})
_BAD = frozenset({"failed", "error", "cancelled", "canceled", "rejected"})

_TOP = """(e.parent_seq IS NULL OR NOT EXISTS (
  SELECT 1 FROM bundles AS p WHERE p.run_id = e.run_id AND p.seq = e.parent_seq))"""


@dataclass
class Ledger:
    """The rendered ledger and its counts."""

    html: str
    shown: int
    total: int
    bundles: int
    events: int


def status_badge(status: Any) -> str:
    """A lifecycle status as a coloured tag."""
    if status is None:
        return ""
    text = str(status)
    tone = "good" if text.lower() in _GOOD else "bad" if text.lower() in _BAD else "wait"
    return f'<span class="tag {tone}">{esc(text)}</span>'


def _columns(source: SqlRunner, view: str) -> set[str]:
    return set(source.sql(f"SELECT * FROM {view} LIMIT 0").columns)


def _children_html(children: list[dict[str, Any]], written: int, expected: Any) -> str:
    fields = [
        name for name in (children[0].keys() if children else ())
        if any(child.get(name) is not None for child in children)
    ]  # fmt: skip
    rows = [[child.get(name) for name in fields] for child in children]
    expected_text = f" of {expected}" if expected is not None else ""
    more = (
        f'<p class="note">First {len(children)} of {written} children.</p>'
        if written > len(children)
        else ""
    )
    return f"{written}{expected_text} children written{more}" + table(fields, rows, css="inner")


def _lifecycle_html(first: Any, current: Any, updates: list[tuple[Any, ...]], count: int) -> str:
    if not count:
        return status_badge(current)
    chain = " → ".join(esc(s) for s in [first, *(u[2] for u in updates[:MAX_UPDATES])])
    if count > MAX_UPDATES:
        chain += " → …"
    rows = table(
        ["seq", "time", "status", "tx hash", "confirmations", "failure"], updates[:MAX_UPDATES]
    )
    return (
        f"{status_badge(current)}<details><summary>{count} update"
        f"{'s' if count != 1 else ''}: {chain}</summary>{rows}</details>"
    )


def ledger(source: SqlRunner) -> Ledger:
    """Render the ledger of ``source``."""
    present = _columns(source, "events")
    details = [c for c in DETAIL_COLUMNS if c in present]
    own = [f"e.{c}" if c in present else f"NULL AS {c}" for c in _OWN]
    extra = "".join(f", e.{c}" for c in details)
    rows = source.sql(f"""SELECT e.run_id, e.seq, e.time, coalesce(e.event_type, e.name),
  e.status, coalesce(e.current_status, e.status), coalesce(e.updates, 0), {", ".join(own)},
  b.bundle_name, b.children_written, b.detail_count, b.net_result,
  b.children[1:{MAX_CHILDREN}]{extra}
FROM events AS e LEFT JOIN bundles AS b ON b.run_id = e.run_id AND b.seq = e.seq
WHERE {_TOP}
ORDER BY e.time_ns, e.run_id, e.seq LIMIT {MAX_ROWS}""").fetchall()
    (total,) = one_row(source, f"SELECT count(*) FROM events AS e WHERE {_TOP}")
    (bundles,) = one_row(source, "SELECT count(*) FROM bundles")
    (events,) = one_row(source, "SELECT count(*) FROM events")
    updates = _updates(source, [(r[0], r[1]) for r in rows if r[6]])
    multi_run = len({row[0] for row in rows}) > 1
    body = []
    for row in rows:
        run_id, seq, time, event, first, current, count = row[:7]
        venue, token, amount = row[7:10]
        bundle_name, written, expected, net_result, children = row[10:15]
        cells = [
            f"#{seq}" + (f'<br><span class="dim">{esc(run_id)}</span>' if multi_run else ""),
            esc(value_text(time)),
            esc(event),
            esc(value_text(venue)),
            esc(value_text(token)),
            esc(value_text(amount)),
            _lifecycle_html(first, current, updates.get((run_id, seq), []), count),
        ]
        more = [
            f"{esc(name)}=<code>{esc(value_text(value))}</code>"
            for name, value in zip(details, row[15:], strict=True)
            if value is not None
        ]
        if bundle_name is not None:
            summary = f"bundle <b>{esc(bundle_name)}</b>"
            if net_result is not None:
                summary += f", net result <code>{esc(value_text(net_result))}</code>"
            more.insert(
                0,
                f"<details><summary>{summary}</summary>"
                f"{_children_html(children or [], written or 0, expected)}</details>",
            )
        cells.append(" ".join(more))
        css = ' class="bundle"' if bundle_name is not None else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    head = "".join(
        f"<th>{name}</th>"
        for name in ("seq", "time (UTC)", "event", "venue", "token", "amount", "status", "details")
    )
    if not rows:
        html = '<p class="empty">No events in this source.</p>'
    else:
        html = (
            f"<p>{events:,} events, {bundles:,} bundle(s); {total:,} ledger rows "
            "(a bundle's children are folded under it).</p>"
            f'<table class="ledger"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}'
            f"</tbody></table>{paging_note(len(rows), total, 'ledger rows')}"
        )
    return Ledger(html, len(rows), total, bundles, events)


def _updates(
    source: SqlRunner, keys: list[tuple[str, int]]
) -> dict[tuple[str, int], list[tuple[Any, ...]]]:
    """Lifecycle updates of the events ``keys`` (run id, seq), oldest first."""
    if not keys:
        return {}
    wanted = set(keys)
    low, high = min(seq for _, seq in keys), max(seq for _, seq in keys)
    found: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for run_id, target, *update in source.sql(f"""SELECT run_id, updates_seq, seq, time, status,
  tx_hash, confirmation_blocks, failure_reason
FROM records WHERE kind = 'event' AND updates_seq BETWEEN {low} AND {high}
ORDER BY run_id, updates_seq, seq""").fetchall():
        if (run_id, target) in wanted:
            found.setdefault((run_id, target), []).append(tuple(update))
    return found
