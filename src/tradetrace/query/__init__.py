"""SQL over what the exporters wrote: one ``records`` view whatever the format, the views over
it, the seed's summary statistics and ``verify``.

``tradetrace.query(sql, source=...)``, ``tradetrace.summary(...)`` and ``tradetrace.verify(...)``
are the public face; :func:`open_source` gives the connection itself for repeated queries.
(Imported from the root package, ``tradetrace.query`` is the function; import this package's
modules by their full names, ``from tradetrace.query.source import open_source``.)
"""

from tradetrace.query.api import query, summary, verify
from tradetrace.query.source import Source, SourceError, open_source
from tradetrace.query.verify import VerifyReport

__all__ = ["Source", "SourceError", "VerifyReport", "open_source", "query", "summary", "verify"]
