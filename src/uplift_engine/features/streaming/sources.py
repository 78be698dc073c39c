"""Where stream events come from: JSON lines (a file or stdin) and AWS Kinesis record batches.

Invariant: every input yields :class:`RawEvent` items — the payload as received (text, bytes
or an already parsed JSON object), where it came from (``file.jsonl:12``,
``kinesis:<shard>:<sequence number>``), and an ``error`` when the envelope itself was broken
(a Kinesis record that is not base64) — so that every message reaches the one event schema or
the dead letters, and nothing is dropped on the way. Blank lines are not events.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, NamedTuple


class RawEvent(NamedTuple):
    """One message as received, before the schema has looked at it."""

    payload: str | bytes | Mapping[str, object]
    origin: str
    error: str | None = None


def json_lines(lines: Iterable[str | bytes] | IO[str] | IO[bytes], name: str) -> Iterator[RawEvent]:
    """One :class:`RawEvent` per non-blank line, origin ``<name>:<line number>``."""
    new = tuple.__new__  # a RawEvent without the keyword layer of its generated __new__
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text:
            yield new(RawEvent, (text, f"{name}:{number}", None))


def kinesis_records(event: Mapping[str, object]) -> Iterator[RawEvent]:
    """The records of a Lambda Kinesis event (``{"Records": [{"kinesis": {"data": b64}}]}``).

    Each record's ``data`` is base64 of one JSON event. A record without it, or whose data is
    not base64, is yielded with ``error`` set (it goes to the dead letters).
    """
    records = event.get("Records")
    if not isinstance(records, list):
        yield RawEvent(repr(event)[:2000], "kinesis", "Records: missing or not a list")
        return
    for index, record in enumerate(records):
        kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
        if not isinstance(kinesis, Mapping):
            yield RawEvent(repr(record)[:2000], f"kinesis:#{index}", "kinesis: missing")
            continue
        shard = str(record.get("eventID", "")).split(":")[0] or "shard"
        origin = f"kinesis:{shard}:{kinesis.get('sequenceNumber', f'#{index}')}"
        data = kinesis.get("data")
        if not isinstance(data, str):
            yield RawEvent(repr(record)[:2000], origin, "data: missing or not a string")
            continue
        try:
            yield RawEvent(base64.b64decode(data, validate=True), origin)
        except (binascii.Error, ValueError):
            yield RawEvent(data[:2000], origin, "data: not base64")


def kinesis_event(payloads: Iterable[bytes | str], shard: str = "shardId-000000000000") -> dict:
    """A Lambda Kinesis event holding ``payloads`` (for tests, replays and local runs)."""
    records = []
    for number, payload in enumerate(payloads):
        data = payload.encode() if isinstance(payload, str) else payload
        records.append(
            {
                "eventID": f"{shard}:{number:056d}",
                "eventSource": "aws:kinesis",
                "kinesis": {
                    "partitionKey": "0",
                    "sequenceNumber": f"{number:056d}",
                    "data": base64.b64encode(data).decode("ascii"),
                },
            }
        )
    return {"Records": records}
