"""Reading the decide layer's YAML/JSON files (economics, policy) with one-line errors.

Invariant: a file is read through the lake (local or s3://), must hold a mapping, and is
validated against the decide layer's own records (:class:`~uplift_engine.decide.Economics`,
:class:`~uplift_engine.decide.Policy`); a failure is reported as
``<file>: <dotted.field>: <reason>, got <value>`` (:mod:`uplift_engine.config.strict`). Arm
labels written as numbers (``1:`` as a key) are read as their names first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from uplift_engine.config.settings import Settings
from uplift_engine.config.strict import validate_record
from uplift_engine.decide.economics import Economics
from uplift_engine.decide.policy import RULE_KINDS, CompiledPolicy, Policy, rule_entries
from uplift_engine.errors import ConfigError
from uplift_engine.lake import resolve
from uplift_engine.learn.scores import arm_name


class _TextTimes(yaml.SafeLoader):
    """YAML's safe loader, but a date or time stays the text written.

    ``until: 2027-06-30`` and ``start: 2026-12-08T00:00:00+07:00`` reach the records as the ISO
    text they read, and a time without a zone stays refusable instead of a naive datetime.
    """


_TextTimes.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_mapping(source: str | Path, settings: Settings | None, where: str) -> dict[str, Any]:
    """The mapping held by a YAML or JSON file."""
    loc = resolve(source, settings)
    if loc.is_dir():
        raise ConfigError(f"{where} is a folder, not a file")
    try:
        text = loc.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{where} is not UTF-8 text (is it a YAML or JSON file?)"
        ) from None
    try:
        data = (
            json.loads(text)
            if str(source).endswith(".json")
            else yaml.load(text, Loader=_TextTimes)  # a SafeLoader
        )
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where} is not valid YAML/JSON: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a mapping, got {type(data).__name__}")
    return data


def load_economics(
    source: str | Path | dict[str, Any], settings: Settings | None = None
) -> Economics:
    """Read an economics file (YAML or JSON, local or s3://) or validate a mapping."""
    where = "economics" if isinstance(source, dict) else f"economics file {str(source)!r}"
    data = source if isinstance(source, dict) else load_mapping(source, settings, where)
    if isinstance(data.get("offers"), dict):
        data = {**data, "offers": {arm_name(k): v for k, v in data["offers"].items()}}
    segments = data.get("segments")
    if isinstance(segments, dict) and isinstance(segments.get("shares"), dict):
        shares = {arm_name(k): v for k, v in segments["shares"].items()}
        data = {**data, "segments": {**segments, "shares": shares}}
    if data.get("control") is not None:
        data = {**data, "control": arm_name(data["control"])}
    return validate_record(Economics, data, where)


def load_policy(
    source: str | Path | dict[str, Any], settings: Settings | None = None
) -> CompiledPolicy:
    """Read and compile a policy file (YAML or JSON, local or s3://) or a mapping."""
    where = "policy" if isinstance(source, dict) else f"policy file {str(source)!r}"
    data = source if isinstance(source, dict) else load_mapping(source, settings, where)
    data = {**data, **{kind: rule_entries(data.get(kind, [])) for kind in RULE_KINDS}}
    for section in (*RULE_KINDS, "contact_caps"):
        entries = data.get(section)
        if isinstance(entries, list):
            data[section] = [_offer_names(e) for e in entries]
    return validate_record(Policy, data, where).compiled()


def _offer_names(entry: Any) -> Any:
    if isinstance(entry, dict) and isinstance(entry.get("offers"), list):
        return {**entry, "offers": [arm_name(o) for o in entry["offers"]]}
    return entry
