"""Explanations of the effect, not the outcome: what drives each offer's uplift, per customer.

Invariant: for every row and offer, ``base + values.sum(features) == effect`` (to float
rounding; see :mod:`.explain_trees` for the ratio forests), where ``effect`` is the offer's
*unclipped* effect — the graph's level difference before levels are clipped to [0, 1]. For
binary outcomes the scores clip levels, so a clipped ``uplift_<offer>`` can differ from the
effect explained here; :attr:`Contributions.effect` is the number the contributions add up to.
It is computed from the models' outputs in the same pass (TreeSHAP's raw score through the
model's link, the forest's leaf means), so explaining costs no separate scoring pass.

How a :class:`~uplift_engine.learn.graph.ScoringGraph` is explained: offer ``k``'s effect is
``Σ weight · output`` over level ``k``'s terms minus over level 0's; terms present on both
sides cancel (the causal forest's control model never enters offer effects). Every remaining
output is split per feature, and the effect's split is the same weighted difference, because
attributions are additive:

- LightGBM models: TreeSHAP (``Booster.predict(pred_contrib=True)``); CatBoost models: its
  ``ShapValues``. Both explain the raw score; for a model with a link (binary: probability =
  σ(raw)) the raw shares are rescaled onto the output by ``(out − out₀)/(raw − raw₀)``, which is
  the exact Aumann–Shapley share of a function of one sum, so the shares still add up.
- Tree ensembles (forests): path attributions, see :mod:`.explain_trees`.
- S-learner terms (``arm_column`` set): the model is evaluated with the arm column set to the
  term's arm, as in scoring; the arm column's own share is the offer itself, not a customer
  trait, so it goes to ``base`` — an S-learner's base therefore varies by customer.

Global importance of a feature for an offer is the mean |share| over rows (with the signed
mean), ranked. A driver's value is what the model saw: the category label for a categorical,
``None`` for a missing value (a level never seen in training is missing to the model).

This module is on the scoring path: NumPy and LightGBM only (CatBoost for CatBoost models).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uplift_engine.learn.bundle import Bundle
from uplift_engine.learn.catboost_model import CatBoostBooster, catboost_features
from uplift_engine.learn.encoding import FeatureEncoder
from uplift_engine.learn.explain.trees import ensemble_contributions
from uplift_engine.learn.graph import ScoringGraph

TermKey = tuple[str, float | None, int]  # model, arm column, output
THREADED_ROWS = 256
"""Fewer rows than this are explained on one thread (starting threads costs more, ~5 ms)."""
_LINKS = {
    "regression": "identity",
    "regression_l1": "identity",
    "huber": "identity",
    "fair": "identity",
    "quantile": "identity",
    "mape": "identity",
    "binary": "sigmoid",
    "cross_entropy": "sigmoid",
    "poisson": "exp",
    "gamma": "exp",
    "tweedie": "exp",
}


@dataclass(frozen=True)
class Contributions:
    """Each feature's share of each offer's effect, for every explained row."""

    values: np.ndarray
    """Shape (n_rows, n_offers, n_features): feature f's share of offer k's effect."""
    base: np.ndarray
    """Shape (n_rows, n_offers): the part of the effect no feature explains."""
    effect: np.ndarray
    """Shape (n_rows, n_offers): the unclipped effect the shares add up to (with ``base``)."""
    features: tuple[str, ...]
    offers: tuple[str, ...]
    X: np.ndarray
    """The encoded rows (n_rows, n_features), for the drivers' values."""
    methods: tuple[str, ...]
    """How the outputs were split: ``tree_shap``, ``catboost_shap``, ``saabas`` or
    ``saabas_aumann_shapley`` (ratio forests)."""
    encoder: FeatureEncoder | None = None


@dataclass(frozen=True)
class FeatureImportance:
    """One feature's global importance for one offer's effect."""

    offer: str
    feature: str
    mean_abs: float
    mean_signed: float
    rank: int
    """1 = most important for this offer (by ``mean_abs``)."""


@dataclass(frozen=True)
class Driver:
    """One feature's share of one customer's effect of one offer."""

    feature: str
    contribution: float
    value: Any
    """The customer's value as the model saw it: a number, a category label, or None."""


@dataclass(frozen=True)
class OfferDrivers:
    """The top drivers of one customer's effect of one offer."""

    row: int
    offer: str
    effect: float
    base: float
    drivers: tuple[Driver, ...]
    """By |contribution|, largest first."""


