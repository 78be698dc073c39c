"""Explanations: what drives each offer's uplift, globally and for one customer.

Exact per-feature contributions of every model of a bundle (:func:`explain_bundle`), ranked
globally (:func:`global_importance`) and per customer (:func:`top_drivers`). Like the scoring
core, this face needs NumPy only, so that a served decision can be explained; the explanations
file (Arrow) is :mod:`uplift_engine.learn.explain.files`'.
"""

from uplift_engine.learn.explain.contributions import (
    Contributions,
    Driver,
    FeatureImportance,
    OfferDrivers,
    explain_bundle,
    explain_graph,
    global_importance,
    top_drivers,
)

__all__ = [
    "Contributions",
    "Driver",
    "FeatureImportance",
    "OfferDrivers",
    "explain_bundle",
    "explain_graph",
    "global_importance",
    "top_drivers",
]
