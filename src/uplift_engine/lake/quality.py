"""The raw datasets' data-quality rules: what makes a row valid, as data.

Invariant: a :class:`QualityRule` is SQL that is TRUE for a bad row, with the field and the
problem it names (the quarantine's ``_reason``, ``"field: problem"``); a :class:`Check` holds a
dataset's schema, key, row rules and reference rules (rules that read other datasets' checked
rows). :data:`CHECKS` are the lake's own datasets'; a declared event source derives its own
(:mod:`uplift_engine.features.offline.source_checks`). The validator
(:mod:`.validate`) evaluates them in DuckDB, the Spark engine in Spark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from uplift_engine.lake import layout
from uplift_engine.vocabulary import (
    AMOUNT_TYPES,
    CHANNELS,
    CONTACT_CHANNELS,
    CONTACT_TYPES,
    EVENT_TYPES,
    RESPONSES,
)

TS_MIN = "2000-01-01 00:00:00+00"
TS_MAX = "2100-01-01 00:00:00+00"
"""Timestamps outside ``[TS_MIN, TS_MAX)`` are quarantined as out of range."""

REASON = "_reason"


@dataclass(frozen=True)
class QualityRule:
    """A problem a row can have: ``condition`` is SQL that is TRUE for a bad row.

    Row rules name the row's columns bare; reference rules name them ``t.<column>`` and read
    other datasets' checked rows as ``checked_<name>``, listing those names in ``uses``.
    """

    field: str
    problem: str
    condition: str
    uses: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """The text written to ``_reason``: ``"field: problem"``."""
        return f"{self.field}: {self.problem}"


@dataclass(frozen=True)
class Check:
    """How one raw dataset is validated: its place, schema, key and rules."""

    name: str
    path: str
    schema: pa.Schema
    key: tuple[str, ...]
    duplicate: QualityRule
    rules: tuple[QualityRule, ...]
    references: tuple[QualityRule, ...] = ()
    materialize: bool = True
    optional: tuple[str, ...] = ()
    """Columns of ``schema`` a raw dataset may lack (added to the layout later): read as null."""

    @property
    def quarantine_path(self) -> str:
        """Where this dataset's quarantined rows go, relative to the lake root."""
        return quarantine_path(self.name)


def quarantine_path(name: str) -> str:
    """Where the quarantined rows of dataset ``name`` live, relative to the lake root."""
    return f"{layout.QUARANTINE}/{name}"


def _missing(*columns: str) -> tuple[QualityRule, ...]:
    return tuple(QualityRule(c, "missing", f'"{c}" IS NULL') for c in columns)


def _in_range(column: str) -> QualityRule:
    return QualityRule(
        column,
        f"outside [{TS_MIN[:10]}, {TS_MAX[:10]})",
        f"\"{column}\" < TIMESTAMPTZ '{TS_MIN}' OR \"{column}\" >= TIMESTAMPTZ '{TS_MAX}'",
    )


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


_AMOUNT_TYPES_SQL = _sql_list(AMOUNT_TYPES)

