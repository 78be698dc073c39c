"""Writing a model bundle: the manifest of a fitted learner, and its files, atomically.

The layout is :mod:`uplift_engine.learn.bundle`'s, which loads it on the scoring path.
Locally the folder is staged and swapped into place; on S3 model files are named by their
content (``models/mu_0.<sha>.txt``), so that replacing a bundle never overwrites a file of the
one being replaced, and the manifest and its checksum go last.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from uplift_engine.config.settings import Settings
from uplift_engine.lake import atomic_folder, resolve
from uplift_engine.learn.bundle import (
    BUNDLE_SCHEMA_VERSION,
    MANIFEST,
    MANIFEST_CHECKSUM,
    model_path,
    sha256,
)
from uplift_engine.learn.catboost_model import catboost_bytes, model_library
from uplift_engine.learn.encoding import FeatureEncoder
from uplift_engine.learn.graph import ScoringGraph


def build_manifest(
    *,
    graph: ScoringGraph,
    encoder: FeatureEncoder,
    arms: list[str],
    columns: dict[str, Any],
    outcome_kind: str,
    learner: dict[str, Any],
    metrics: dict[str, Any],
    fingerprint: dict[str, Any],
    versions: dict[str, str],
    created_at: str,
) -> dict[str, Any]:
    """Everything a bundle says about itself, but the file checksums."""
    models = sorted(graph.models.items())
    return {
        "schema_version": BUNDLE_SCHEMA_VERSION,
        "created_at": created_at,
        "arms": arms,
        "control": arms[0],
        "columns": columns,
        "outcome_kind": outcome_kind,
        "features": encoder.to_manifest(),
        "learner": learner,
        "scoring": graph.to_manifest(),
        "model_files": {name: model_path(name, text) for name, text in models},
        "model_libraries": {name: model_library(text) for name, text in models},
        "ensemble_files": {
            name: {array: f"models/{name}/{array}.npy" for array in sorted(ensemble.arrays())}
            for name, ensemble in sorted(graph.ensembles.items())
        },
        "intervals": (
            {"level": graph.intervals.level, "kind": graph.intervals.kind}
            if graph.intervals is not None
            else None
        ),
        "metrics": metrics,
        "data_fingerprint": fingerprint,
        "versions": versions,
    }


def write_bundle(
    manifest: dict[str, Any],
    graph: ScoringGraph,
    uri: str | Path,
    settings: Settings | None = None,
    *,
    overwrite: bool = False,
) -> str:
    """Write the bundle folder atomically; returns the manifest's checksum.

    Locally the folder is staged and swapped into place. On S3 the model files are named by
    their content (``models/mu_0.<sha>.txt``), so that replacing a bundle never overwrites a
    file of the one being replaced; the manifest and its checksum go last, and the files that
    the new manifest no longer names are deleted after them.
    """
    target = resolve(uri, settings)
    files = {model_path(name, text): _model_bytes(text) for name, text in graph.models.items()}
    for name, ensemble in sorted(graph.ensembles.items()):
        for array, values in sorted(ensemble.arrays().items()):
            files[f"models/{name}/{array}.npy"] = _npy_bytes(values)
    if not target.is_local:
        renamed = {path: _addressed(path, data) for path, data in files.items()}
        manifest = _renamed_paths(manifest, renamed)
        files = {renamed[path]: data for path, data in files.items()}
    manifest = dict(manifest, files={path: sha256(data) for path, data in files.items()})
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    checksum = sha256(manifest_bytes)
    with atomic_folder(target, overwrite=overwrite) as folder:
        for path, data in files.items():
            folder.child(*path.split("/")).write_bytes(data)
        folder.child(MANIFEST).write_bytes(manifest_bytes)
        folder.child(MANIFEST_CHECKSUM).write_bytes(f"{checksum}\n".encode())
    if not target.is_local:
        keep = {*files, MANIFEST, MANIFEST_CHECKSUM}
        base = target.path.rstrip("/") + "/"
        for old in target.list_files():
            if old.path[len(base) :] not in keep:
                old.delete()
    return checksum


def _addressed(path: str, data: bytes) -> str:
    """``models/mu_0.txt`` → ``models/mu_0.<first 12 hex of its SHA-256>.txt``."""
    stem, _, suffix = path.rpartition(".")
    return f"{stem}.{sha256(data)[:12]}.{suffix}"


def _renamed_paths(manifest: dict[str, Any], renamed: Mapping[str, str]) -> dict[str, Any]:
    models = {name: renamed[path] for name, path in manifest["model_files"].items()}
    ensembles = {
        name: {array: renamed[path] for array, path in arrays.items()}
        for name, arrays in manifest.get("ensemble_files", {}).items()
    }
    return dict(manifest, model_files=models, ensemble_files=ensembles)


def _model_bytes(text: str) -> bytes:
    return catboost_bytes(text) if model_library(text) == "catboost" else text.encode()


def _npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values), allow_pickle=False)
    return buffer.getvalue()
