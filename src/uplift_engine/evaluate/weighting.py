"""Inverse-propensity row weights for the curves of one offer against control.

Invariant: an offer's curves use only the rows of that offer and of control, so the weight of
a row is built from its probability of the arm it got *given* that it is in the pair,
``c_i = e_i[arm] / (e_i[0] + e_i[arm])`` for the offer's rows and ``1 − c_i`` for control's.
Weights are stabilised by the arm's share of the pair, ``w_i = share(a_i) / c_i``, so that a
design whose probabilities are the same for everyone gives weights of (about) 1 and the plain
curves, and each arm keeps (about) its own row count.
"""

from __future__ import annotations

import numpy as np

from uplift_engine.errors import DataError


def pair_weights(treatment: np.ndarray, propensity: np.ndarray, arm: int) -> np.ndarray:
    """Stabilised inverse-propensity weights of the rows of ``arm`` and control, in row order.

    ``treatment`` holds the arm codes of the pair's rows (0 or ``arm``), ``propensity`` their
    ``(n, K+1)`` assignment probabilities.
    """
    treated = treatment == arm
    in_pair = propensity[:, 0] + propensity[:, arm]
    if (in_pair <= 0).any():
        raise DataError(
            f"propensity of control and of arm {arm} sum to 0 for a row that is in the pair",
            field="propensity",
        )
    offer_share = propensity[:, arm] / in_pair
    got = np.where(treated, offer_share, 1.0 - offer_share)
    if (got <= 0).any():
        raise DataError(
            f"propensity of the assigned arm is 0 for {int((got <= 0).sum())} row(s) of the "
            f"pair of arm {arm} and control",
            field="propensity",
        )
    share = np.where(treated, treated.mean(), 1.0 - treated.mean())
    return share / got
