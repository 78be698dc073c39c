"""How an offer works on a customer: which latent traits make it persuade or annoy.

An :class:`OfferProfile` holds the weights of the latent traits (standardised, see
:mod:`.population`) on two logits: the chance that a customer who would rarely convert anyway is
*persuaded* by the offer, and the chance that a customer who would convert anyway is *put off*
by it (a sleeping dog). Because the same traits drive the customer's digital events, behaviour
seen in the events predicts who each offer persuades. Offers named like the built-ins get their
profile; any other offer gets a built-in profile in turn, by its position among the offers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from uplift_engine.simulate.strict import StrictModel

Trait = Literal["engagement", "card_spend", "transacting", "affluence", "loyalty"]
TRAITS: tuple[Trait, ...] = ("engagement", "card_spend", "transacting", "affluence", "loyalty")
"""The latent traits an offer's response depends on, in the order of the response matrix."""


class OfferProfile(StrictModel):
    """Weights of the latent traits on an offer's persuade and annoy logits, and its size."""

    persuade: dict[Trait, float] = Field(
        default_factory=dict,
        description="Trait weights on the logit of P(persuadable | low baseline).",
    )
    annoy: dict[Trait, float] = Field(
        default_factory=dict,
        description="Trait weights on the logit of P(sleeping dog | high baseline).",
    )
    effect: float = Field(
        default=0.08,
        gt=0,
        le=0.5,
        description="Mean extra conversion probability of a persuadable above the threshold.",
    )
    revenue_multiplier: float = Field(
        default=1.0, gt=0, le=10, description="Mean revenue of a converter, relative to control."
    )


BUILTIN_PROFILES: dict[str, OfferProfile] = {
    "cashback": OfferProfile(
        persuade={"card_spend": 1.6, "engagement": 0.3},
        annoy={"affluence": 0.8, "card_spend": -0.5},
        effect=0.10,
        revenue_multiplier=1.0,
    ),
    "fee_waiver": OfferProfile(
        persuade={"transacting": 1.6, "affluence": -0.4},
        annoy={"loyalty": 0.8, "transacting": -0.5},
        effect=0.08,
        revenue_multiplier=0.9,
    ),
    "bonus_points": OfferProfile(
        persuade={"engagement": 1.6, "loyalty": -0.3},
        annoy={"engagement": -1.0},
        effect=0.09,
        revenue_multiplier=1.05,
    ),
}
"""Cashback persuades card spenders, a fee waiver heavy transferers, bonus points app users."""


def profile_for(offer: str, position: int, overrides: dict[str, OfferProfile]) -> OfferProfile:
    """The profile of ``offer``: an override, else the built-in of that name, else by position."""
    if offer in overrides:
        return overrides[offer]
    if offer in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[offer]
    builtins = list(BUILTIN_PROFILES.values())
    return builtins[position % len(builtins)]
