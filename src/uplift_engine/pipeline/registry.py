"""The model registry: versions with their lineage, aliases, approval and rollback, in the lake.

It lives beside the releases it registers (``ROOT``, the release root a service watches)::

    ROOT/releases/<id>/           a version: bundle and the plan priced with it (serve.release)
    ROOT/registry/<id>.json       its record: lineage, metrics, the gate's verdict, when
    ROOT/registry/approvals/<id>.json   who approved it, when (manual approval mode)
    ROOT/registry/history.jsonl   every alias move, appended and synced before the move
    ROOT/registry/settings.json   the approval mode: auto (default) or manual; the MLflow
                                  server alias moves are mirrored to, if any
    ROOT/<alias>.json             the pointers: champion, challenger, current …

Invariant: every file is written whole (staged, synced, renamed) or appended and synced; a
version's release is committed before its record, a move is in the history before its pointer
changes — so a process killed at any moment leaves each pointer on a whole, verified release and
the history at least as new as the pointers. Promoting verifies the release first (checksums, the
plan against its model); in manual mode an unapproved version is refused; a rollback moves an
alias back to the release it named before its latest move.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uplift_engine.errors import BundleError, ConfigError, UserInputError
from uplift_engine.learn import load_bundle
from uplift_engine.replace import sync_folder, write_file
from uplift_engine.serve.release import (
    POINTER_SCHEMA_VERSION,
    load_release,
    plain_name,
    point,
    read_pointer,
    write_release,
)

REGISTRY = "registry"
RECORD_SCHEMA_VERSION = "uplift.registry-record/1"
MODES = ("auto", "manual")


@dataclass(frozen=True)
class Version:
    """A registered release, its record, whether it is approved and what points at it."""

    release: str
    record: dict[str, Any] | None
    approval: dict[str, Any] | None
    aliases: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "release": self.release,
            "record": self.record,
            "approved": self.approval,
            "aliases": self.aliases,
        }


def _folder(root: Path) -> Path:
    return root / REGISTRY


def _settings(root: Path) -> dict[str, Any]:
    path = _folder(root) / "settings.json"
    return json.loads(path.read_bytes()) if path.exists() else {}


def _set(root: Path, **values: Any) -> None:
    settings = {**_settings(root), **values}
    write_file(_folder(root) / "settings.json", json.dumps(settings).encode(), sync=True)


def mode(root: Path) -> str:
    """The approval mode: ``auto`` (a promotion needs no approval) or ``manual``."""
    return str(_settings(root).get("approval", "auto"))


def mlflow(root: Path) -> dict[str, Any] | None:
    """The MLflow server every alias move is mirrored to, if any (``mlflow_log.MlflowConfig``)."""
    found = _settings(root).get("mlflow")
    return found if isinstance(found, dict) else None


def set_mlflow(root: Path, settings: dict[str, Any] | None) -> None:
    """Mirror alias moves to this MLflow server from now on (None: stop)."""
    if settings != mlflow(root):
        _set(root, mlflow=settings)


def set_mode(root: Path, approval: str) -> None:
    """Set the approval mode."""
    if approval not in MODES:
        raise UserInputError(
            f"the approval mode is one of {', '.join(MODES)}, got {approval!r}", field="approval"
        )
    _set(root, approval=approval)


def register(
    root: Path,
    bundle_dir: Path,
    plan_meta: bytes | None,
    *,
    verdict: dict[str, Any] | None = None,
    lineage: dict[str, Any] | None = None,
    release: str | None = None,
) -> str:
    """Register a bundle and its plan as a new version (no alias moves); its release id.

    ``lineage``: where it came from (the pipeline's run, campaign and fingerprints);
    ``release``: the id to register it under — registering the same id again completes a
    registration a kill interrupted (the release kept, its record written) and changes
    nothing else.
    """
    release = write_release(root, bundle_dir, plan_meta, alias=None, release=release)
    if (_folder(root) / f"{release}.json").exists():
        return release  # registered before
    bundle = load_bundle(root / "releases" / release / "bundle", threads=1)
    manifest = bundle.manifest
    record = {
        "schema_version": RECORD_SCHEMA_VERSION,
        "release": release,
        "registered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model_version": bundle.version,
        "learner": manifest.get("learner"),
        "data_fingerprint": manifest.get("data_fingerprint"),
        "features": [f.get("name") for f in manifest.get("features", [])],
        "versions": manifest.get("versions"),
        "metrics": manifest.get("metrics"),
        "plan": None if plan_meta is None else json.loads(plan_meta).get("summary"),
        "gate": verdict,
        "lineage": lineage,
    }
    write_file(_folder(root) / f"{release}.json",
               json.dumps(record, sort_keys=True, default=str).encode(), sync=True)  # fmt: skip
    return release


def record(root: Path, release: str) -> dict[str, Any] | None:
    """The registry's record of ``release``, or None (not registered, or not yet whole)."""
    path = _folder(root) / f"{release}.json"
    return json.loads(path.read_bytes()) if path.exists() else None


def _release(root: Path, release: str) -> str:
    if not plain_name(release) or not (root / "releases" / release).is_dir():
        raise UserInputError(f"no release {release!r} under {str(root)!r}", field="version")
    return release


def approve(root: Path, release: str, by: str, note: str = "") -> None:
    """Record that ``by`` approved ``release`` for promotion."""
    _release(root, release)
    if not by.strip():
        raise UserInputError("an approval names who gives it (--by)", field="by")
    approval = {"by": by, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "note": note}
    write_file(_folder(root) / "approvals" / f"{release}.json", json.dumps(approval).encode(),
               sync=True)  # fmt: skip


def approval(root: Path, release: str) -> dict[str, Any] | None:
    """Who approved ``release`` and when, or None."""
    path = _folder(root) / "approvals" / f"{release}.json"
    return json.loads(path.read_bytes()) if path.exists() else None


def promote(root: Path, release: str, alias: str = "champion") -> None:
    """Point ``alias`` at ``release``, once it loads and (manual mode) is approved."""
    _release(root, release)
    if not plain_name(alias):
        raise UserInputError(f"an alias is letters, digits, -_. ; got {alias!r}", field="alias")
    if mode(root) == "manual" and approval(root, release) is None:
        raise ConfigError(
            f"release {release!r} is not approved and the registry's approval mode is manual: "
            f"uplift registry approve {release} --by NAME",
            field="version",
        )
    load_release(root, release, threads=1)  # checksums, and the plan against its model
    _move(root, alias, release, "promote")


def rollback(root: Path, alias: str = "champion") -> str:
    """Point ``alias`` back at the release it named before its latest move; that release."""
    try:
        now = read_pointer(root, alias)
    except BundleError:
        raise UserInputError(
            f"{alias!r} points at no release yet: no earlier release to roll back to",
            field="alias",
        ) from None
    moves = [m["release"] for m in history(root) if m["alias"] == alias]
    while moves and moves[-1] == now:
        moves.pop()
    if not moves:
        raise UserInputError(f"{alias!r} has no earlier release to roll back to", field="alias")
    previous = moves[-1]
    load_release(root, previous, threads=1)
    _move(root, alias, previous, "rollback")
    return previous


def _move(root: Path, alias: str, release: str, why: str) -> None:
    entry = {"alias": alias, "release": release, "why": why,
             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    path = _folder(root) / "history.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, json.dumps(entry).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    sync_folder(path.parent)
    point(root, {"schema_version": POINTER_SCHEMA_VERSION, "release": release}, alias)
    mirror = mlflow(root)
    if mirror is not None:  # told after the move, never asked: MLflow cannot refuse it
        from uplift_engine.pipeline.mlflow_log import MlflowConfig, mirror_alias

        mirror_alias(MlflowConfig(**mirror), alias, release)


def history(root: Path) -> list[dict[str, Any]]:
    """Every alias move, oldest first (a torn last line, a kill mid-append, is skipped)."""
    path = _folder(root) / "history.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def versions(root: Path) -> list[Version]:
    """Every release under ``root``, oldest first, with its record, approval and aliases."""
    folder = root / "releases"
    ids = sorted(p.name for p in folder.iterdir() if plain_name(p.name)) if folder.is_dir() else []
    aliases: dict[str, list[str]] = {}
    for pointer in sorted(root.glob("*.json")):
        try:
            aliases.setdefault(read_pointer(root, pointer.stem), []).append(pointer.stem)
        except BundleError:
            continue
    out = []
    for release in ids:
        found = record(root, release)
        out.append(Version(release, found, approval(root, release), aliases.get(release, [])))
    return out
