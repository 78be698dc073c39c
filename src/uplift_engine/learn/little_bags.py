"""The statistics of a little-bag forest: its outputs from leaf means, and their variance.

A causal forest's leaves hold the honest-half means of (W̃_k, Ỹ, W̃_k·Ỹ, W̃_j·W̃_k for j ≤ k) of K
offers' residualised arm indicators W̃ and outcome Ỹ (:func:`causal_means_width` columns); its
K outputs are the effects θ = J⁻¹·(M_wy − M_w·M_y) with J = M_ww − M_w·M_wᵀ over the
tree-averaged means M (grf's forest weights). A regression forest's leaves hold the honest
(Σw·y/n, Σw/n) of a pseudo-outcome; its output is their ratio. Both are a forest's estimating
equation averaged over trees; tree ``b``'s contribution ψ_b gives output k's variance from the
G bag means of (J⁻¹ψ)_k: their spread (× G/(G − 1)) less the within-bag noise, Bayes-debiased
(grf), plus the Monte Carlo variance of the mean of G bags, spread/G (:func:`little_bag_variance`).
As the equation is linear in a tree's leaf means s_b and zero at their average M, J⁻¹ψ_b is
∇θ(M)·(s_b − M): the gradients here (:func:`causal_gradient`, :func:`regression_gradient`).

On the request corridor: NumPy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

_DENOMINATOR_FLOOR = 1e-12


def causal_means_width(n_offers: int) -> int:
    """Leaf means of a causal ensemble of ``n_offers`` offers: 2K + 1 + K(K + 1)/2."""
    return 2 * n_offers + 1 + n_offers * (n_offers + 1) // 2


def causal_offers(width: int) -> int | None:
    """The number of offers whose causal leaves hold ``width`` means (``None``: no such K)."""
    k = 1
    while causal_means_width(k) < width:
        k += 1
    return k if causal_means_width(k) == width else None


def causal_parts(
    stats: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split causal means (n, width) into W̃ (n, K), Ỹ (n,), W̃Ỹ (n, K) and W̃W̃ᵀ (n, K, K)."""
    w, y, wy = stats[:, :k], stats[:, k], stats[:, k + 1 : 2 * k + 1]
    ww = np.empty((stats.shape[0], k, k))
    column = 2 * k + 1
    for j in range(k):
        for m in range(j, k):
            ww[:, j, m] = stats[:, column]
            ww[:, m, j] = stats[:, column]
            column += 1
    return w, y, wy, ww


def causal_effects(means: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Effects θ (n, K) from tree-averaged causal means (n, width), and J⁻¹ (n, K, K).

    J = M_ww − M_w·M_wᵀ is floored at 1e-12 (one offer) or given 1e-12 on its diagonal (several),
    so a degenerate neighbourhood gives a large, finite effect instead of an error.
    """
    m_w, m_y, m_wy, m_ww = causal_parts(means, k)
    rhs = m_wy - m_w * m_y[:, None]
    if k == 1:
        den = np.maximum(m_ww[:, 0, 0] - m_w[:, 0] ** 2, _DENOMINATOR_FLOOR)
        inverse = (1.0 / den)[:, None, None]
    else:
        jac = m_ww - m_w[:, :, None] * m_w[:, None, :]
        jac += _DENOMINATOR_FLOOR * np.eye(k)
        inverse = np.linalg.inv(jac)
    return np.einsum("nij,nj->ni", inverse, rhs), inverse


def causal_gradient(means: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Effects θ (n, K) from tree-averaged causal means (n, width), and ∇θ (n, K, width).

    dθ = J⁻¹·(dM_wy − dM_w·M_y − M_w·dM_y − dM_ww·θ + dM_w·(M_w·θ) + M_w·(dM_w·θ)), taken along
    each statistic in turn. A tree's influence on the estimating equation, J⁻¹ψ_b, is
    ∇θ·(s_b − M) for its leaf means s_b (the equation is linear in them and zero at M).
    """
    n = means.shape[0]
    m_w, m_y, _, _ = causal_parts(means, k)
    theta, inverse = causal_effects(means, k)
    along = np.einsum("nk,nk->n", m_w, theta)
    moves = np.zeros((n, k, means.shape[1]))  # the bracket, one column per statistic
    moves[:, :, k] = -m_w
    for j in range(k):
        moves[:, j, j] += along - m_y
        moves[:, :, j] += m_w * theta[:, j : j + 1]
        moves[:, j, k + 1 + j] = 1.0
    column = 2 * k + 1
    for j in range(k):
        for m in range(j, k):
            moves[:, j, column] -= theta[:, m]
            if m != j:
                moves[:, m, column] -= theta[:, j]
            column += 1
    return theta, np.einsum("nij,njs->nis", inverse, moves)


def regression_gradient(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """θ = M_y / M_w (n, 1) of a regression ensemble, and ∇θ (n, 1, 2)."""
    m_y, m_w = means.T
    m_w = np.maximum(m_w, _DENOMINATOR_FLOOR)
    theta = m_y / m_w
    return theta[:, None], np.column_stack([1.0 / m_w, -theta / m_w])[:, None, :]


def little_bag_variance(
values: np.ndarray,
leaves: np.ndarray,
    influence: Callable[[np.ndarray], np.ndarray],
    shape: tuple[int, ...],
    *,
    group_size: int,
) -> np.ndarray:
    """Bayes-debiased between-bag variance of the trees' mean influence J⁻¹ψ, per output.

    ``leaves`` (trees, rows) are the rows' leaves, ``values`` the leaves' statistics,
    ``influence`` maps a tree's statistics (rows, s) to its influence (rows, K).
    """
    ell = group_size
    n_groups = leaves.shape[0] // ell
    total_sq = np.zeros(shape)
    between_sq = np.zeros(shape)
    for g in range(n_groups):
        group = np.zeros(shape)
        for t in range(g * ell, (g + 1) * ell):
            p = influence(values.take(leaves[t], axis=0))
            total_sq += p * p
            group += p
        group /= ell
        between_sq += group * group
    var_between = between_sq / n_groups
    var_total = total_sq / (n_groups * ell)
    noise = (var_total - var_between) / (ell - 1)
    if n_groups < 2:
        return bayes_debias(var_between, noise, n_groups)
    # bag means vary around their own mean: (G − 1)/G of their variance shows; and the
    # forest is the mean of G bags, whose Monte Carlo variance var_between/(G − 1) adds
    spread = var_between * n_groups / (n_groups - 1)
    return bayes_debias(spread, noise, n_groups) + spread / n_groups


def bayes_debias(var_between: np.ndarray, noise: np.ndarray, n_groups: int) -> np.ndarray:
    """Posterior-mean correction of grf: a positive variance from a noisy difference."""
    initial = var_between - noise
    se = np.maximum(np.maximum(var_between, noise), 1e-300) * math.sqrt(2.0 / n_groups)
    ratio = initial / se
    density = np.exp(-0.5 * ratio * ratio) / math.sqrt(2.0 * math.pi)
    tail = 0.5 * _erfc(-ratio / math.sqrt(2.0))
    return initial + se * density / np.maximum(tail, 1e-300)


def _erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _ERFC_COEFFS[-1])
    for c in reversed(_ERFC_COEFFS[:-1]):
        poly = poly * t + c
    r = t * np.exp(poly - z * z)
    return np.where(x >= 0, r, 2.0 - r)


_ERFC_COEFFS = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)
