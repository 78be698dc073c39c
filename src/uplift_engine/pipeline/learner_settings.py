"""``uplift train --set KEY=VALUE``: a learner's settings and its base models' parameters.

Invariant: every key is either a keyword of the chosen learner's constructor (``n_trees``,
``final_stage``, ``criterion`` …) or a field of :class:`~uplift_engine.learn.BoosterParams`
(``learning_rate``, ``n_estimators``, ``num_leaves`` …); nothing else passes. Values are read
as YAML scalars (``400`` an integer, ``0.1`` a float, ``forest`` a string, ``null`` None) and
must have the type of the setting's default (an integer is accepted for a float). Booster
parameters apply with ``--learner auto`` too (to every candidate); learner settings need a
named learner, since candidates take different ones. ``seed``, ``threads`` and ``library`` have
their own options (``--seed``, settings, ``--base``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import yaml

from uplift_engine.errors import ConfigError
from uplift_engine.learn.training import LEARNERS, BoosterParams

RESERVED = {"seed": "--seed", "threads": "the threads setting", "library": "--base"}


@dataclass(frozen=True)
class LearnerSettings:
    """``--set`` pairs sorted into the learner's keywords and the booster's overrides."""

    learner: dict[str, Any]
    booster: dict[str, Any]


def parse_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``["n_trees=400", "final_stage=forest"]`` → ``{"n_trees": 400, "final_stage": "forest"}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}", field="set")
        if key in out:
            raise ConfigError(f"--set gives {key!r} twice", field=key)
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        if isinstance(value, list | dict):
            raise ConfigError(f"--set {key} must be a single value, got {text!r}", field=key)
        out[key] = value
    return out


def split_settings(learner: str, values: Mapping[str, Any], *, auto: bool) -> LearnerSettings:
    """Sort ``values`` into the learner's keywords and booster parameters, checking each."""
    booster_defaults = {f.name: (f.default, str(f.type)) for f in fields(BoosterParams)}
    learner_defaults: dict[str, Any] = {}
    if not auto:
        signature = inspect.signature(LEARNERS[learner].__init__)
        learner_defaults = {
            name: (p.default, str(p.annotation))
            for name, p in signature.parameters.items()
            if name not in ("self", "params", "seed") and p.kind is p.KEYWORD_ONLY
        }
    chosen: dict[str, Any] = {}
    booster: dict[str, Any] = {}
    for key, value in values.items():
        if key in RESERVED:
            raise ConfigError(f"--set {key} is not a setting here: use {RESERVED[key]}", field=key)
        if key in learner_defaults:
            chosen[key] = _typed(key, value, *learner_defaults[key])
        elif key in booster_defaults:
            booster[key] = _typed(key, value, *booster_defaults[key])
        else:
            known = sorted(set(learner_defaults) | set(booster_defaults) - set(RESERVED))
            what = "with --learner auto only booster parameters" if auto else learner
            raise ConfigError(
                f"--set {key!r} is not a setting of {what}; known: {', '.join(known)}",
                field=key,
            )
    return LearnerSettings(chosen, booster)


def _typed(key: str, value: Any, default: Any, annotation: str) -> Any:
    """``value`` if it has the type of ``default``; for a None default, of its annotation."""
    if default is None:
        if value is None:
            return value
        allowed = [t for t in (int, float, str, bool) if t.__name__ in annotation] or [int]
        default = allowed[0]() if type(value) not in allowed else value
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    names = {int: "an integer", float: "a number", str: "a word", bool: "true or false"}
    raise ConfigError(
        f"--set {key} expects {names.get(expected, expected.__name__)}, got {value!r}",
        field=key,
    )
