"""The verification badge: ``tradetrace verify`` run on the source, green OK or red problems."""

from __future__ import annotations

from tradetrace.query.verify import VerifyReport
from tradetrace.report.markup import esc


def badge_html(report: VerifyReport) -> str:
    """A green ``verified`` badge, or a red one with the problems folded under it."""
    runs = len(report.runs)
    counted = f"{runs} run{'s' if runs != 1 else ''}, {report.records:,} records"
    if report.ok:
        return (
            f'<a class="badge ok" id="tt-verify" data-ok="true" href="#verification">'
            f"&#10004; verify OK: {esc(counted)}, no gap, duplicate or orphan</a>"
        )
    lines = str(report).splitlines()
    problems = [line.strip() for line in lines[1:-1] if not line.endswith(": OK")]
    shown = "".join(f"<li>{esc(line)}</li>" for line in problems[:50])
    return (
        f'<details class="badge bad" id="tt-verify" data-ok="false" open><summary>'
        f"&#10008; verify FAILED: {esc(lines[-1])} ({esc(counted)})"
        f"</summary><ul>{shown}</ul></details>"
    )


def report_html(report: VerifyReport) -> str:
    """The full verify report, as ``tradetrace verify`` prints it."""
    return f'<pre class="verify">{esc(str(report))}</pre>'
