"""Dead letters: stream messages that were not counted, kept in the lake with the reason.

Invariant: every message that a stream rejects — malformed (it breaks the event schema or its
envelope), late (beyond the allowed lateness) or from the future (beyond the allowed clock
skew) — becomes one :class:`DeadLetter`, and a flush writes them as one new Parquet file
``LAKE/quarantine/<stream>/part-<UTC time>-<random>.parquet`` with the columns ``_raw`` (the
message as received), ``_reason`` (``"field: problem"``, as the lake's quarantine), ``_origin``
(file and line, or Kinesis shard and sequence number) and ``_received_at`` (UTC). Files are
only ever added, so several writers (a service, Lambdas) never overwrite each other. The
stream's dead letters have their own dataset (``<source>_stream`` by default), apart from the
raw dataset's quarantine, which a campaign-table build rewrites.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uplift_engine.config.settings import Settings

DEAD_LETTER_COLUMNS = ("_raw", "_reason", "_origin", "_received_at")


@dataclass(frozen=True)
class DeadLetter:
    """One rejected message."""

    raw: str
    reason: str
    origin: str
    received_at_us: int


def as_text(payload: str | bytes | Mapping[str, object]) -> str:
    """A message as text for ``_raw`` (bytes decoded leniently, objects as JSON)."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="backslashreplace")
    return json.dumps(payload, default=str, separators=(",", ":"))


def dead_letter_path(stream: str) -> str:
    """Where a stream's dead letters live, relative to the lake root."""
    from uplift_engine.lake import layout

    return f"{layout.QUARANTINE}/{stream}"


def write_dead_letters(
    lake_uri: str,
    stream: str,
    letters: Sequence[DeadLetter],
    settings: Settings | None = None,
) -> str | None:
    """Write ``letters`` as one new file of the stream's dead-letter dataset; its URI or None."""
    if not letters:
        return None
    import pyarrow as pa

    from uplift_engine.lake import layout
    from uplift_engine.lake.tables import write_table

    table = pa.table(
        {
            "_raw": pa.array([d.raw for d in letters], pa.string()),
            "_reason": pa.array([d.reason for d in letters], pa.string()),
            "_origin": pa.array([d.origin for d in letters], pa.string()),
            "_received_at": pa.array([d.received_at_us for d in letters], pa.int64()).cast(
                layout.TIMESTAMP
            ),
        }
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
    uri = f"{lake_uri.rstrip('/')}/{dead_letter_path(stream)}/{name}"
    write_table(table, uri, settings)
    return uri
