"""``python -m tradetrace.semconv`` prints docs/semconv.md."""

import sys

from tradetrace.semconv.reference import render_markdown

sys.stdout.write(render_markdown())
