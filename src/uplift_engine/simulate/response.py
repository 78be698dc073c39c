"""The truth: each customer's conversion probability and expected revenue under every arm.

Per campaign, a customer has a *baseline group*: high (would convert anyway) with probability
``sigmoid(a_high + 1.2·b)``, where ``b = 0.6·loyalty + 0.3·engagement + 0.3·affluence``; else
low. The control probability lies in ``[θ, θ + 0.45·(1−θ))`` for the high group and in
``(0, θ)`` for the low one, rising with ``b``. Per offer, a low customer is *persuaded* with
probability ``sigmoid(a_persuade + w·traits)``, a high one *put off* with probability
``sigmoid(a_annoy + v·traits)`` (weights from the offer's :class:`~.offers.OfferProfile`).
Persuaded: ``p_offer = p_control + δ + effect × Gamma(2, ½) × e^{0.3·score}``; put off:
``p_offer = p_control − δ − 0.9·Beta(2, 2)·(p_control − δ)``; everyone else moves by less than
½δ. The type is then *defined* from the true values (:func:`classify`), which by construction
returns the group drawn. The intercepts ``a_*`` are calibrated (:func:`calibrate`) on a fixed
reference sample of 200,000 customers so that the expected type shares equal the configured
ones. Revenue of a converter is lognormal with mean ``revenue_mean × √(income / median) ×
multiplier(arm)``, so the true expected revenue is exactly ``p × that mean``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uplift_engine.simulate.config import CUSTOMER_TYPES, CampaignSpec, SimulationConfig
from uplift_engine.simulate.offers import TRAITS, OfferProfile, Trait, profile_for
from uplift_engine.simulate.population import (
    MEDIAN_INCOME_M_VND,
    Population,
    Traits,
    draw_traits,
    sigmoid,
)
from uplift_engine.simulate.streams import BLOCK_DOMAIN, CALIBRATION_DOMAIN, Kind, stream

PERSUADABLE, SURE_THING, LOST_CAUSE, SLEEPING_DOG = range(len(CUSTOMER_TYPES))
CALIBRATION_SIZE = 200_000
HIGH_BASELINE_WEIGHT = 1.2
HIGH_BASELINE_SPAN = 0.45
_MARGIN = 1e-6  # keeps drawn effects clear of the thresholds after float rounding


@dataclass(frozen=True)
class Calibration:
    """Calibrated intercepts of one campaign: high-baseline, and persuade / annoy per offer."""

    high: float
    persuade: dict[str, float]
    annoy: dict[str, float]


@dataclass(frozen=True)
class TrueResponse:
    """One block's truth for one campaign, arrays aligned with the block's customers."""

    converted: dict[str, np.ndarray]
    """arm -> true conversion probability."""
    converter_revenue: dict[str, np.ndarray]
    """arm -> mean revenue of a converter (VND thousands)."""
    types: dict[str, np.ndarray]
    """offer -> type code (index into CUSTOMER_TYPES)."""

    def revenue(self, arm: str) -> np.ndarray:
        """Expected revenue under ``arm``: conversion probability × mean converter revenue."""
        return self.converted[arm] * self.converter_revenue[arm]


def classify(p_control: np.ndarray, p_offer: np.ndarray, delta: float, theta: float) -> np.ndarray:
    """Type codes from true values: the documented thresholds.

    persuadable: ``p_offer − p_control ≥ δ``; sleeping dog: ``p_offer − p_control ≤ −δ``;
    otherwise sure thing when ``p_control ≥ θ`` and lost cause when ``p_control < θ``.
    """
    effect = p_offer - p_control
    codes = np.where(p_control >= theta, SURE_THING, LOST_CAUSE).astype(np.int8)
    codes[effect >= delta] = PERSUADABLE
    codes[effect <= -delta] = SLEEPING_DOG
    return codes


def response_traits(traits: Traits) -> np.ndarray:
    """The trait matrix the offers respond to, columns in :data:`~.offers.TRAITS` order."""
    card_spend = np.where(traits.has_card, traits.spending, -2.0)
    by_name = {
        "engagement": traits.engagement,
        "card_spend": card_spend,
        "transacting": traits.transacting,
        "affluence": traits.affluence,
        "loyalty": traits.loyalty,
    }
    return np.column_stack([by_name[name] for name in TRAITS])


def baseline_score(traits: Traits) -> np.ndarray:
    """The score ``b`` that raises the control conversion probability."""
    return 0.6 * traits.loyalty + 0.3 * traits.engagement + 0.3 * traits.affluence


def calibrate(config: SimulationConfig) -> dict[str, Calibration]:
    """Intercepts per campaign so that the expected type shares match the configured ones."""
    rng = stream(config.seed, CALIBRATION_DOMAIN, 0, Kind.TRAITS)
    traits = draw_traits(rng, CALIBRATION_SIZE)
    matrix = response_traits(traits)
    base = HIGH_BASELINE_WEIGHT * baseline_score(traits)
    result: dict[str, Calibration] = {}
    for campaign in config.campaigns:
        shares = campaign.type_shares
        ones = np.ones(CALIBRATION_SIZE)
        high = _solve_intercept(base, ones, shares.sure_thing + shares.sleeping_dog)
        p_high = sigmoid(high + base)
        persuade: dict[str, float] = {}
        annoy: dict[str, float] = {}
        for offer, profile in _profiles(campaign):
            persuade[offer] = _solve_intercept(
                matrix @ _weights(profile.persuade), 1.0 - p_high, shares.persuadable
            )
            annoy[offer] = _solve_intercept(
                matrix @ _weights(profile.annoy), p_high, shares.sleeping_dog
            )
        result[campaign.campaign_id] = Calibration(high, persuade, annoy)
    return result


def true_response(
    config: SimulationConfig,
    block: int,
    campaign: CampaignSpec,
    calibration: Calibration,
    population: Population,
) -> TrueResponse:
    """The truth of one campaign for one block's customers, from the block's own streams."""
    n = population.size
    delta, theta = campaign.effect_threshold, campaign.sure_thing_threshold
    cid = campaign.campaign_id
    matrix = response_traits(population.traits)
    b = baseline_score(population.traits)

    rng = stream(config.seed, BLOCK_DOMAIN, block, Kind.BASELINE, cid)
    high = rng.random(n) < sigmoid(calibration.high + HIGH_BASELINE_WEIGHT * b)
    level = 0.8 * b + 0.5 * rng.standard_normal(n)
    p_control = np.where(
        high,
        theta + HIGH_BASELINE_SPAN * (1.0 - theta) * sigmoid(level - 1.2),
        theta * sigmoid(level - 0.8),
    )
    converter_mean = campaign.revenue_mean * np.sqrt(population.income_m_vnd / MEDIAN_INCOME_M_VND)

    converted = {campaign.control: p_control}
    revenue = {campaign.control: converter_mean}
    types: dict[str, np.ndarray] = {}
    for offer, profile in _profiles(campaign):
        u = stream(config.seed, BLOCK_DOMAIN, block, Kind.TYPE, cid, offer).random(n)
        persuade = sigmoid(calibration.persuade[offer] + matrix @ _weights(profile.persuade))
        annoy = sigmoid(calibration.annoy[offer] + matrix @ _weights(profile.annoy))
        persuaded = ~high & (u < persuade)
        put_off = high & (u < annoy)

        rng = stream(config.seed, BLOCK_DOMAIN, block, Kind.EFFECT, cid, offer)
        gain, loss, jitter = rng.gamma(2.0, 0.5, n), rng.beta(2.0, 2.0, n), rng.uniform(-1, 1, n)
        score = _unit_score(matrix, profile)
        floor = delta * (1.0 + _MARGIN)
        lift = floor + profile.effect * gain * np.exp(0.3 * score - 0.045)
        lift = np.minimum(lift, np.maximum(0.98 - p_control, floor))
        drop = floor + 0.9 * loss * np.maximum(p_control - floor, 0.0)
        small = np.minimum(0.45 * delta, 0.3 * p_control) * jitter
        effect = np.where(persuaded, lift, np.where(put_off, -drop, small))
        p_offer = np.clip(p_control + effect, 0.0, 1.0)

        converted[offer] = p_offer
        revenue[offer] = converter_mean * profile.revenue_multiplier
        types[offer] = classify(p_control, p_offer, delta, theta)
    return TrueResponse(converted=converted, converter_revenue=revenue, types=types)


def _profiles(campaign: CampaignSpec) -> list[tuple[str, OfferProfile]]:
    return [
        (offer, profile_for(offer, i, campaign.offers))
        for i, offer in enumerate(campaign.offer_names)
    ]


def _weights(weights: dict[Trait, float]) -> np.ndarray:
    return np.array([weights.get(name, 0.0) for name in TRAITS])


def _unit_score(matrix: np.ndarray, profile: OfferProfile) -> np.ndarray:
    """The persuade score scaled to about unit variance (zero when the offer has no weights)."""
    w = _weights(profile.persuade)
    norm = float(np.sqrt(w @ w))
    return matrix @ (w / norm) if norm > 0 else np.zeros(len(matrix))


def _solve_intercept(score: np.ndarray, weight: np.ndarray, target: float) -> float:
    """``a`` with ``mean(weight · sigmoid(a + score)) = target`` (safeguarded Newton)."""
    mass = float(weight.mean())
    if target <= 0.0:
        return -np.inf
    if target >= mass * (1.0 - 1e-12):
        return np.inf
    lo, hi, a = -60.0, 60.0, 0.0
    for _ in range(200):
        s = sigmoid(a + score)
        gap = float((weight * s).mean()) - target
        if abs(gap) < 1e-13:
            break
        if gap > 0:
            hi = a
        else:
            lo = a
        slope = float((weight * s * (1.0 - s)).mean())
        step = a - gap / slope if slope > 0 else np.nan
        a = step if lo < step < hi else 0.5 * (lo + hi)
    return a


GAUSS_HERMITE_NODES = 48
"""Nodes of the quadrature over the control level's noise ε (error below 1e-9 on the tests)."""
_GAIN_SCALE = 0.5  # the Gamma(2, ½) of a persuaded customer's lift


