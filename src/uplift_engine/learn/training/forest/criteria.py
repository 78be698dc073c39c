"""Split criteria, compiled: causalml's uplift divergences, causal and regression gains.

Invariant: every function here is a pure numba function of node statistics, and a *higher*
gain is a better split; a split is only taken when its gain is > 0.

Uplift statistics are three slots per arm ``a`` (control = 0): ``[3a]`` row count, ``[3a+1]``
Σ weight, ``[3a+2]`` Σ weight·y. The node summary ``p`` is causalml's (Rzepakowski & Jaroszewicz
2012): at the root the arm's mean; below it, ``(Σwy + p_parent·n_reg) / (Σw + n_reg)`` when the
arm has more than ``min_samples_treatment`` rows in the node, else the parent's ``p``. The
divergences (KL, ED, Chi, DDP) and the normalisation ``normI`` follow causalml's ``uplift.pyx``
term by term (KL clips q to [1e-6, 1 − 1e-6] and is 0 when q = 0). Multi-offer KL/ED/Chi sum over
offers, as causalml's do; DDP, binary-only in causalml, generalises to the sum over offers of
|Δp_left − Δp_right|. ``SD`` (continuous outcomes) is the squared difference of arm means,
Σ_k (μ_k − μ_0)², used like ED.

Causal statistics, for K offers (W̃ a K-vector of residualised arm indicators, Ỹ the
residualised outcome; :func:`causal_slots` of them, seven when K = 1): the row count of each arm
(control first), Σw, Σw·W̃_k, Σw·Ỹ, Σw·W̃_k·Ỹ, and Σw·W̃_j·W̃_k for j ≤ k (row by row of the upper
triangle). A node's effect θ solves (Σw·W̃W̃ᵀ − Σw·W̃ Σw·W̃ᵀ/Σw)·θ = Σw·W̃Ỹ − Σw·W̃ Σw·Ỹ/Σw (the
residual-on-residual regression; grf's multi-arm causal forest). The gain of a split is grf's
gradient criterion Σ_children ‖Σw·ρ‖²/Σw over the node's pseudo-outcomes ρ, the first-order
expansion of the heterogeneity Σ_children Σw·‖θ_c − θ‖² (:func:`causal_gain`). It took half the
time of solving each candidate child's system, and gave the same errors on the benchmark's
datasets (docs/learners.md).

Regression statistics are five slots: row count, rows of the offer, rows of control, Σw, Σw·y of
a pseudo-outcome y (the DR-learner's); the gain of a split is the weighted variance reduction
Σ_children (Σw·y)²/Σw − (Σw·y)²/Σw (CART's squared-error criterion).
"""

from __future__ import annotations

import math

import numba
import numpy as np

KL, ED, CHI, DDP, SD, CAUSAL, REGRESSION = 0, 1, 2, 3, 4, 5, 6
CRITERIA = {"KL": KL, "ED": ED, "Chi": CHI, "DDP": DDP, "SD": SD}
BINARY_ONLY = ("KL", "ED", "Chi", "DDP")
UPLIFT_SLOTS = 3
REGRESSION_SLOTS = 5
_EPS = 1e-6
_ALPHA = 0.9


@numba.njit(nogil=True, cache=True)
def kl_divergence(pk: float, qk: float) -> float:
    """KL divergence of Bernoulli(pk) from Bernoulli(qk), as causalml clips it."""
    if qk == 0.0:
        return 0.0
    qk = min(max(qk, _EPS), 1.0 - _EPS)
    if pk == 0.0:
        return -math.log(1.0 - qk)
    if pk == 1.0:
        return -math.log(qk)
    return pk * math.log(pk / qk) + (1.0 - pk) * math.log((1.0 - pk) / (1.0 - qk))


@numba.njit(nogil=True, cache=True)
def entropy_h(p: float, q: float) -> float:
    """Entropy term of causalml's ``entropyH``: −p·log p when ``q`` is −1, else −p·log q."""
    if q == -1.0 and p > 0.0:
        return -p * math.log(p)
    if q > 0.0:
        return -p * math.log(q)
    return 0.0


@numba.njit(nogil=True, cache=True)
def summarise(
    stats: np.ndarray,
    parent_p: np.ndarray,
    has_parent: bool,
    n_reg: float,
    min_treatment: int,
    out: np.ndarray,
) -> None:
    """Fill ``out`` with each arm's (regularised) mean, causalml's node summary."""
    for a in range(out.size):
        count = stats[3 * a]
        weight = stats[3 * a + 1]
        total = stats[3 * a + 2]
        if not has_parent:
            out[a] = total / weight if weight > 0.0 else 0.0
        elif count > min_treatment + 0.5:
            out[a] = (total + parent_p[a] * n_reg) / (weight + n_reg)
        else:
            out[a] = parent_p[a]