def explain_bundle(bundle: Bundle, columns: Mapping[str, Any]) -> Contributions:
    """Explain rows given as columns by feature name (Arrow, NumPy or lists)."""
    X = bundle.encoder.transform(columns)
    contributions = explain_graph(
        bundle.graph, X, features=bundle.encoder.names, offers=bundle.offers
    )
    return dataclasses.replace(contributions, encoder=bundle.encoder)


def explain_graph(
    graph: ScoringGraph,
    X: np.ndarray,
    *,
    features: Sequence[str] | None = None,
    offers: Sequence[str] | None = None,
) -> Contributions:
    """Split every offer's unclipped effect on the encoded rows ``X`` among its features."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a matrix, got shape {X.shape}")
    n, p = X.shape
    names = tuple(features) if features is not None else tuple(f"x{j}" for j in range(p))
    labels = tuple(offers) if offers is not None else tuple(map(str, range(1, graph.n_arms)))
    if len(names) != p or len(labels) != graph.n_arms - 1:
        raise ValueError(
            f"expected {p} feature name(s) and {graph.n_arms - 1} offer(s), "
            f"got {len(names)} and {len(labels)}"
        )
    values = np.zeros((n, len(labels), p))
    base = np.zeros((n, len(labels)))
    effect = np.zeros((n, len(labels)))
    cache: dict[tuple[str, float | None], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    methods: set[str] = set()
    for k, terms in enumerate(offer_terms(graph)):
        for (model, arm_column, output), weight in terms.items():
            key = (model, arm_column)
            if key not in cache:
                cache[key] = _model_contributions(graph, model, arm_column, X, methods)
            shares, offset, outputs = cache[key]
            values[:, k] += weight * shares[:, :, output]
            base[:, k] += weight * offset[:, output]
            effect[:, k] += weight * outputs[:, output]
    return Contributions(values, base, effect, names, labels, X, tuple(sorted(methods)))


def offer_terms(graph: ScoringGraph) -> list[dict[TermKey, float]]:
    """Per offer, the net weight of every model output in its effect (cancelled ones dropped)."""
    out = []
    for level in graph.levels[1:]:
        net: dict[TermKey, float] = defaultdict(float)
        for term in level:
            net[(term.model, term.arm_column, term.output)] += term.weight
        for term in graph.levels[0]:
            net[(term.model, term.arm_column, term.output)] -= term.weight
        out.append({key: w for key, w in net.items() if abs(w) > 1e-15})
    return out


def global_importance(contributions: Contributions) -> list[FeatureImportance]:
    """Mean |share| and mean share of every feature, per offer, ranked (offers in order)."""
    out = []
    if contributions.values.shape[0] == 0:
        raise ValueError("global importance needs at least one row")
    mean_abs = np.abs(contributions.values).mean(axis=0)
    mean_signed = contributions.values.mean(axis=0)
    for k, offer in enumerate(contributions.offers):
        order = np.argsort(-mean_abs[k], kind="stable")
        for rank, j in enumerate(order, start=1):
            out.append(
                FeatureImportance(
                    offer=offer,
                    feature=contributions.features[j],
                    mean_abs=float(mean_abs[k, j]),
                    mean_signed=float(mean_signed[k, j]),
                    rank=rank,
                )
            )
    return out


def top_drivers(
    contributions: Contributions, k: int = 5, rows: Sequence[int] | None = None
) -> list[OfferDrivers]:
    """The ``k`` largest shares (by absolute value) of each row's effect of each offer."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n = contributions.values.shape[0]
    picked = range(n) if rows is None else rows
    out = []
    for row in picked:
        if not 0 <= row < n:
            raise IndexError(f"row {row} is outside the {n} explained rows")
        for j, offer in enumerate(contributions.offers):
            shares = contributions.values[row, j]
            order = np.argsort(-np.abs(shares), kind="stable")[:k]
            drivers = tuple(
                Driver(
                    feature=contributions.features[f],
                    contribution=float(shares[f]),
                    value=_raw_value(contributions, row, int(f)),
                )
                for f in order
            )
            out.append(
                OfferDrivers(
                    row=int(row),
                    offer=offer,
                    effect=float(contributions.effect[row, j]),
                    base=float(contributions.base[row, j]),
                    drivers=drivers,
                )
            )
    return out