CHECKS: dict[str, Check] = {
    "customers": Check(
        name="customers",
        path=layout.CUSTOMERS,
        schema=layout.CUSTOMERS_SCHEMA,
        key=("customer_id",),
        duplicate=QualityRule("customer_id", "duplicate customer (one row kept)", ""),
        rules=(
            *_missing("customer_id"),
            QualityRule("age", "outside [0, 130]", "age < 0 OR age > 130"),
            QualityRule(
                "income_m_vnd",
                "negative or not finite",
                "NOT isfinite(income_m_vnd) OR income_m_vnd < 0",
            ),
            QualityRule("tenure_months", "negative", "tenure_months < 0"),
            QualityRule("products_held", "negative", "products_held < 0"),
            QualityRule("balance_m_vnd", "not finite", "NOT isfinite(balance_m_vnd)"),
        ),
    ),
    "campaigns": Check(
        name="campaigns",
        path=layout.CAMPAIGNS,
        schema=layout.CAMPAIGNS_SCHEMA,
        key=("campaign_id", "arm"),
        duplicate=QualityRule("arm", "arm listed twice for the campaign (one row kept)", ""),
        rules=(
            *_missing("campaign_id", "arm", "is_control", "share"),
            QualityRule("share", "outside (0, 1]", "share <= 0 OR share > 1 OR isnan(share)"),
        ),
    ),
    "campaign_assignments": Check(
        name="campaign_assignments",
        path=layout.ASSIGNMENTS,
        schema=layout.ASSIGNMENTS_SCHEMA,
        key=("campaign_id", "customer_id"),
        duplicate=QualityRule(
            "customer_id", "assigned more than once in the campaign (one kept)", ""
        ),
        rules=(
            *_missing("campaign_id", "customer_id", "assigned_at", "arm"),
            _in_range("assigned_at"),
            QualityRule(
                "channel",
                f"not one of {', '.join(CHANNELS)}",
                f"channel IS NOT NULL AND channel NOT IN ({_sql_list(CHANNELS)})",
            ),
        ),
        optional=("channel",),
        references=(
            QualityRule(
                "customer_id",
                f"not a customer in {layout.CUSTOMERS}",
                "NOT EXISTS (SELECT 1 FROM checked_customers r"
                " WHERE r.customer_id = t.customer_id)",
                uses=("customers",),
            ),
            QualityRule(
                "campaign_id",
                f"not a campaign in {layout.CAMPAIGNS}",
                "NOT EXISTS (SELECT 1 FROM checked_campaigns r"
                " WHERE r.campaign_id = t.campaign_id)",
                uses=("campaigns",),
            ),
            QualityRule(
                "arm",
                f"not an arm of the campaign in {layout.CAMPAIGNS}",
                "EXISTS (SELECT 1 FROM checked_campaigns r WHERE r.campaign_id = t.campaign_id)"
                " AND NOT EXISTS (SELECT 1 FROM checked_campaigns r"
                " WHERE r.campaign_id = t.campaign_id AND r.arm = t.arm)",
                uses=("campaigns",),
            ),
            QualityRule(
                "customer_id",
                f"no outcome in {layout.OUTCOMES}",
                "NOT EXISTS (SELECT 1 FROM checked_campaign_outcomes r"
                " WHERE r.campaign_id = t.campaign_id AND r.customer_id = t.customer_id)",
                uses=("campaign_outcomes",),
            ),
        ),
    ),
    "campaign_outcomes": Check(
        name="campaign_outcomes",
        path=layout.OUTCOMES,
        schema=layout.OUTCOMES_SCHEMA,
        key=("campaign_id", "customer_id"),
        duplicate=QualityRule(
            "customer_id", "more than one outcome in the campaign (one kept)", ""
        ),
        rules=(
            *_missing("campaign_id", "customer_id", "converted"),
            QualityRule("converted", "not 0 or 1", "converted NOT IN (0, 1)"),
            QualityRule("revenue", "missing for a converter", "converted = 1 AND revenue IS NULL"),
            QualityRule(
                "revenue", "negative or not finite", "revenue < 0 OR NOT isfinite(revenue)"
            ),
            QualityRule("revenue", "positive for a non-converter", "converted = 0 AND revenue > 0"),
        ),
        references=(
            QualityRule(
                "customer_id",
                f"no assignment in {layout.ASSIGNMENTS}",
                "NOT EXISTS (SELECT 1 FROM checked_campaign_assignments r"
                " WHERE r.campaign_id = t.campaign_id AND r.customer_id = t.customer_id)",
                uses=("campaign_assignments",),
            ),
        ),
    ),
    "events": Check(
        name="events",
        path=layout.EVENTS,
        schema=layout.EVENTS_SCHEMA,
        key=("event_id",),
        duplicate=QualityRule("event_id", "duplicate event (one row kept)", ""),
        rules=(
            *_missing("event_id", "customer_id", "type", "ts"),
            QualityRule("type", "unknown event type", f"type NOT IN ({_sql_list(EVENT_TYPES)})"),
            _in_range("ts"),
            QualityRule(
                "amount",
                "missing for its type",
                f"type IN ({_AMOUNT_TYPES_SQL}) AND amount IS NULL",
            ),
            QualityRule("amount", "negative", "amount < 0"),
            QualityRule(
                "amount", "not finite", f"type IN ({_AMOUNT_TYPES_SQL}) AND NOT isfinite(amount)"
            ),
        ),
        materialize=False,
    ),
}
"""The lake's raw datasets and their rules, in the order they are best checked."""


CONTACTS_CHECK = Check(
    name="contact_history",
    path=layout.CONTACTS,
    schema=layout.CONTACTS_SCHEMA,
    key=("event_id",),
    duplicate=QualityRule("event_id", "duplicate contact event (one row kept)", ""),
    rules=(
        *_missing("event_id", "customer_id", "type", "ts", "offer"),
        QualityRule(
            "type",
            f"not one of {', '.join(CONTACT_TYPES)}",
            f"type NOT IN ({_sql_list(CONTACT_TYPES)})",
        ),
        _in_range("ts"),
        QualityRule("customer_id", "negative", "customer_id < 0"),
        QualityRule(
            "channel",
            f"not one of {', '.join(CONTACT_CHANNELS)}",
            f"channel IS NOT NULL AND channel NOT IN ({_sql_list(CONTACT_CHANNELS)})",
        ),
        QualityRule(
            "response",
            "missing for an offer_response",
            "type = 'offer_response' AND response IS NULL",
        ),
        QualityRule(
            "response",
            f"not one of {', '.join(RESPONSES)}",
            f"response IS NOT NULL AND response NOT IN ({_sql_list(RESPONSES)})",
        ),
        QualityRule(
            "response", "given for an offer_sent", "type = 'offer_sent' AND response IS NOT NULL"
        ),
    ),
    materialize=False,
)
"""The contact history's rules. An optional dataset (a lake may have none), so not in
:data:`CHECKS`, which every campaign-table build validates; its readers add it."""


def reason_sql(rule: QualityRule) -> str:
    """SQL giving the rule's reason for a bad row (null otherwise)."""
    return f"CASE WHEN coalesce({rule.condition}, false) THEN '{sql_quote(rule.reason)}' END"


def sql_quote(text: str) -> str:
    """``text`` inside a single-quoted SQL string."""
    return text.replace("'", "''")


def sql_or(conditions: Iterable[str]) -> str:
    """SQL that is true when any condition is (a missing answer counts as false)."""
    parts = [f"coalesce({c}, false)" for c in conditions if c]
    return " OR ".join(parts) if parts else "false"