@numba.njit(nogil=True, cache=True)
def divergence(kind: int, p: np.ndarray) -> float:
    """The node's divergence between each offer's summary and control's."""
    pc = p[0]
    d = 0.0
    for k in range(1, p.size):
        diff = p[k] - pc
        if kind == KL:
            d += kl_divergence(p[k], pc)
        elif kind == ED:
            d += 2.0 * diff * diff
        elif kind == CHI:
            d += diff * diff / max(_EPS, pc) + diff * diff / max(_EPS, 1.0 - pc)
        elif kind == DDP:
            d += diff
        else:  # SD
            d += diff * diff
    return d


@numba.njit(nogil=True, cache=True)
def norm_i(current: np.ndarray, left: np.ndarray) -> float:
    """Normalisation ``normI`` of causalml: penalises unbalanced, treatment-skewed splits."""
    n_arms = current.size // 3
    n_c = current[1]
    n_c_left = left[1]
    sum_t = 0.0
    sum_t_left = 0.0
    for a in range(1, n_arms):
        sum_t += current[3 * a + 1]
        sum_t_left += left[3 * a + 1]
    total = sum_t + n_c
    pt_a = sum_t_left / (sum_t + 0.1)
    pc_a = n_c_left / (n_c + 0.1)
    norm = _ALPHA * entropy_h(sum_t / total, n_c / total) * kl_divergence(pt_a, pc_a)
    for a in range(1, n_arms):
        n_t = current[3 * a + 1]
        pt_a_i = left[3 * a + 1] / (n_t + 0.1)
        norm += (1.0 - _ALPHA) * entropy_h(n_t / (n_t + n_c), n_c / (n_t + n_c)) * kl_divergence(
            pt_a_i, pc_a
        )
        norm += n_t / total * entropy_h(pt_a_i, -1.0)
    norm += n_c / total * entropy_h(pc_a, -1.0)
    return norm + 0.5


@numba.njit(nogil=True, cache=True)
def uplift_gain(
    kind: int,
    current: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    p_current: np.ndarray,
    p_left: np.ndarray,
    p_right: np.ndarray,
    normalization: bool,
) -> float:
    """Gain of a split under an uplift criterion (summaries already filled)."""
    if kind == DDP:
        gain = 0.0
        for k in range(1, p_left.size):
            gain += abs((p_left[k] - p_left[0]) - (p_right[k] - p_right[0]))
        return gain
    w_left = 0.0
    w_all = 0.0
    for a in range(p_left.size):
        w_left += left[3 * a + 1]
        w_all += current[3 * a + 1]
    share = w_left / w_all
    gain = (
        share * divergence(kind, p_left)
        + (1.0 - share) * divergence(kind, p_right)
        - divergence(kind, p_current)
    )
    if normalization:
        gain /= norm_i(current, left)
    return gain


def causal_slots(n_offers: int) -> int:
    """Slots of a causal forest's statistics for ``n_offers`` offers (7 for one)."""
    return 3 * n_offers + 3 + n_offers * (n_offers + 1) // 2


@numba.njit(nogil=True, cache=True)
def causal_theta(stats: np.ndarray, n_offers: int, mat: np.ndarray, theta: np.ndarray) -> bool:
    """Solve a node's effects into ``theta`` (K); ``False`` when the system is degenerate.

    ``mat`` (K × K) is scratch; the system is solved by Cholesky, and refused when a pivot is at
    most 1e-12 · Σw (an arm without spread of W̃ in the node).
    """
    k_ = n_offers
    base = k_ + 1
    weight = stats[base]
    if weight <= 0.0:
        return False
    sw = base + 1
    sy = sw + k_
    swy = sy + 1
    sww = swy + k_
    y_mean = stats[sy] / weight
    idx = sww
    for j in range(k_):
        for k in range(j, k_):
            value = stats[idx] - stats[sw + j] * stats[sw + k] / weight
            mat[j, k] = value
            mat[k, j] = value
            idx += 1
        theta[j] = stats[swy + j] - stats[sw + j] * y_mean
    floor = 1e-12 * weight
    for j in range(k_):  # Cholesky: the lower triangle of mat becomes L
        d = mat[j, j]
        for m in range(j):
            d -= mat[j, m] * mat[j, m]
        if d <= floor:
            return False
        d = math.sqrt(d)
        mat[j, j] = d
        for i in range(j + 1, k_):
            v = mat[i, j]
            for m in range(j):
                v -= mat[i, m] * mat[j, m]
            mat[i, j] = v / d
    for j in range(k_):  # L z = b
        v = theta[j]
        for m in range(j):
            v -= mat[j, m] * theta[m]
        theta[j] = v / mat[j, j]
    for j in range(k_ - 1, -1, -1):  # Lᵀ θ = z
        v = theta[j]
        for m in range(j + 1, k_):
            v -= mat[m, j] * theta[m]
        theta[j] = v / mat[j, j]
    return True