def _raw_value(contributions: Contributions, row: int, feature: int) -> Any:
    value = float(contributions.X[row, feature])
    if np.isnan(value):
        return None
    encoder = contributions.encoder
    if encoder is None:
        return value
    spec = encoder.specs[feature]
    if spec.kind == "categorical":
        return spec.levels[int(value)] if 0 <= value < len(spec.levels) else None
    if spec.kind == "boolean":
        return bool(value)
    return value


# ------------------------------------------------------------------------ one model's shares
def _model_contributions(
    graph: ScoringGraph, name: str, arm_column: float | None, X: np.ndarray, methods: set[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shares (n, p, outputs) of one model's outputs, its base and its outputs (n, outputs).

    All three come from one pass over the model, over X's p columns. With ``arm_column`` set
    the model reads one more column (the arm); its share joins the base.
    """
    p = X.shape[1]
    inputs = X if arm_column is None else np.column_stack([X, np.full(X.shape[0], arm_column)])
    ensemble = graph.ensembles.get(name)
    if ensemble is not None:
        methods.add("saabas" if ensemble.combine == "mean" else "saabas_aumann_shapley")
        return ensemble_contributions(ensemble, inputs, p)
    booster = graph._booster(name)
    if isinstance(booster, CatBoostBooster):
        methods.add("catboost_shap")
        raw, link = _catboost_shap(booster, inputs, graph.threads)
    else:
        methods.add("tree_shap")
        threads = graph.threads if X.shape[0] >= THREADED_ROWS else 1
        raw = np.asarray(
            booster.predict(inputs, pred_contrib=True, num_threads=threads), dtype=np.float64
        )
        link = _lightgbm_link(graph.models[name], name)
    shares, offset, output = _on_output_scale(raw[:, :-1], raw[:, -1], link)
    offset = offset + shares[:, p:].sum(axis=1)  # the arm column's share: the offer itself
    return shares[:, :p, None], offset[:, None], output[:, None]


def _on_output_scale(
    shares: np.ndarray, expected: np.ndarray, link: tuple[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw-score shares rescaled onto the model's output, the base and the output.

    Each share is multiplied by (out − out₀)/(raw − raw₀); the output is the link of the raw
    score the shares add up to.
    """
    kind, scale = link
    raw = expected + shares.sum(axis=1)
    if kind == "identity":
        return shares, expected, raw

    def inverse(z: np.ndarray) -> np.ndarray:
        if kind == "sigmoid":
            return 1.0 / (1.0 + np.exp(-scale * z))
        return np.exp(z)

    out, out0 = inverse(raw), inverse(expected)
    step = raw - expected
    small = np.abs(step) < 1e-9
    derivative = scale * out * (1.0 - out) if kind == "sigmoid" else out
    ratio = np.where(small, derivative, (out - out0) / np.where(small, 1.0, step))
    return shares * ratio[:, None], out0, out


def _lightgbm_link(text: str, name: str) -> tuple[str, float]:
    """The output link of a LightGBM text model, from its ``objective=`` line."""
    for line in text.splitlines():
        if line.startswith("objective="):
            parts = line[len("objective=") :].split()
            objective = parts[0] if parts else ""
            link = _LINKS.get(objective)
            if link is None:
                break
            scale = 1.0
            for part in parts[1:]:
                if part.startswith("sigmoid:"):
                    scale = float(part.split(":", 1)[1])
            return link, scale
        if line.startswith("tree_sizes=") or line.startswith("Tree="):
            break
    raise ValueError(f"model {name!r}: cannot explain a LightGBM model without a known objective")


def _catboost_shap(
    booster: CatBoostBooster, X: np.ndarray, threads: int
) -> tuple[np.ndarray, tuple[str, float]]:
    """CatBoost's SHAP values by column of ``X`` (n, width + 1, base last), and its link."""
    import catboost

    data = catboost.Pool(catboost_features(X, booster.numeric, booster.categorical))
    shap = np.asarray(
        booster.model.get_feature_importance(data, type="ShapValues", thread_count=threads),
        dtype=np.float64,
    )
    out = np.zeros((X.shape[0], X.shape[1] + 1))
    for position, column in enumerate(int(f) for f in booster.model.feature_names_):
        out[:, column] = shap[:, position]
    out[:, -1] = shap[:, -1]
    return out, ("sigmoid", 1.0) if booster.binary else ("identity", 1.0)
