"""The incident table under the timeline: errors and failed risk checks, in time order.

Only the first :data:`MAX_ROWS` are written, with a note and the total count.
"""

from __future__ import annotations

from tradetrace.report.markup import paging_note, table
from tradetrace.report.runner import SqlRunner, one_row

MAX_ROWS = 300

_INCIDENTS = """SELECT time, time_ns, run_id, seq, 'error' AS what, severity,
  coalesce(error_type, name) AS type, message, recovery_action
FROM errors
UNION ALL
SELECT time, time_ns, run_id, seq, 'risk check failed', severity, coalesce(check_name, name),
  risk_reason, NULL
FROM risk_checks WHERE NOT passed"""


def incidents_html(source: SqlRunner) -> str:
    """The first errors and failed risk checks as a table (or a line saying there are none)."""
    rows = source.sql(
        f"SELECT seq, time, what, severity, type, message, recovery_action FROM ({_INCIDENTS}) "
        f"ORDER BY time_ns, run_id, seq LIMIT {MAX_ROWS}"
    ).fetchall()
    if not rows:
        return '<p class="empty">No errors and no failed risk checks.</p>'
    (total,) = one_row(source, f"SELECT count(*) FROM ({_INCIDENTS})")
    columns = ["seq", "time (UTC)", "what", "severity", "type", "message / reason", "recovery"]
    return table(columns, rows, css="incidents") + paging_note(
        len(rows), total, "errors and failed risk checks"
    )