def expected_response(
    campaign: CampaignSpec, calibration: Calibration, population: Population
) -> dict[str, np.ndarray]:
    """Each customer's expected conversion probability under every arm, given their traits.

    The truth of :func:`true_response` averaged over everything drawn per customer *besides*
    the traits — the baseline group, the level noise ε, the type draw and the size of the
    effect — in closed form, with Gauss–Hermite quadrature over ε. This is the conditional
    effect a model of the customer's behaviour can aim at (``true_response`` adds a random type
    that no feature predicts); intervals are judged against it.
    """
    delta, theta = campaign.effect_threshold, campaign.sure_thing_threshold
    matrix = response_traits(population.traits)
    b = baseline_score(population.traits)
    p_high = sigmoid(calibration.high + HIGH_BASELINE_WEIGHT * b)
    nodes, weights = np.polynomial.hermite_e.hermegauss(GAUSS_HERMITE_NODES)
    weights = weights / weights.sum()
    level = 0.8 * b[:, None] + 0.5 * nodes[None, :]  # (n, nodes)
    pc_high = theta + HIGH_BASELINE_SPAN * (1.0 - theta) * sigmoid(level - 1.2)
    pc_low = theta * sigmoid(level - 0.8)
    p_control = p_high * (pc_high @ weights) + (1.0 - p_high) * (pc_low @ weights)
    floor = delta * (1.0 + _MARGIN)
    # put off: p_offer = max(p_control − drop, 0) with drop = floor + 0.9·Beta(2,2)·(p − floor)+
    mean_drop = np.where(pc_high > floor, floor + 0.45 * (pc_high - floor), pc_high) @ weights

    out = {campaign.control: p_control}
    for offer, profile in _profiles(campaign):
        persuade = sigmoid(calibration.persuade[offer] + matrix @ _weights(profile.persuade))
        annoy = sigmoid(calibration.annoy[offer] + matrix @ _weights(profile.annoy))
        scale = profile.effect * np.exp(0.3 * _unit_score(matrix, profile) - 0.045)
        cap = np.minimum(np.maximum(0.98 - pc_low, floor), 1.0 - pc_low)
        mean_lift = _mean_capped_gain(floor, scale[:, None], cap) @ weights
        effect = (1.0 - p_high) * persuade * mean_lift - p_high * annoy * mean_drop
        out[offer] = p_control + effect
    return out


def _mean_capped_gain(floor: float, scale: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """``E[min(floor + scale·G, cap)]`` for ``G ~ Gamma(2, ½)``, elementwise.

    ``E[min(G, t)] = ∫₀ᵗ P(G > g) dg = s·(2 − e^{−t/s}·(2 + t/s))`` with the scale ``s = ½``.
    """
    s = _GAIN_SCALE
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(scale > 0, (cap - floor) / scale, 0.0)
    t = np.maximum(t, 0.0)
    mean_min = s * (2.0 - np.exp(-t / s) * (2.0 + t / s))
    return np.minimum(floor + scale * mean_min, cap)
