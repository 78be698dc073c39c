"""Model bundles: a folder that scores on its own, verified before it is trusted.

    MODEL_DIR/
      manifest.json      schema version, arms, column roles, outcome kind, features (types,
                         levels), learner and parameters, scoring graph, metrics, data
                         fingerprint, library versions, and the SHA-256 of every other file
      manifest.sha256    the SHA-256 of manifest.json
      models/<name>.txt  LightGBM text models
      models/<name>.cbm  CatBoost models in CatBoost's own binary format (``model_libraries``
                         in the manifest names each model's library; absent = LightGBM)
      models/<name>/<array>.npy
                         tree ensembles (forests) as NumPy arrays, one file per array

No pickle anywhere: loading parses JSON, LightGBM text, CatBoost ``.cbm`` (a flat buffer of
trees, no code) and ``.npy`` arrays read with ``allow_pickle=False``, so a bundle fetched from
shared storage cannot run code. Loading verifies the manifest checksum and every file's checksum
before building anything, and that the manifest agrees with the model files (arms, feature
count, a one-row prediction). Writing is :mod:`uplift_engine.learn.training.packaging`'s.

This module is on the request corridor (docs/architecture.md): NumPy and LightGBM only, files
read through :mod:`.bundle_files` (boto3 for ``s3://``, imported when needed); CatBoost is
imported only for a bundle that holds a CatBoost model.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uplift_engine.errors import BundleError
from uplift_engine.learn.bundle_files import BundleFiles, S3Access, bundle_files
from uplift_engine.learn.catboost_model import catboost_text, model_library
from uplift_engine.learn.encoding import FeatureEncoder
from uplift_engine.learn.graph import ScoringGraph

BUNDLE_SCHEMA_VERSION = "uplift.bundle/1"
MANIFEST = "manifest.json"
MANIFEST_CHECKSUM = "manifest.sha256"
MODEL_SUFFIX = {"lightgbm": "txt", "catboost": "cbm"}
_MAX_FEATURE = re.compile(r"^max_feature_idx=(\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class BundleColumns:
    """The training table's column roles, as a bundle's manifest records them (``columns``)."""

    treatment: str
    outcome: str
    id: str
    propensity: str | None = None
    excluded: tuple[str, ...] = ()
    other_outcomes: tuple[str, ...] = ()
    """Outcomes the table declared besides the one learned (never features)."""
    arm_map: Mapping[str, str] = field(default_factory=dict)
    """Treatment labels read as other labels (``--arm-map``)."""

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> BundleColumns:
        """The record of a manifest's ``columns`` (older bundles lack the later fields)."""
        return cls(
            treatment=str(data["treatment"]),
            outcome=str(data["outcome"]),
            id=str(data["id"]),
            propensity=None if data.get("propensity") is None else str(data["propensity"]),
            excluded=tuple(data.get("excluded") or ()),
            other_outcomes=tuple(data.get("other_outcomes") or ()),
            arm_map=dict(data.get("arm_map") or {}),
        )

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's ``columns``."""
        return {
            "treatment": self.treatment,
            "outcome": self.outcome,
            "id": self.id,
            "propensity": self.propensity,
            "excluded": list(self.excluded),
            "other_outcomes": list(self.other_outcomes),
            "arm_map": dict(self.arm_map),
        }


