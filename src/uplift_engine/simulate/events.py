"""Digital events: what each customer did in the app and with their money over the history.

Each customer has a daily rate per event type set by their latent traits (logins by engagement,
transfers by transacting, card transactions by spending for card holders, biometric logins for
the enrolled, account openings rarely). Each type is a Poisson process over the window, uniform
over the days with a Vietnamese (UTC+7) time-of-day profile; they are drawn as their
superposition (total count, sorted times, then each event's type by the rates' shares), which
is the same distribution and needs no sort. Timestamps are UTC microseconds in
``[history_start, history_end)``. Amounts (VND thousands) only for ``transfer`` and
``card_txn``; null otherwise. Rows of a block are in (customer_id, ts) order, and
``event_id = (block << 32) + row``, unique across the lake whatever the chunking.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from uplift_engine.errors import ConfigError
from uplift_engine.lake import layout
from uplift_engine.simulate.config import SimulationConfig, epoch_us
from uplift_engine.simulate.population import MEDIAN_INCOME_M_VND, Population, labels
from uplift_engine.simulate.streams import BLOCK_DOMAIN, Kind, stream
from uplift_engine.vocabulary import EVENT_TYPES

US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
_LOGIN, _TRANSFER, _CARD, _OPENING, _BIOMETRIC = (
    EVENT_TYPES.index(t)
    for t in ("login", "transfer", "card_txn", "account_opening", "biometric_auth")
)
_LOCAL_HOUR_WEIGHTS = np.array(
    [0.2, 0.1, 0.05, 0.05, 0.1, 0.3, 0.8, 1.2, 1.5, 1.4, 1.3, 1.4,
     1.7, 1.4, 1.2, 1.2, 1.3, 1.5, 1.8, 2.0, 2.1, 1.8, 1.2, 0.6]
)  # fmt: skip
_UTC_OFFSET_HOURS = 7
_UTC_HOUR_P = np.roll(_LOCAL_HOUR_WEIGHTS, -_UTC_OFFSET_HOURS) / _LOCAL_HOUR_WEIGHTS.sum()
_UTC_HOUR_CDF = np.cumsum(_UTC_HOUR_P)
_UTC_HOUR_LOW = _UTC_HOUR_CDF - _UTC_HOUR_P
_LOOKUP_BINS = 4096  # finer than the least likely hour, so one step after the lookup suffices
_HOUR_LOOKUP = np.searchsorted(_UTC_HOUR_CDF, np.arange(_LOOKUP_BINS) / _LOOKUP_BINS, side="right")
_HOUR_LOOKUP = np.minimum(_HOUR_LOOKUP, 23).astype(np.intp)
_CHANNEL_LOGIN_FACTOR = np.array([1.0, 0.8, 0.35, 0.5])  # app, web, branch, contact_center


def daily_rates(population: Population) -> np.ndarray:
    """Expected events per day, shape ``(customers, len(EVENT_TYPES))``."""
    t = population.traits
    rates = np.empty((population.size, len(EVENT_TYPES)))
    login = 0.7 * np.exp(0.75 * t.engagement - 0.28)
    login *= _CHANNEL_LOGIN_FACTOR[population.preferred_channel]
    rates[:, _LOGIN] = login
    rates[:, _TRANSFER] = 0.25 * np.exp(0.8 * t.transacting - 0.32)
    rates[:, _CARD] = np.where(t.has_card, 0.35 * np.exp(0.8 * t.spending - 0.32), 0.0)
    rates[:, _OPENING] = 0.004 * np.exp(0.5 * t.engagement - 0.2 * t.loyalty)
    rates[:, _BIOMETRIC] = np.where(population.biometric_enrolled, 0.6 * login, 0.0)
    return rates


def draw_events(config: SimulationConfig, block: int, population: Population) -> pa.Table:
    """The raw events of one block's customers, in the layout's schema."""
    n = population.size
    days = config.history_days
    start_us = epoch_us(config.history_start)
    rates = daily_rates(population)
    total = rates.sum(axis=1)

    counts = stream(config.seed, BLOCK_DOMAIN, block, Kind.EVENT_COUNTS).poisson(total * days)
    m = int(counts.sum())
    if m >= 1 << 32:
        raise ConfigError(
            f"block {block} would hold {m} events, more than 2^32; lower block_size",
            field="block_size",
        )
    customer = np.repeat(np.arange(n, dtype=np.int64), counts)
    times_rng = stream(config.seed, BLOCK_DOMAIN, block, Kind.EVENT_TIMES)
    offset = _sorted_offsets(times_rng, customer, counts, days)
    kind = _kinds(times_rng, rates / np.maximum(total, 1e-300)[:, None], customer)

    amount, has_amount = _amounts(config, block, population, customer, kind)
    return pa.Table.from_arrays(
        [
            pa.array((np.int64(block) << 32) + np.arange(m, dtype=np.int64)),
            pa.array(population.customer_id[customer]),
            labels(EVENT_TYPES, kind),
            pa.array(start_us + offset, type=layout.TIMESTAMP),
            pa.array(amount, mask=~has_amount),
        ],
        schema=layout.EVENTS_SCHEMA,
    )


def _sorted_offsets(
    rng: np.random.Generator, customer: np.ndarray, counts: np.ndarray, days: int
) -> np.ndarray:
    """Each customer's event times, ascending, as microseconds from the window's start.

    The order statistics of ``k`` uniforms are the normalised partial sums of ``k + 1``
    exponentials, so sorted uniforms come without a sort; the time-of-day profile's inverse
    CDF (monotone) then maps them to times.
    """
    n, m = counts.size, customer.size
    spacings = rng.standard_exponential(m + n)
    partial = np.concatenate([[0.0], np.cumsum(spacings)])
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])  # first event row of each customer
    base = partial[first + np.arange(n)]  # sums before the customer's first spacing
    span = partial[first + counts + np.arange(n) + 1] - base
    rows = np.arange(m, dtype=np.int64)
    u = (partial[rows + customer + 1] - base[customer]) / span[customer]
    return _inverse_time_cdf(u, days)


def _inverse_time_cdf(u: np.ndarray, days: int) -> np.ndarray:
    """Map uniforms in [0, 1] monotonically to microseconds in [0, days) with the daily profile."""
    v = u * days
    day = np.minimum(np.floor(v), days - 1)
    frac = np.clip(v - day, 0.0, 1.0)
    hour = _HOUR_LOOKUP[np.minimum(frac * _LOOKUP_BINS, _LOOKUP_BINS - 1).astype(np.intp)]
    hour += frac >= _UTC_HOUR_CDF[hour]  # a bin holds at most one hour boundary
    hour = np.minimum(hour, 23)
    within = (frac - _UTC_HOUR_LOW[hour]) / _UTC_HOUR_P[hour]
    us = (day * 24 + hour + np.clip(within, 0.0, 1.0)) * US_PER_HOUR
    return np.minimum(us.astype(np.int64), days * US_PER_DAY - 1)


def _kinds(rng: np.random.Generator, shares: np.ndarray, customer: np.ndarray) -> np.ndarray:
    """Each event's type, drawn from its customer's rate shares (Poisson thinning)."""
    u = rng.random(customer.size)
    cumulative = np.cumsum(shares, axis=1)
    kind = np.zeros(customer.size, dtype=np.int8)
    for k in range(shares.shape[1] - 1):
        kind += u >= cumulative[customer, k]
    return kind


def _amounts(
    config: SimulationConfig,
    block: int,
    population: Population,
    customer: np.ndarray,
    kind: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Amounts in VND thousands (whole thousands, at least 1) and where they apply."""
    t = population.traits
    income_factor = population.income_m_vnd / MEDIAN_INCOME_M_VND
    transfer_median = 1500.0 * income_factor**0.6 * np.exp(0.2 * t.transacting)
    card_median = 250.0 * income_factor**0.4 * np.exp(0.35 * t.spending)
    has_amount = (kind == _TRANSFER) | (kind == _CARD)
    rows = np.flatnonzero(has_amount)
    who, is_transfer = customer[rows], kind[rows] == _TRANSFER
    median = np.where(is_transfer, transfer_median[who], card_median[who])
    sigma = np.where(is_transfer, 1.1, 0.9)
    rng = stream(config.seed, BLOCK_DOMAIN, block, Kind.EVENT_AMOUNTS)
    amount = np.zeros(kind.size)
    amount[rows] = np.maximum(np.rint(median * np.exp(sigma * rng.standard_normal(rows.size))), 1.0)
    return amount, has_amount
