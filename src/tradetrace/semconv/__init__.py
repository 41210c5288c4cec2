"""Semantic conventions: attribute names, enums and the attribute-to-column table.

``from tradetrace import semconv as sc`` then ``sc.FILL_PRICE``, ``sc.Side.BUY``,
``sc.COLUMN_OF[sc.FILL_PRICE] == "price"``. ``docs/semconv.md`` is generated from this package
(``python -m tradetrace.semconv > docs/semconv.md``).
"""

from tradetrace.semconv.attributes import *  # noqa: F403
from tradetrace.semconv.attributes import (
    ATTRIBUTE_OF,
    ATTRIBUTES,
    COLUMN_OF,
    DECIMAL_COLUMNS,
    AttributeSpec,
)
from tradetrace.semconv.columns import (
    ALL_COLUMNS,
    ATTRIBUTES_COLUMN,
    EXACT_TEXT_COLUMN,
    KIND_COLUMNS,
    KIND_FILE_STEM,
    RECORD_COLUMNS,
    SQL_TYPE_OF_VALUE,
    TABLE_COLUMNS,
    TIME_COLUMNS,
)
from tradetrace.semconv.enums import (
    STATUS_TRANSITIONS,
    EventType,
    LiquiditySide,
    Mode,
    OrderType,
    RecordKind,
    Severity,
    Side,
    Status,
    TimeInForce,
)

__all__ = [  # noqa: RUF022
    "ATTRIBUTES",
    "ATTRIBUTE_OF",
    "COLUMN_OF",
    "DECIMAL_COLUMNS",
    "AttributeSpec",
    "ALL_COLUMNS",
    "ATTRIBUTES_COLUMN",
    "KIND_COLUMNS",
    "KIND_FILE_STEM",
    "RECORD_COLUMNS",
    "TIME_COLUMNS",
    "EXACT_TEXT_COLUMN",
    "SQL_TYPE_OF_VALUE",
    "TABLE_COLUMNS",
    "STATUS_TRANSITIONS",
    "EventType",
    "LiquiditySide",
    "Mode",
    "OrderType",
    "RecordKind",
    "Severity",
    "Side",
    "Status",
    "TimeInForce",
]
