"""The lake's layout: which dataset lives where, and the Arrow schema of each raw dataset.

    LAKE/
      raw/customers/part-NNNNN.parquet            one row per customer (static attributes)
      raw/events/part-NNNNN.parquet               digital events, UTC timestamps
      raw/campaigns/part-00000.parquet            one row per campaign arm (share, control flag)
      raw/campaign_assignments/part-NNNNN.parquet who got which arm, when, in which channel
      raw/campaign_outcomes/part-NNNNN.parquet    conversion and revenue after the campaign
      raw/contact_history/part-NNNNN.parquet      offers sent and responses (optional dataset)
      truth/campaign_truth/part-NNNNN.parquet     the simulator's true values (never a feature)
      curated/campaign_table/<campaign_id>/part-NNNNN.parquet
                                                  features as of assignment, arm, outcomes
      quarantine/<dataset>/part-NNNNN.parquet     rejected rows with ``_reason``

Part files are numbered by a fixed block of customers, so their bytes do not depend on how
many blocks were processed at once. All timestamps are ``timestamp[us, tz=UTC]``.
"""

from __future__ import annotations

import pyarrow as pa

from uplift_engine.vocabulary import CONTACTS_DATASET, EVENTS_DATASET
from uplift_engine.vocabulary import EVENT_TYPES as EVENT_TYPES  # the lake's event types

CUSTOMERS = "raw/customers"
EVENTS = EVENTS_DATASET
CAMPAIGNS = "raw/campaigns"
ASSIGNMENTS = "raw/campaign_assignments"
OUTCOMES = "raw/campaign_outcomes"
CONTACTS = CONTACTS_DATASET
TRUTH = "truth/campaign_truth"
CAMPAIGN_TABLES = "curated/campaign_table"
QUARANTINE = "quarantine"

TIMESTAMP = pa.timestamp("us", tz="UTC")


CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("age", pa.int16()),
        ("income_m_vnd", pa.float64()),
        ("tenure_months", pa.int16()),
        ("segment", pa.string()),
        ("region", pa.string()),
        ("preferred_channel", pa.string()),
        ("products_held", pa.int8()),
        ("balance_m_vnd", pa.float64()),
        ("biometric_enrolled", pa.bool_()),
    ]
)

EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("type", pa.string()),
        ("ts", TIMESTAMP),
        ("amount", pa.float64()),
    ]
)

CAMPAIGNS_SCHEMA = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("arm", pa.string()),
        ("is_control", pa.bool_()),
        ("share", pa.float64()),
        ("starts_at", TIMESTAMP),
        ("outcome_days", pa.int16()),
    ]
)

ASSIGNMENTS_SCHEMA = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("customer_id", pa.int64()),
        ("assigned_at", TIMESTAMP),
        ("arm", pa.string()),
        ("channel", pa.string()),
    ]
)
"""``channel``: the channel of the session in which the customer was assigned (app, web,
branch or contact_center; null when unknown) — the context request-time features read in
training as the service reads it from the request. Optional: a dataset written before it
existed, or by a writer that does not know it, reads as null."""

OUTCOMES_SCHEMA = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("customer_id", pa.int64()),
        ("converted", pa.int8()),
        ("revenue", pa.float64()),
    ]
)


CONTACTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("customer_id", pa.int64()),
        ("type", pa.string()),
        ("ts", TIMESTAMP),
        ("offer", pa.string()),
        ("channel", pa.string()),
        ("response", pa.string()),
    ]
)
"""The contact history: ``offer_sent`` (an offer made, in a channel) and ``offer_response``
(``accepted``, ``declined`` or ``ignored``), what contact policies count
(:mod:`uplift_engine.features.contacts`). ``event_id`` is a decision's request id for the
offers the service made, so a decision and its contact are one."""


def truth_column(outcome: str, arm: str) -> str:
    """The truth dataset's column for the expected ``outcome`` under ``arm``.

    ``true_converted_<arm>`` is the true conversion probability, ``true_revenue_<arm>`` the
    expected revenue (conversion probability × mean revenue of a converter). Any truth table
    that follows this naming can be given to ``uplift evaluate --truth``.
    """
    return f"true_{outcome}_{arm}"


def expected_column(outcome: str, arm: str) -> str:
    """The truth dataset's column for the expected ``outcome`` under ``arm`` given the traits.

    ``expected_converted_<arm>`` / ``expected_revenue_<arm>`` average the ``true_`` values over
    what the simulator draws per customer besides their traits (baseline group, noise, type,
    effect size): the conditional effect that a model of the customer's behaviour can estimate
    and that confidence intervals are judged against (docs/simulator.md).
    """
    return f"expected_{outcome}_{arm}"


def customer_type_column(offer: str) -> str:
    """The truth dataset's column with the customer's type for ``offer``."""
    return f"type_{offer}"


def campaign_table_path(campaign_id: str) -> str:
    """Where the campaign table of ``campaign_id`` lives, relative to the lake root."""
    return f"{CAMPAIGN_TABLES}/{campaign_id}"


def part_name(index: int) -> str:
    """The name of part file ``index`` of a dataset."""
    return f"part-{index:05d}.parquet"