@dataclass
class Bundle:
    """A loaded model: its manifest, feature encoder and scoring graph."""

    manifest: dict[str, Any]
    encoder: FeatureEncoder
    graph: ScoringGraph
    manifest_sha256: str = ""
    """The SHA-256 of ``manifest.json`` as loaded (verified against ``manifest.sha256``)."""

    @property
    def version(self) -> str:
        """The model's version: the first 12 hex characters of its manifest's SHA-256."""
        return self.manifest_sha256[:12]

    @property
    def arms(self) -> list[str]:
        """Arm names, control first."""
        return list(self.manifest["arms"])

    @property
    def control(self) -> str:
        """The control arm's name."""
        return str(self.manifest["control"])

    @property
    def offers(self) -> list[str]:
        """Offer names in code order."""
        return self.arms[1:]

    @property
    def columns(self) -> BundleColumns:
        """Column roles of the training table (treatment, outcome, id, …)."""
        return BundleColumns.from_manifest(self.manifest["columns"])

    @property
    def outcome_kind(self) -> str:
        """``binary`` or ``continuous``."""
        return str(self.manifest["outcome_kind"])

    @property
    def intervals(self) -> dict[str, Any] | None:
        """``{"level": 0.9, "kind": "confidence"}`` when the model bounds its effects, else None."""
        intervals = self.manifest.get("intervals")
        return dict(intervals) if intervals else None

    def predict_levels(self, columns: Mapping[str, Any]) -> np.ndarray:
        """Expected outcome under every arm for rows given as columns by feature name."""
        return self.graph.predict_levels(self.encoder.transform(columns))

    def predict_levels_and_interval(
        self, columns: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arm levels (n, K + 1) and each offer's effect bounds (n, K), lower then upper."""
        return self.graph.predict_levels_and_interval(self.encoder.transform(columns))


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def load_bundle(
    uri: str | Path,
    s3: S3Access | None = None,
    *,
    threads: int = 2,
    files: BundleFiles | None = None,
) -> Bundle:
    """Load and verify a bundle from a local folder or an ``s3://`` URI (reached by ``s3``).

    ``files`` reads the bundle's files instead (another store). On S3 a manifest that does not
    match its checksum is read again (twice, 0.2 s apart): a bundle being replaced there has
    its new manifest a moment before its new checksum.
    """
    files = files or bundle_files(str(uri), s3)
    read = files.read
    remote = str(uri).startswith("s3://")
    for attempt in range(3 if remote else 1):
        if attempt:
            time.sleep(0.2)
        manifest_bytes = read(MANIFEST)
        expected = read(MANIFEST_CHECKSUM).decode().strip()
        if sha256(manifest_bytes) == expected:
            break
    else:
        raise BundleError(f"bundle {str(uri)!r}: manifest.json does not match its checksum")
    try:
        manifest = json.loads(manifest_bytes)
    except json.JSONDecodeError as exc:
        raise BundleError(f"bundle {str(uri)!r}: manifest.json is not JSON: {exc}") from exc
    version = manifest.get("schema_version")
    if version != BUNDLE_SCHEMA_VERSION:
        raise BundleError(
            f"bundle {str(uri)!r} has schema version {version!r}; this release reads "
            f"{BUNDLE_SCHEMA_VERSION!r}"
        )
    def verified(path: str) -> bytes:
        data = read(path)
        if sha256(data) != manifest["files"].get(path):
            raise BundleError(f"bundle {str(uri)!r}: {path} does not match its checksum")
        return data

    try:
        libraries = manifest.get("model_libraries") or {}
        models = {
            name: _model_text(verified(path), libraries.get(name, "lightgbm"), str(uri))
            for name, path in manifest["model_files"].items()
        }
        arrays = {
            name: {
                array: _load_npy(verified(path), f"bundle {str(uri)!r}: {path}")
                for array, path in files.items()
            }
            for name, files in manifest.get("ensemble_files", {}).items()
        }
        encoder = FeatureEncoder.from_manifest(manifest["features"])
        graph = ScoringGraph.from_manifest(
            manifest["scoring"], models, threads=threads, ensemble_arrays=arrays
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"bundle {str(uri)!r}: manifest is incomplete: {exc}") from exc
    _check_consistent(manifest, encoder, graph, str(uri))
    return Bundle(manifest=manifest, encoder=encoder, graph=graph, manifest_sha256=expected)


def _check_consistent(
    manifest: dict[str, Any], encoder: FeatureEncoder, graph: ScoringGraph, uri: str
) -> None:
    """Refuse a manifest that disagrees with its model files (edited, then re-checksummed)."""
    arms = manifest.get("arms")
    if (
        not isinstance(arms, list)
        or len(arms) < 2
        or not all(isinstance(a, str) and a for a in arms)
        or len(set(arms)) != len(arms)
    ):
        raise BundleError(
            f"bundle {uri!r}: manifest field 'arms' must list two or more distinct arm names, "
            f"got {arms!r}",
            field="arms",
        )
    if manifest.get("control") != arms[0]:
        raise BundleError(
            f"bundle {uri!r}: manifest field 'control' is {manifest.get('control')!r} but the "
            f"first arm is {arms[0]!r}",
            field="control",
        )
    if graph.n_arms != len(arms):
        raise BundleError(
            f"bundle {uri!r}: manifest field 'arms' lists {len(arms)} arms but its scoring "
            f"graph gives {graph.n_arms}",
            field="arms",
        )
    width = len(encoder.names)
    with_arm = {t.model for t in graph.terms() if t.arm_column is not None}
    for name, text in graph.models.items():
        found = _MAX_FEATURE.search(text) if model_library(text) == "lightgbm" else None
        if found is not None and int(found[1]) + 1 != width + (name in with_arm):
            raise BundleError(
                f"bundle {uri!r}: manifest field 'features' lists {width} features but model "
                f"{name!r} reads {int(found[1]) + 1 - (name in with_arm)}",
                field="features",
            )
    probe = np.full((1, width), np.nan)
    try:  # one row with every feature missing: every model must take the encoder's columns
        if graph.intervals is not None:
            levels, _, _ = graph.predict_levels_and_interval(probe)
        else:
            levels = graph.predict_levels(probe)
    except Exception as exc:
        raise BundleError(
            f"bundle {uri!r}: manifest field 'features' ({len(encoder.names)} features) does "
            f"not fit its model files: {str(exc).splitlines()[0][:200]}",
            field="features",
        ) from exc
    if levels.shape != (1, len(arms)):
        raise BundleError(
            f"bundle {uri!r}: its models predict {levels.shape[1]} arms for {len(arms)} in the "
            "manifest",
            field="arms",
        )


def model_path(name: str, text: str) -> str:
    """Where a boosted model is stored in a bundle: ``models/<name>.txt`` or ``.cbm``."""
    return f"models/{name}.{MODEL_SUFFIX[model_library(text)]}"


def _model_text(data: bytes, library: str, uri: str) -> str:
    if library == "lightgbm":
        return data.decode()
    if library != "catboost":
        raise BundleError(
            f"bundle {uri!r} has a model of library {library!r}; this release reads "
            f"{', '.join(map(repr, MODEL_SUFFIX))}"
        )
    try:
        import catboost  # noqa: F401
    except ImportError as exc:
        raise BundleError(
            f"bundle {uri!r} holds CatBoost models and catboost is not installed: "
            "pip install 'uplift-engine[catboost]'"
        ) from exc
    return catboost_text(data)


def _load_npy(data: bytes, where: str) -> np.ndarray:
    try:
        return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))
    except (ValueError, OSError) as exc:
        raise BundleError(f"{where} is not a NumPy array file without pickled objects") from exc
