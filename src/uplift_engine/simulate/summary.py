"""What a simulation produced: rows per dataset, where they are, and what the truth says.

Each block returns a :class:`BlockStats` of counts and sums; the run adds them up in block order
(so float sums do not depend on which worker finished first) into a
:class:`SimulationSummary`: rows and paths per dataset, and per campaign the realised and the
expected conversion rate and mean revenue per arm, the realised type shares and the true mean
effect per offer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from uplift_engine.simulate.config import CUSTOMER_TYPES, CampaignSpec


@dataclass
class CampaignStats:
    """Sums over one block's members of one campaign (arrays indexed by arm / offer)."""

    members: np.ndarray  # per arm
    conversions: np.ndarray  # per arm
    revenue: np.ndarray  # per arm, realised
    expected_conversions: np.ndarray  # per arm, sum of the true p of the assigned arm
    expected_revenue: np.ndarray  # per arm, sum of the true expected revenue of the assigned arm
    type_counts: np.ndarray  # per offer × type, over all members
    effect_sum: np.ndarray  # per offer, sum of p_offer − p_control over all members

    def add(self, other: CampaignStats) -> None:
        """Add another block's sums to these, in place."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class BlockStats:
    """Rows written and campaign sums of one block."""

    block: int
    rows: dict[str, int]
    campaigns: dict[str, CampaignStats]


@dataclass(frozen=True)
class ArmSummary:
    """One arm of a campaign: its size, realised outcome, and what the truth expected."""

    customers: int
    conversions: int
    conversion_rate: float
    expected_conversion_rate: float
    mean_revenue: float
    expected_mean_revenue: float


@dataclass(frozen=True)
class CampaignSummary:
    """One campaign: arms, realised type shares and true mean effect per offer."""

    campaign_id: str
    control: str
    members: int
    arms: dict[str, ArmSummary]
    type_shares: dict[str, dict[str, float]]
    true_effect: dict[str, float]


@dataclass(frozen=True)
class SimulationSummary:
    """The result of :func:`~uplift_engine.simulate.simulate_bank`."""

    customers: int
    blocks: int
    seed: int
    seconds: float
    rows: dict[str, int]
    paths: dict[str, str]
    campaigns: list[CampaignSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The summary as plain JSON-ready data."""
        return asdict(self)


def summarise_campaign(campaign: CampaignSpec, stats: CampaignStats) -> CampaignSummary:
    """Turn a campaign's summed stats into rates and shares."""
    arms: dict[str, ArmSummary] = {}
    for i, arm in enumerate(campaign.arm_names):
        n = int(stats.members[i])
        arms[arm] = ArmSummary(
            customers=n,
            conversions=int(stats.conversions[i]),
            conversion_rate=_ratio(stats.conversions[i], n),
            expected_conversion_rate=_ratio(stats.expected_conversions[i], n),
            mean_revenue=_ratio(stats.revenue[i], n),
            expected_mean_revenue=_ratio(stats.expected_revenue[i], n),
        )
    members = int(stats.members.sum())
    types = {
        offer: {t: _ratio(stats.type_counts[j, k], members) for k, t in enumerate(CUSTOMER_TYPES)}
        for j, offer in enumerate(campaign.offer_names)
    }
    effects = {
        offer: _ratio(stats.effect_sum[j], members) for j, offer in enumerate(campaign.offer_names)
    }
    return CampaignSummary(
        campaign_id=campaign.campaign_id,
        control=campaign.control,
        members=members,
        arms=arms,
        type_shares=types,
        true_effect=effects,
    )


def _ratio(numerator: float | np.floating | np.integer, denominator: int) -> float:
    return float(numerator) / denominator if denominator else float("nan")
