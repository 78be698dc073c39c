"""The audit of a decision: which rule removed which offer, with the scores and prices it had.

A decision is found by its request id, or by customer (all of theirs, or the latest at or before
a time), in a service's decision log folder (recent decisions, fsynced before each answer left)
and in the lake's compacted decisions (``LAKE/decisions``, see :mod:`.compact`); a decision in
both is the same one (the compactor keeps the first copy by request id). Each is returned in the
decision log's record shape (DESIGN.md's Decision log) and explained offer by offer: the expected
uplift and its interval, the net value at the plan's prices, and the rule or guardrail that
removed it, by kind (``eligibility``, ``suitability``, ``guardrail`` …).

Invariant: read-only; a torn last line of a log (a crash) is skipped, never half-read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uplift_engine.decide.universal_holdout import id_text
from uplift_engine.errors import UserInputError
from uplift_engine.serve.decision_log import LOG_GLOB, MAX_REQUEST_ID, read_lines


def check_request_id(value: str, field: str = "request_id") -> str:
    """A request id as the service issues and accepts them (1–128 of letters, digits, -_.:)."""
    if not 0 < len(value) <= MAX_REQUEST_ID or not all(
        c.isascii() and (c.isalnum() or c in "-_.:") for c in value
    ):
        raise UserInputError(
            f"{field} must be 1 to {MAX_REQUEST_ID} letters, digits or -_.:, got {value[:40]!r}",
            field=field,
        )
    return value


def find_decisions(
    *,
    log: str | Path | None = None,
    lake: str | None = None,
    request_id: str | None = None,
    customer_id: str | None = None,
    at_us: int | None = None,
) -> list[dict[str, Any]]:
    """The decisions of ``request_id`` or of ``customer_id``, oldest first, one per request id.

    From a log folder and/or a lake; with ``at_us``, only the customer's latest at or before it.
    """
    if (request_id is None) == (customer_id is None):
        raise UserInputError("give a request id or a customer id", field="request_id")
    if log is None and lake is None:
        raise UserInputError("give a decision log folder or a lake to look in", field="log")
    found: dict[str, dict[str, Any]] = {}
    for record in _from_log(Path(log), request_id, customer_id) if log is not None else ():
        _keep(found, record)
    for record in _from_lake(lake, request_id, customer_id) if lake is not None else ():
        _keep(found, record)
    records = sorted(found.values(), key=lambda r: (r["at_us"], r["request_id"]))
    if at_us is not None:
        before = [r for r in records if r["at_us"] <= at_us]
        records = before[-1:]
    return records


def explain(record: dict[str, Any]) -> list[str]:
    """One decision, offer by offer, for a person to read."""
    at = datetime.fromtimestamp(record["at_us"] / 1e6, UTC).isoformat(timespec="milliseconds")
    degraded = " (degraded)" if record.get("degraded") else ""
    lines = [
        f"decision {record['request_id']} at {at} for customer {record['customer_id']}: "
        f"offer {record.get('offer') or 'none'}{degraded}",
        f"model {record.get('model_version')}, plan {record.get('plan_version')}, "
        f"features sha256 {record.get('features_sha256')}",
        "",
        f"{'offer':<16} {'uplift':>9} {'interval':>21} {'net value':>10}  removed by",
    ]
    for name, figures in (record.get("offers") or {}).items():
        low, high = figures.get("lower"), figures.get("upper")
        interval = "" if low is None or high is None else f"[{low:.4g}, {high:.4g}]"
        net = figures.get("net_value")
        why = figures.get("excluded_by")
        removed = "—" if not why else f"{why['kind']}: {why['name']}"
        lines.append(
            f"{name:<16} {_number(figures.get('uplift')):>9} {interval:>21} "
            f"{_number(net):>10}  {removed}"
        )
    rules = record.get("rules")
    if rules:
        lines += ["", "rules, in the order they ran:"]
        for rule in rules:
            taken = rule.get("removed") or []
            verdict = "removed " + ", ".join(taken) if taken else "passed"
            lines.append(f"  {rule['kind']}: {rule['name']} — {verdict}")
    pacing = record.get("pacing")
    if pacing:
        factor = pacing.get("price_factor")
        lines += [
            "",
            f"pacing ({pacing.get('campaign')}): budget price × "
            f"{'—' if factor is None else f'{factor:.3g}'} of the plan's; expected spend "
            f"{pacing.get('expected_spend', 0):,.2f} and committed "
            f"{pacing.get('committed', 0):,.2f} of {pacing.get('budget', 0):,.2f}, the curve at "
            f"{pacing.get('target_share', 0):.1%} of the period's traffic",
        ]
    return lines


def _number(value: object) -> str:
    return "—" if value is None else f"{float(value):.4g}"  # type: ignore[arg-type]


def _keep(found: dict[str, dict[str, Any]], record: dict[str, Any]) -> None:
    known = found.get(record["request_id"])
    if known is None or record["at_us"] < known["at_us"]:
        found[record["request_id"]] = record


def _from_log(
    folder: Path, request_id: str | None, customer_id: str | None
) -> Iterator[dict[str, Any]]:
    if not folder.is_dir():
        raise UserInputError(f"no decision log folder at {str(folder)!r}", field="log")
    needle = (request_id or id_text(customer_id)).encode()
    for path in sorted(folder.glob(LOG_GLOB), reverse=True):
        for line in read_lines(path):
            if needle not in line:  # a cheap pass before the JSON
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if _matches(record, request_id, customer_id):
                yield record


def _from_lake(
    lake: str, request_id: str | None, customer_id: str | None
) -> Iterator[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    from uplift_engine.serve.compact import read_decisions

    table = read_decisions(lake)
    if request_id is not None:
        rows = table.filter(pc.equal(table.column("request_id"), request_id))
    else:
        texts = pa.array(sorted({str(customer_id), id_text(customer_id)}), pa.string())
        rows = table.filter(pc.is_in(table.column("customer_id"), value_set=texts))
    for row in rows.to_pylist():
        at = row["at"]
        yield {
            "schema_version": row["schema_version"],
            "request_id": row["request_id"],
            "at_us": int(at.timestamp()) * 1_000_000 + at.microsecond,
            "customer_id": row["customer_id"],
            "model_version": row["model_version"],
            "plan_version": row["plan_version"],
            "features_sha256": row["features_sha256"],
            "offer": row["offer"],
            "offers": json.loads(row["offers"]),
            "degraded": row["degraded"],
            **(json.loads(row["audit"]) if row.get("audit") else {}),
        }


def _matches(record: dict[str, Any], request_id: str | None, customer_id: str | None) -> bool:
    if request_id is not None:
        return str(record.get("request_id")) == request_id
    return id_text(record.get("customer_id")) == id_text(customer_id)
