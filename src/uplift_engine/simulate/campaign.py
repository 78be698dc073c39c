"""Randomised campaigns: who was in, which arm, when, what happened, and the truth behind it.

Membership (``audience_share``), assignment time and arm are drawn from streams of their own,
independent of every customer attribute: the arm by the configured shares, ``assigned_at``
uniform over the last ``assignment_days`` of the history window (so some of a customer's events
fall after their assignment — the features layer must leave those out), and the session's
``channel`` (the customer's preferred channel with probability
:data:`PREFERRED_CHANNEL_SHARE`, else any channel at random; it does not change the response).
The outcome is drawn
from the truth of the assigned arm: ``converted ~ Bernoulli(p_arm)``, and a converter's
revenue is lognormal with the arm's mean converter revenue (σ = 0.8 on the log scale);
non-converters have revenue 0. The truth dataset holds every arm of every campaign (columns
of arms a campaign lacks are null); a block's rows go campaign by campaign, in customer order.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa

from uplift_engine.lake import layout
from uplift_engine.simulate.config import (
    CUSTOMER_TYPES,
    CampaignSpec,
    SimulationConfig,
    epoch_us,
)
from uplift_engine.simulate.events import US_PER_DAY
from uplift_engine.simulate.population import Population, categorical, labels
from uplift_engine.simulate.response import (
    Calibration,
    TrueResponse,
    expected_response,
    true_response,
)
from uplift_engine.simulate.streams import BLOCK_DOMAIN, Kind, stream
from uplift_engine.simulate.summary import CampaignStats
from uplift_engine.vocabulary import CHANNELS

REVENUE_LOG_SIGMA = 0.8
PREFERRED_CHANNEL_SHARE = 0.7


def campaign_start(config: SimulationConfig, campaign: CampaignSpec) -> int:
    """First possible assignment time (UTC microseconds)."""
    return epoch_us(config.history_end - timedelta(days=campaign.assignment_days))


def campaigns_table(config: SimulationConfig) -> pa.Table:
    """The raw campaigns dataset: one row per campaign arm."""
    rows: dict[str, list[object]] = {name: [] for name in layout.CAMPAIGNS_SCHEMA.names}
    for campaign in config.campaigns:
        for arm, share in campaign.arms.items():
            rows["campaign_id"].append(campaign.campaign_id)
            rows["arm"].append(arm)
            rows["is_control"].append(arm == campaign.control)
            rows["share"].append(share)
            rows["starts_at"].append(campaign_start(config, campaign))
            rows["outcome_days"].append(campaign.outcome_days)
    return pa.Table.from_pydict(rows, schema=layout.CAMPAIGNS_SCHEMA)


def truth_schema(config: SimulationConfig) -> pa.Schema:
    """Schema of the truth dataset, for every arm of every campaign.

    Ids, then per arm the true conversion probability, then per arm the expected revenue, then
    per offer the type, then the same two given the traits only (``expected_*``); arms and
    offers in order of first appearance among the campaigns.
    """
    arms: list[str] = []
    offers: list[str] = []
    for campaign in config.campaigns:
        arms += [a for a in campaign.arm_names if a not in arms]
        offers += [o for o in campaign.offer_names if o not in offers]
    fields = [pa.field("campaign_id", pa.string()), pa.field("customer_id", pa.int64())]
    fields += [pa.field(layout.truth_column("converted", a), pa.float64()) for a in arms]
    fields += [pa.field(layout.truth_column("revenue", a), pa.float64()) for a in arms]
    fields += [pa.field(layout.customer_type_column(o), pa.string()) for o in offers]
    fields += [pa.field(layout.expected_column("converted", a), pa.float64()) for a in arms]
    fields += [pa.field(layout.expected_column("revenue", a), pa.float64()) for a in arms]
    return pa.schema(fields)


def run_campaign(
    config: SimulationConfig,
    block: int,
    campaign: CampaignSpec,
    calibration: Calibration,
    population: Population,
    schema: pa.Schema,
) -> tuple[pa.Table, pa.Table, pa.Table, CampaignStats]:
    """Assignments, outcomes and truth of one campaign for one block, and their sums."""
    n = population.size
    cid = campaign.campaign_id
    truth = true_response(config, block, campaign, calibration, population)
    member = stream(config.seed, BLOCK_DOMAIN, block, Kind.AUDIENCE, cid).random(n) < (
        campaign.audience_share
    )
    offset = stream(config.seed, BLOCK_DOMAIN, block, Kind.ASSIGNMENT_TIME, cid).integers(
        0, campaign.assignment_days * US_PER_DAY, size=n, dtype=np.int64
    )
    channel_rng = stream(config.seed, BLOCK_DOMAIN, block, Kind.ASSIGNMENT_CHANNEL, cid)
    preferred = channel_rng.random(n) < PREFERRED_CHANNEL_SHARE
    other = channel_rng.integers(0, len(CHANNELS), size=n)
    channel = np.where(preferred, population.preferred_channel, other)
    arm_rng = stream(config.seed, BLOCK_DOMAIN, block, Kind.ARM, cid)
    arm = categorical(arm_rng, np.array(list(campaign.arms.values())), n)
    p = np.column_stack([truth.converted[a] for a in campaign.arm_names])
    mean_rev = np.column_stack([truth.converter_revenue[a] for a in campaign.arm_names])
    rows = np.arange(n)
    p_assigned, rev_assigned = p[rows, arm], mean_rev[rows, arm]
    u = stream(config.seed, BLOCK_DOMAIN, block, Kind.CONVERSION, cid).random(n)
    converted = u < p_assigned
    z = stream(config.seed, BLOCK_DOMAIN, block, Kind.REVENUE, cid).standard_normal(n)
    draw = rev_assigned * np.exp(REVENUE_LOG_SIGMA * z - 0.5 * REVENUE_LOG_SIGMA**2)
    revenue = np.where(converted, np.round(draw, 3), 0.0)

    idx = np.flatnonzero(member)
    ids = pa.array(population.customer_id[idx])
    cids = pa.array([cid] * len(idx), type=pa.string())
    assignments = pa.Table.from_arrays(
        [
            cids,
            ids,
            pa.array(campaign_start(config, campaign) + offset[idx], type=layout.TIMESTAMP),
            labels(campaign.arm_names, arm[idx]),
            labels(CHANNELS, channel[idx]),
        ],
        schema=layout.ASSIGNMENTS_SCHEMA,
    )
    outcomes = pa.Table.from_arrays(
        [cids, ids, pa.array(converted[idx].astype(np.int8)), pa.array(revenue[idx])],
        schema=layout.OUTCOMES_SCHEMA,
    )
    stats = _stats(campaign, truth, idx, arm[idx], converted[idx], revenue[idx])
    expected = expected_response(campaign, calibration, population)
    truth_table = _truth_table(campaign, truth, expected, idx, cids, ids, schema)
    return assignments, outcomes, truth_table, stats


def _truth_table(
    campaign: CampaignSpec,
    truth: TrueResponse,
    expected: dict[str, np.ndarray],
    idx: np.ndarray,
    cids: pa.Array,
    ids: pa.Array,
    schema: pa.Schema,
) -> pa.Table:
    columns: dict[str, pa.Array] = {"campaign_id": cids, "customer_id": ids}
    for arm in campaign.arm_names:
        columns[layout.truth_column("converted", arm)] = pa.array(truth.converted[arm][idx])
        columns[layout.truth_column("revenue", arm)] = pa.array(truth.revenue(arm)[idx])
    for offer in campaign.offer_names:
        codes = truth.types[offer][idx]
        columns[layout.customer_type_column(offer)] = labels(CUSTOMER_TYPES, codes)
    for arm in campaign.arm_names:
        p = expected[arm][idx]
        columns[layout.expected_column("converted", arm)] = pa.array(p)
        revenue = p * truth.converter_revenue[arm][idx]
        columns[layout.expected_column("revenue", arm)] = pa.array(revenue)
    arrays = [columns.get(f.name, pa.nulls(len(idx), type=f.type)) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _stats(
    campaign: CampaignSpec,
    truth: TrueResponse,
    idx: np.ndarray,
    arm: np.ndarray,
    converted: np.ndarray,
    revenue: np.ndarray,
) -> CampaignStats:
    k = len(campaign.arm_names)
    expected_p = np.zeros(k)
    expected_rev = np.zeros(k)
    for i, name in enumerate(campaign.arm_names):
        chosen = idx[arm == i]
        expected_p[i] = truth.converted[name][chosen].sum()
        expected_rev[i] = truth.revenue(name)[chosen].sum()
    offers = campaign.offer_names
    control = truth.converted[campaign.control][idx]
    type_counts = np.array(
        [np.bincount(truth.types[o][idx], minlength=len(CUSTOMER_TYPES)) for o in offers]
    )
    return CampaignStats(
        members=np.bincount(arm, minlength=k),
        conversions=np.bincount(arm, weights=converted, minlength=k).astype(np.int64),
        revenue=np.bincount(arm, weights=revenue, minlength=k),
        expected_conversions=expected_p,
        expected_revenue=expected_rev,
        type_counts=type_counts.reshape(len(offers), len(CUSTOMER_TYPES)),
        effect_sum=np.array([(truth.converted[o][idx] - control).sum() for o in offers]),
    )
