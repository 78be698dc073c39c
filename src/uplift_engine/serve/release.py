"""What a decision service serves: a bundle, and the plan priced with it, found through a pointer.

A *release* (DESIGN.md) is a folder ``ROOT/releases/<id>/`` holding ``bundle/`` (a model bundle)
and ``plan.json`` (the metadata of the plan priced with that bundle: economics, policy, value
and the optimiser's prices — what :meth:`~uplift_engine.decide.Decider.from_plan_meta` reads)
with ``plan.sha256``. ``ROOT/current.json`` (or ``ROOT/<alias>.json``) names the release being
served. Invariant: a release is written whole before its pointer, and the pointer is replaced
by one rename, so a reader sees the old release or the new one, never a part; every checksum
is verified on load, and a plan whose model is not the bundle is refused.

Versions are the first 12 hex characters of the SHA-256 of the bundle's manifest and of the
plan's metadata file. Standard library only (plus the bundle loader): this runs in the
decision-only environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplift_engine.decide import Decider
from uplift_engine.errors import BundleError, ConfigError
from uplift_engine.learn import Bundle, load_bundle
from uplift_engine.replace import owner_alive, sync_folder, write_file

POINTER_SCHEMA_VERSION = "uplift.release-pointer/1"
PLAN_FILE, PLAN_CHECKSUM, BUNDLE_DIR = "plan.json", "plan.sha256", "bundle"
PLAN, ECONOMICS, EFFECTS_ONLY = "plan", "economics", "none"
"""How offers are priced: the plan's prices, the economics alone (no budget), or not at all."""


@dataclass(frozen=True)
class Served:
    """A loaded model and how its offers are decided."""

    bundle: Bundle
    decider: Decider | None
    plan_version: str | None
    pricing: str
    release: str | None = None

    @property
    def model_version(self) -> str:
        """The bundle's version (its manifest's SHA-256, 12 hex characters)."""
        return self.bundle.version


def plan_version(meta_text: bytes) -> str:
    """The version of a plan: the first 12 hex characters of its metadata's SHA-256."""
    return hashlib.sha256(meta_text).hexdigest()[:12]


def check_plan_matches(bundle: Bundle, meta: Mapping[str, Any], where: str) -> None:
    """Refuse a plan priced on another model's scores than ``bundle``'s."""
    model = (meta.get("scores") or {}).get("model") or {}
    if model.get("version") is not None:
        same = model["version"] == bundle.version
    else:  # a plan written before scores carried the model's version
        same = (
            model.get("learner") == bundle.manifest["learner"]["name"]
            and model.get("created_at") == bundle.manifest["created_at"]
            and model.get("data_sha256") == bundle.manifest["data_fingerprint"].get("sha256")
        )
    if not same:
        raise ConfigError(
            f"{where} was priced on the scores of another model ({model.get('version') or '?'},"
            f" {model.get('learner')!r} of {model.get('created_at')}) than the bundle "
            f"{bundle.version} ({bundle.manifest['learner']['name']!r} of "
            f"{bundle.manifest['created_at']}); score and optimise with this bundle again",
            field="plan",
        )
    arms = list(meta.get("offers") or [])
    if sorted(arms) != sorted(bundle.offers) or meta.get("control") != bundle.control:
        raise ConfigError(
            f"{where} decides offers {arms} with control {meta.get('control')!r}; the bundle "
            f"has offers {bundle.offers} with control {bundle.control!r}",
            field="plan",
        )


def served_with_plan(bundle: Bundle, meta_text: bytes, where: str) -> Served:
    """Serve ``bundle`` with the plan whose metadata is ``meta_text`` (checked to match)."""
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not JSON: {exc}", field="plan") from exc
    if not isinstance(meta, dict) or "economics" not in meta or "optimizer" not in meta:
        raise ConfigError(f"{where} is not a plan's metadata", field="plan")
    check_plan_matches(bundle, meta, where)
    return Served(bundle, Decider.from_plan_meta(meta), plan_version(meta_text), PLAN)