@numba.njit(cache=True)
def causal_map_size(n_offers: int) -> int:
    """Length of a node's :func:`causal_split_map`: L (K × K), θ (K), W̄ (K), d."""
    return n_offers * n_offers + 2 * n_offers + 1


@numba.njit(nogil=True, cache=True)
def causal_split_map(
    stats: np.ndarray, n_offers: int, mat: np.ndarray, theta: np.ndarray, out: np.ndarray
) -> bool:
    """A node's linear map from a child's statistics to its summed pseudo-outcomes, into ``out``.

    ``out`` (:func:`causal_map_size`) receives the Cholesky factor L of the node's
    Σw·(W̃ − W̄)(W̃ − W̄)ᵀ, its effects θ, the mean W̄ and d = Ȳ − W̄ᵀθ; ``False`` when the
    node's system is degenerate (then it is not split). ``mat`` and ``theta`` are scratch.
    """
    if not causal_theta(stats, n_offers, mat, theta):
        return False
    k_ = n_offers
    weight = stats[k_ + 1]
    sw = k_ + 2
    d = stats[sw + k_] / weight  # Ȳ
    for j in range(k_):
        for k in range(k_):
            out[j * k_ + k] = mat[j, k] if k <= j else 0.0
        out[k_ * k_ + j] = theta[j]
        w_mean = stats[sw + j] / weight
        out[k_ * k_ + k_ + j] = w_mean
        d -= w_mean * theta[j]
    out[k_ * k_ + 2 * k_] = d
    return True


@numba.njit(nogil=True, cache=True)
def causal_gain(
    current: np.ndarray, left: np.ndarray, n_offers: int, node_map: np.ndarray, z: np.ndarray
) -> float:
    """The gradient criterion (grf's) for splitting ``current`` into ``left`` and the rest.

    With the node's pseudo-outcomes ρ_i = A⁻¹(W̃_i − W̄)(Ỹ_i − Ȳ − (W̃_i − W̄)ᵀθ) (A the node's
    mean of (W̃ − W̄)(W̃ − W̄)ᵀ, ``node_map`` from :func:`causal_split_map`), which sum to zero
    over the node, the gain is Σ_children ‖Σw·ρ‖²/Σw = ‖Σ_left w·ρ‖²·(1/Σw_left + 1/Σw_right):
    the first-order expansion of Σ_children Σw·‖θ_c − θ‖² (Athey, Tibshirani & Wager 2019,
    section 2.3). Σ_left w·ρ is linear in the left child's statistics, so a candidate costs a
    few products and one K × K triangular solve, and a child needs no system of its own. −1
    when a child has no weight; ``z`` (K) is scratch.
    """
    k_ = n_offers
    base = k_ + 1
    w_left = left[base]
    w_right = current[base] - w_left
    if w_left <= 0.0 or w_right <= 0.0:
        return -1.0
    sw = base + 1
    sy = sw + k_
    swy = sy + 1
    sww = swy + k_
    at_theta = k_ * k_
    at_mean = at_theta + k_
    d = node_map[at_mean + k_]
    u = left[sy] - d * w_left  # Σw·(Ỹ − d − W̃ᵀθ), the residual left of the node's fit
    for j in range(k_):
        u -= left[sw + j] * node_map[at_theta + j]
    for j in range(k_):  # v_j = Σw·W̃_j·(Ỹ − d − W̃ᵀθ) − W̄_j·u
        v = left[swy + j] - d * left[sw + j] - node_map[at_mean + j] * u
        for k in range(k_):
            a, b = (j, k) if j <= k else (k, j)
            v -= left[sww + a * k_ - a * (a - 1) // 2 + (b - a)] * node_map[at_theta + k]
        z[j] = v
    for j in range(k_):  # L Lᵀ z = v
        v = z[j]
        for m in range(j):
            v -= node_map[j * k_ + m] * z[m]
        z[j] = v / node_map[j * k_ + j]
    for j in range(k_ - 1, -1, -1):
        v = z[j]
        for m in range(j + 1, k_):
            v -= node_map[m * k_ + j] * z[m]
        z[j] = v / node_map[j * k_ + j]
    norm = 0.0
    for j in range(k_):
        norm += z[j] * z[j]
    total = current[base]
    return norm * total * total * (1.0 / w_left + 1.0 / w_right)


@numba.njit(nogil=True, cache=True)
def regression_gain(current: np.ndarray, left: np.ndarray, right: np.ndarray) -> float:
    """Variance reduction Σ_children (Σw·y)²/Σw − (Σw·y)²/Σw (−1 when a child has no weight)."""
    if left[3] <= 0.0 or right[3] <= 0.0:
        return -1.0
    return (
        left[4] * left[4] / left[3]
        + right[4] * right[4] / right[3]
        - current[4] * current[4] / current[3]
    )
