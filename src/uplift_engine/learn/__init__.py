"""learn layer: the portable scoring core, the face the request corridor imports.

A bundle (:func:`load_bundle`) is read through a one-method file reader (:mod:`.bundle_files`),
its features encoded (:class:`FeatureEncoder`) and scored by its graph of boosted models and
tree ensembles (:class:`ScoringGraph`, :class:`TreeEnsemble`); the scores contract's names are
:mod:`.scores`'. Every module of this package face imports NumPy and LightGBM at most (boto3 for
an S3 bundle, CatBoost for a CatBoost model, when used). Training lives in
:mod:`uplift_engine.learn.training`, campaign data in :mod:`uplift_engine.learn.data`,
explanations in :mod:`uplift_engine.learn.explain`.
"""

from uplift_engine.learn.bundle import Bundle, BundleColumns, load_bundle
from uplift_engine.learn.bundle_files import (
    BundleFiles,
    LocalFiles,
    S3Access,
    S3Files,
    bundle_files,
)
from uplift_engine.learn.encoding import EncodedFeature, FeatureEncoder
from uplift_engine.learn.graph import IntervalSpec, ScoringGraph, Term
from uplift_engine.learn.scores import (
    INTERVAL_LEVEL,
    SCORES_SCHEMA_VERSION,
    ScoresMeta,
    arm_name,
    pred_column,
    uplift_column,
)
from uplift_engine.learn.tree_ensemble import TreeEnsemble

__all__ = [
    "INTERVAL_LEVEL",
    "SCORES_SCHEMA_VERSION",
    "Bundle",
    "BundleColumns",
    "BundleFiles",
    "EncodedFeature",
    "FeatureEncoder",
    "IntervalSpec",
    "LocalFiles",
    "S3Access",
    "S3Files",
    "ScoresMeta",
    "ScoringGraph",
    "Term",
    "TreeEnsemble",
    "arm_name",
    "bundle_files",
    "load_bundle",
    "pred_column",
    "uplift_column",
]