def read_pointer(root: Path, alias: str = "current") -> str:
    """The id of the release that ``ROOT/<alias>.json`` names."""
    path = root / f"{alias}.json"
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise BundleError(f"release pointer {str(path)!r} does not exist") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"release pointer {str(path)!r} is unreadable: {exc}") from exc
    release = data.get("release") if isinstance(data, dict) else None
    if data.get("schema_version") != POINTER_SCHEMA_VERSION or not plain_name(release):
        raise BundleError(
            f"release pointer {str(path)!r} is not a {POINTER_SCHEMA_VERSION} pointer "
            "naming a release"
        )
    return str(release)


def load_release(root: Path, release: str, *, threads: int = 2) -> Served:
    """Load and verify release ``release`` under ``root``."""
    folder = root / "releases" / release
    bundle = load_bundle(folder / BUNDLE_DIR, threads=threads)
    try:
        text = (folder / PLAN_FILE).read_bytes()
        expected = (folder / PLAN_CHECKSUM).read_text().strip()
    except FileNotFoundError:
        return Served(bundle, None, None, EFFECTS_ONLY, release)
    if hashlib.sha256(text).hexdigest() != expected:
        raise BundleError(f"release {release!r}: {PLAN_FILE} does not match its checksum")
    served = served_with_plan(bundle, text, f"release {release!r}'s plan")
    return Served(bundle, served.decider, served.plan_version, PLAN, release)


def write_release(
    root: Path,
    bundle_dir: Path,
    plan_meta: bytes | None,
    *,
    alias: str | None = "current",
    release: str | None = None,
) -> str:
    """Publish a bundle (and its plan's metadata) as a new release and point ``alias`` at it.

    The bundle is loaded first (checksums, and the plan matched against it); the release is
    written and synced under a hidden name, renamed into place, and only then is the pointer
    replaced (no pointer moves when ``alias`` is None: a release registered, not served).
    ``release``: the id to write it under (a pipeline's, so that a resumed run finds the
    release it wrote before it was killed: one already there is kept, not written again).
    Returns the release id.
    """
    bundle = load_bundle(bundle_dir, threads=1)
    if plan_meta is not None:
        served_with_plan(bundle, plan_meta, "the plan")
    releases = root / "releases"
    releases.mkdir(parents=True, exist_ok=True)
    _sweep_stale(releases)
    _sweep_stale(root)
    if release is not None:
        if not plain_name(release):
            raise ConfigError(f"a release id is letters, digits, -_. ; got {release!r}")
        if (releases / release).exists():  # written whole before (renamed into place)
            if alias is not None:
                point(root, {"schema_version": POINTER_SCHEMA_VERSION, "release": release}, alias)
            return release
    else:
        release = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{bundle.version}"
        if (releases / release).exists():
            release = f"{release}-{uuid.uuid4().hex[:6]}"
    staging = releases / f".{release}.tmp-{os.getpid()}"
    shutil.copytree(bundle_dir, staging / BUNDLE_DIR)
    if plan_meta is not None:
        _write(staging / PLAN_FILE, plan_meta)
        _write(staging / PLAN_CHECKSUM, hashlib.sha256(plan_meta).hexdigest().encode())
    for folder, _, files in os.walk(staging, topdown=False):  # files, then their folders
        for name in files:
            sync_folder(Path(folder) / name)  # an fsync of the path: files too
        sync_folder(Path(folder))
    os.rename(staging, releases / release)
    sync_folder(releases)
    if alias is not None:
        point(root, {"schema_version": POINTER_SCHEMA_VERSION, "release": release}, alias)
    return release


def _sweep_stale(folder: Path) -> None:
    """Remove what writers that died left: ``.<id>.tmp-<pid>`` folders, pointer temporaries."""
    for staged in folder.glob(".*.tmp-*"):
        pid = staged.name.split(".tmp-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and not owner_alive(int(pid)):
            if staged.is_dir():
                shutil.rmtree(staged, ignore_errors=True)
            else:
                staged.unlink(missing_ok=True)


def point(root: Path, pointer: Mapping[str, Any], alias: str = "current") -> None:
    """Replace ``ROOT/<alias>.json`` in one rename, synced."""
    write_file(
        root / f"{alias}.json", json.dumps(dict(pointer), sort_keys=True).encode(), sync=True
    )


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def plain_name(value: object) -> bool:
    """A release id or alias: 1–128 letters, digits, `-`, `_` or `.`, not starting with `.`."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 128
        and not value.startswith(".")
        and all(c.isalnum() or c in "-_." for c in value)
    )
