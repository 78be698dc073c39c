"""What the simulated bank looks like: customers, history window, campaigns and their truth.

Invariants kept here, so that nothing downstream re-checks them: every share set sums to 1
(within 1e-6); each campaign has at least two arms with positive shares, the control among them,
arm names usable in column names (``[A-Za-z0-9_]+``) and unique campaign ids; the type
thresholds satisfy 0 < effect_threshold < sure_thing_threshold ≤ 0.5; ``history_end`` is UTC.
Every invalid value raises :class:`~uplift_engine.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from uplift_engine.config.files import read_mapping
from uplift_engine.errors import quote_values
from uplift_engine.simulate.offers import OfferProfile
from uplift_engine.simulate.strict import StrictModel

CUSTOMER_TYPES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
"""The four customer types of docs/design.md, in the order of the type codes."""

VIETNAM_REGIONS: dict[str, float] = {
    "Red River Delta": 0.23,
    "Northern Midlands and Mountains": 0.12,
    "North Central and Central Coast": 0.20,
    "Central Highlands": 0.06,
    "Southeast": 0.20,
    "Mekong River Delta": 0.19,
}
DEFAULT_ARMS: dict[str, float] = {
    "control": 0.25,
    "cashback": 0.25,
    "fee_waiver": 0.30,
    "bonus_points": 0.20,
}
DEFAULT_HISTORY_END = datetime(2026, 10, 1, tzinfo=UTC)
SHARE_TOLERANCE = 1e-6
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ARM_CHARS = "A-Za-z0-9_"


def _check_sum(shares: dict[str, float], what: str) -> dict[str, float]:
    total = math.fsum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        listed = ", ".join(f"{k}={v:g}" for k, v in shares.items())
        raise ValueError(f"{what} must sum to 1, got {total:.6g} ({listed})")
    return shares


class TypeShares(StrictModel):
    """Population share of each customer type, for every offer of a campaign."""

    persuadable: float = Field(default=0.20, ge=0, le=1)
    sure_thing: float = Field(default=0.15, ge=0, le=1)
    lost_cause: float = Field(default=0.55, ge=0, le=1)
    sleeping_dog: float = Field(default=0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> TypeShares:
        _check_sum(self.model_dump(), "type shares")
        return self


class SegmentShares(StrictModel):
    """Share of customers in each segment; ``priority`` is the VIP tier."""

    mass: float = Field(default=0.75, ge=0, le=1)
    affluent: float = Field(default=0.20, ge=0, le=1)
    priority: float = Field(default=0.05, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SegmentShares:
        _check_sum(self.model_dump(), "segment shares")
        return self


class CampaignSpec(StrictModel):
    """One randomised campaign: its arms and shares, its control, and its true effects."""

    campaign_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    arms: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_ARMS),
        description="Arm name -> assignment share (control included); shares sum to 1.",
    )
    control: str = Field(default="control", validate_default=True)
    type_shares: TypeShares = Field(default_factory=TypeShares)
    effect_threshold: float = Field(
        default=0.02, gt=0, lt=0.5, description="δ: |p_offer − p_control| that counts as an effect."
    )
    sure_thing_threshold: float = Field(
        default=0.05,
        gt=0,
        le=0.5,
        validate_default=True,
        description="θ: p_control from which one is a sure thing.",
    )
    outcome_days: int = Field(default=14, ge=1, le=365)
    assignment_days: int = Field(
        default=3, ge=1, le=365, description="Assignments spread over the window's last days."
    )
    audience_share: float = Field(
        default=1.0, gt=0, le=1, description="Share of customers drawn at random into the campaign."
    )
    revenue_mean: float = Field(
        default=300.0,
        gt=0,
        description="Mean revenue of a control converter of median income (VND thousands).",
    )
    offers: dict[str, OfferProfile] = Field(
        default_factory=dict, description="Profiles overriding the built-in ones, by offer name."
    )

    @field_validator("arms")
    @classmethod
    def _arms(cls, arms: dict[str, float]) -> dict[str, float]:
        if len(arms) < 2:
            raise ValueError(f"a campaign needs a control and an offer, got {len(arms)} arm")
        for name, share in arms.items():
            if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
                raise ValueError(f"arm name {name!r} must use only the characters {_ARM_CHARS}")
            if not share > 0:
                raise ValueError(f"arm {name!r} needs a positive share, got {share:g}")
        return _check_sum(arms, "arm shares")

    @field_validator("control")
    @classmethod
    def _control(cls, control: str, info: ValidationInfo) -> str:
        arms = info.data.get("arms")
        if arms is not None and control not in arms:
            raise ValueError(f"control {control!r} is not among the arms: {quote_values(arms)}")
        return control

    @field_validator("sure_thing_threshold")
    @classmethod
    def _thresholds(cls, theta: float, info: ValidationInfo) -> float:
        delta = info.data.get("effect_threshold")
        if delta is not None and delta >= theta:
            raise ValueError(
                f"sure_thing_threshold ({theta:g}) must be above effect_threshold ({delta:g})"
            )
        return theta

    @field_validator("offers")
    @classmethod
    def _offers(
        cls, offers: dict[str, OfferProfile], info: ValidationInfo
    ) -> dict[str, OfferProfile]:
        arms, control = info.data.get("arms"), info.data.get("control")
        if arms is None or control is None:
            return offers
        unknown = [name for name in offers if name not in arms or name == control]
        if unknown:
            offered = [a for a in arms if a != control]
            raise ValueError(
                f"profiles given for {quote_values(unknown)}, which are not offers of the "
                f"campaign: {quote_values(offered)}"
            )
        return offers

    @property
    def arm_names(self) -> list[str]:
        """The arms in configuration order (control included)."""
        return list(self.arms)

    @property
    def offer_names(self) -> list[str]:
        """The arms other than the control, in configuration order."""
        return [a for a in self.arms if a != self.control]


class SimulationConfig(StrictModel):
    """The whole synthetic bank; the same config and seed always give the same bytes."""

    customers: int = Field(gt=0, le=1_000_000_000)
    seed: int = Field(default=42, ge=0)
    history_days: int = Field(default=30, ge=1, le=3650)
    history_end: datetime = Field(
        default=DEFAULT_HISTORY_END, description="End of the event history (UTC; naive = UTC)."
    )
    block_size: int = Field(
        default=50_000,
        ge=100,
        le=1_000_000,
        description="Customers per random block and part file; part of the model, not tuning.",
    )
    segment_shares: SegmentShares = Field(default_factory=SegmentShares)
    region_shares: dict[str, float] = Field(default_factory=lambda: dict(VIETNAM_REGIONS))
    campaigns: list[CampaignSpec] = Field(
        default_factory=lambda: [CampaignSpec(campaign_id="c2026q4")],
        min_length=1,
        validate_default=True,
    )

    @field_validator("history_end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("region_shares")
    @classmethod
    def _regions(cls, shares: dict[str, float]) -> dict[str, float]:
        if not shares:
            raise ValueError("at least one region is needed")
        for name, share in shares.items():
            if not share >= 0:
                raise ValueError(f"region {name!r} needs a share ≥ 0, got {share:g}")
        return _check_sum(shares, "region shares")

    @field_validator("campaigns")
    @classmethod
    def _campaigns(cls, campaigns: list[CampaignSpec], info: ValidationInfo) -> list[CampaignSpec]:
        ids = [c.campaign_id for c in campaigns]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"campaign ids must be unique, repeated: {quote_values(repeated)}")
        days = info.data.get("history_days")
        for campaign in campaigns:
            if days is not None and campaign.assignment_days > days:
                raise ValueError(
                    f"campaign {campaign.campaign_id!r}: assignment_days "
                    f"({campaign.assignment_days}) exceeds history_days ({days})"
                )
        return campaigns

    @property
    def history_start(self) -> datetime:
        """Start of the event history (UTC, inclusive); ``history_end`` is exclusive."""
        return self.history_end - timedelta(days=self.history_days)

    @property
    def blocks(self) -> int:
        """Number of customer blocks (and part files per customer dataset)."""
        return -(-self.customers // self.block_size)


def epoch_us(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC (exact, no float rounding)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def load_simulation_config(path: str | Path, **overrides: Any) -> SimulationConfig:
    """Read a YAML or JSON simulation config; ``overrides`` (e.g. ``customers=``) win over it."""
    loaded = read_mapping(path, "simulation config", field="config", empty_ok=True)
    data = {**loaded, **{k: v for k, v in overrides.items() if v is not None}}
    return SimulationConfig(**data)
