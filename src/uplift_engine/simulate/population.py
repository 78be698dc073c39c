"""Customers: latent traits, and the static attributes the bank records about them.

Every customer has five correlated standard-normal latent traits — ``engagement`` (app use),
``spending`` (card spending), ``transacting`` (transfers), ``affluence`` and ``loyalty`` — and
a hidden card holding. The traits drive the recorded attributes (this module), the digital
events (:mod:`.events`) and each offer's true effect (:mod:`.response`); they are never written.
Attributes follow the raw customers schema of :mod:`uplift_engine.lake.layout` exactly;
``customer_id`` runs from 1 to ``customers``, block by block.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pyarrow as pa

from uplift_engine.lake import layout
from uplift_engine.simulate.config import SimulationConfig
from uplift_engine.simulate.streams import BLOCK_DOMAIN, Kind, stream
from uplift_engine.vocabulary import CHANNELS, SEGMENTS

TRAIT_NAMES = ("engagement", "spending", "transacting", "affluence", "loyalty")
TRAIT_CORRELATION = np.array(
    [
        [1.0, 0.3, 0.4, 0.1, 0.0],
        [0.3, 1.0, 0.3, 0.4, 0.1],
        [0.4, 0.3, 1.0, 0.3, 0.1],
        [0.1, 0.4, 0.3, 1.0, 0.3],
        [0.0, 0.1, 0.1, 0.3, 1.0],
    ]
)
_CHOLESKY = np.linalg.cholesky(TRAIT_CORRELATION)
MEDIAN_INCOME_M_VND = 11.0
"""Median monthly income (million VND); incomes and revenues scale around it."""


@dataclass(frozen=True)
class Traits:
    """Latent traits of ``n`` customers: standard normals (correlated) and card holding."""

    engagement: np.ndarray
    spending: np.ndarray
    transacting: np.ndarray
    affluence: np.ndarray
    loyalty: np.ndarray
    has_card: np.ndarray

    @property
    def size(self) -> int:
        """Number of customers."""
        return len(self.engagement)


@dataclass(frozen=True)
class Population:
    """One block of customers: ids, latent traits and recorded attributes (NumPy arrays)."""

    customer_id: np.ndarray
    traits: Traits
    age: np.ndarray
    income_m_vnd: np.ndarray
    tenure_months: np.ndarray
    segment: np.ndarray  # codes into SEGMENTS
    region: np.ndarray  # codes into the configured regions
    preferred_channel: np.ndarray  # codes into CHANNELS
    products_held: np.ndarray
    balance_m_vnd: np.ndarray
    biometric_enrolled: np.ndarray

    @property
    def size(self) -> int:
        """Number of customers."""
        return len(self.customer_id)


def draw_traits(rng: np.random.Generator, n: int) -> Traits:
    """Draw the latent traits of ``n`` customers."""
    z = rng.standard_normal((n, len(TRAIT_NAMES))) @ _CHOLESKY.T
    card_logit = 0.5 + 0.8 * z[:, 1] + 0.4 * z[:, 3]
    has_card = rng.random(n) < sigmoid(card_logit)
    columns = {name: np.ascontiguousarray(z[:, i]) for i, name in enumerate(TRAIT_NAMES)}
    return Traits(**columns, has_card=has_card)


def block_bounds(config: SimulationConfig, block: int) -> tuple[int, int]:
    """The 0-based customer index range ``[start, stop)`` of ``block``."""
    start = block * config.block_size
    return start, min(start + config.block_size, config.customers)


def draw_population(config: SimulationConfig, block: int) -> Population:
    """The customers of ``block``, from the block's own trait and attribute streams."""
    start, stop = block_bounds(config, block)
    n = stop - start
    traits = draw_traits(stream(config.seed, BLOCK_DOMAIN, block, Kind.TRAITS), n)
    rng = stream(config.seed, BLOCK_DOMAIN, block, Kind.ATTRIBUTES)
    noise = rng.standard_normal((n, 5))
    eng, aff, loy = traits.engagement, traits.affluence, traits.loyalty

    age = np.clip(np.rint(41.0 - 7.0 * eng + 5.0 * loy + 9.0 * noise[:, 0]), 18, 80)
    income = np.exp(np.log(MEDIAN_INCOME_M_VND) + 0.75 * aff + 0.3 * noise[:, 1])
    tenure = np.minimum(np.rint(np.exp(3.3 + 0.7 * loy + 0.4 * noise[:, 2])), (age - 18) * 12)
    shares = config.segment_shares
    cut_affluent = _normal_quantile(1.0 - shares.affluent - shares.priority)
    cut_priority = _normal_quantile(1.0 - shares.priority)
    segment = (aff >= cut_affluent).astype(np.int8) + (aff >= cut_priority).astype(np.int8)
    region = categorical(rng, np.array(list(config.region_shares.values())), n)
    channel_logits = np.column_stack(
        [
            1.0 + 1.2 * eng - 0.03 * (age - 40),
            0.2 + 0.3 * aff,
            -0.2 - 0.8 * eng + 0.03 * (age - 40),
            np.full(n, -1.5),
        ]
    )
    channel = np.argmax(channel_logits + rng.gumbel(size=(n, len(CHANNELS))), axis=1)
    products = 1 + traits.has_card + rng.poisson(np.exp(0.35 * loy + 0.25 * aff))
    balance = income * np.exp(0.3 + 0.6 * loy + 0.7 * noise[:, 3])
    biometric = rng.random(n) < sigmoid(0.4 + 1.4 * eng - 0.03 * (age - 40))
    return Population(
        customer_id=np.arange(start + 1, stop + 1, dtype=np.int64),
        traits=traits,
        age=age.astype(np.int16),
        income_m_vnd=np.round(income, 1),
        tenure_months=tenure.astype(np.int16),
        segment=segment,
        region=region.astype(np.int8),
        preferred_channel=channel.astype(np.int8),
        products_held=np.minimum(products, 12).astype(np.int8),
        balance_m_vnd=np.round(balance, 2),
        biometric_enrolled=biometric,
    )


def customers_table(population: Population, regions: list[str]) -> pa.Table:
    """The raw customers table of a block, in the layout's schema."""
    p = population
    columns = [
        pa.array(p.customer_id),
        pa.array(p.age),
        pa.array(p.income_m_vnd),
        pa.array(p.tenure_months),
        labels(SEGMENTS, p.segment),
        labels(regions, p.region),
        labels(CHANNELS, p.preferred_channel),
        pa.array(p.products_held),
        pa.array(p.balance_m_vnd),
        pa.array(p.biometric_enrolled),
    ]
    return pa.Table.from_arrays(columns, schema=layout.CUSTOMERS_SCHEMA)


def labels(names: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    """A string array of ``names[code]`` for each code (built in Arrow, no Python loop)."""
    return pa.array(list(names), type=pa.string()).take(pa.array(codes))


def categorical(rng: np.random.Generator, probabilities: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws of category codes with the given probabilities (inverse CDF of uniforms)."""
    cdf = np.cumsum(probabilities)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """The logistic function, elementwise (no overflow for any input, ±inf included)."""
    z = np.clip(np.asarray(x, dtype=np.float64), -700.0, 700.0)
    return 1.0 / (1.0 + np.exp(-z))


def _normal_quantile(q: float) -> float:
    if q <= 0.0:
        return -np.inf
    if q >= 1.0:
        return np.inf
    return NormalDist().inv_cdf(q)
