"""Champion and challenger in one service: the challenger in shadow, then on a share of traffic.

A service that follows a release root serves the ``champion`` (or whichever alias it follows)
and, when ``ROOT/challenger.json`` names another release and ``ROOT/traffic.json`` says so, the
challenger beside it:

- ``shadow``: the champion decides every request; the challenger decides the same request too,
  with no effect (no pacing hold, no contact recorded), and its decision is logged beside the
  champion's (``shadow``: its release, model, offer and every offer's uplift);
- ``split``: each request is given to the challenger with probability ``share`` — drawn at
  random, independent of the customer, and recorded (``assignment``) — and that model decides
  it with every effect; the rest are the champion's, with the challenger in shadow. The next
  campaign's measurement compares the two groups as the randomised experiment they are;
- ``off`` (no file): the champion alone.

The traffic file is written whole (``uplift registry traffic``) and read with the pointers, so a
change takes effect at the next reload, without a restart. Standard library only.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from uplift_engine.errors import BundleError, ConfigError
from uplift_engine.replace import write_file
from uplift_engine.serve.corridor import Ask, CustomerDecision, DecisionCore

TRAFFIC_FILE = "traffic.json"
TRAFFIC_SCHEMA_VERSION = "uplift.traffic/1"
MODES = ("off", "shadow", "split")
CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class Traffic:
    """How requests are shared between the champion and the challenger."""

    mode: str = "off"
    share: float = 0.0
    """``split``: the probability that a request is the challenger's."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"the traffic mode is one of {', '.join(MODES)}, got {self.mode!r}",
                              field="mode")  # fmt: skip
        if not 0.0 <= self.share <= 1.0 or (self.mode == "split" and not 0 < self.share < 1):
            raise ConfigError(
                f"the challenger's share is strictly between 0 and 1 in split mode, got "
                f"{self.share:g}",
                field="share",
            )


def read_traffic(root: Path) -> Traffic:
    """The traffic settings under ``root`` (no file: ``off``)."""
    path = root / TRAFFIC_FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return Traffic()
    except (OSError, ValueError) as exc:
        raise BundleError(f"{str(path)!r} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema_version") != TRAFFIC_SCHEMA_VERSION:
        raise BundleError(f"{str(path)!r} is not a {TRAFFIC_SCHEMA_VERSION} file")
    try:
        return Traffic(str(data.get("mode")), float(data.get("share", 0.0)))
    except (ConfigError, TypeError, ValueError) as exc:
        raise BundleError(f"{str(path)!r}: {exc}") from exc


def write_traffic(root: Path, traffic: Traffic) -> None:
    """Replace the traffic settings under ``root`` whole."""
    body = {"schema_version": TRAFFIC_SCHEMA_VERSION, "mode": traffic.mode, "share": traffic.share}
    write_file(root / TRAFFIC_FILE, json.dumps(body).encode(), sync=True)


@dataclass(frozen=True)
class Challenger:
    """The challenger as served: a live core (split) and an effect-free one (shadow)."""

    release: str
    live: DecisionCore
    shadow: DecisionCore
    traffic: Traffic


_draw = random.Random()  # seeded from the system's entropy: assignments nobody can predict


def decide_routed(
    champion: DecisionCore, challenger: Challenger | None, asks: list[Ask]
) -> list[CustomerDecision]:
    """Decide ``asks`` with the champion, the challenger's share with it, its shadow logged."""
    if challenger is None or challenger.traffic.mode == "off" or not asks:
        return champion.decide_many(asks)
    traffic = challenger.traffic
    theirs = [traffic.mode == "split" and _draw.random() < traffic.share for _ in asks]
    out: list[CustomerDecision | None] = [None] * len(asks)
    for mine, core, label in ((False, champion, CHAMPION), (True, challenger.live, CHALLENGER)):
        rows = [i for i, t in enumerate(theirs) if t is mine]
        if not rows:
            continue
        decided = core.decide_many([asks[i] for i in rows])
        shadows = challenger.shadow.decide_many([asks[i] for i in rows]) if not mine else None
        for k, i in enumerate(rows):
            shadow = None if shadows is None else _shadow(challenger.release, shadows[k])
            out[i] = replace(decided[k], assignment=label, shadow=shadow)
    return [d for d in out if d is not None]


def _shadow(release: str, decision: CustomerDecision) -> dict[str, Any]:
    return {
        "release": release,
        "model_version": decision.model_version,
        "plan_version": decision.plan_version,
        "offer": decision.offer,
        "offers": decision.to_dict()["offers"],
    }
