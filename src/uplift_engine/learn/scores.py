"""The scores contract (docs/design.md), written by ``uplift score`` and read by decide and report.

Columns: the id (under its own name, values as given); ``pred_<arm>`` for every arm, control
included; ``uplift_<offer>`` = ``pred_<offer>`` − ``pred_<control>``; optionally
``uplift_<offer>_lower`` / ``_upper`` (a 90% interval); then any kept columns.

Arm labels appear verbatim in column names; integral numbers lose their ``.0`` (arm ``1.0`` is
``pred_1``). The file's metadata (:class:`ScoresMeta`) travels with it (see
:mod:`uplift_engine.learn.data.scores_files`, which reads and writes the files).

This module owns the contract's names and is on the request corridor: the standard library only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

SCORES_SCHEMA_VERSION = "uplift.scores/1"
INTERVAL_LEVEL = 0.9


def arm_name(label: object) -> str:
    """An arm label as it appears in column names: verbatim, integral numbers without ``.0``."""
    if isinstance(label, bool):
        return str(label)
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def pred_column(arm: str) -> str:
    """The column of the expected outcome under ``arm``."""
    return f"pred_{arm}"


def uplift_column(offer: str, bound: str | None = None) -> str:
    """The column of the effect of ``offer`` (``bound`` = ``"lower"`` or ``"upper"``)."""
    return f"uplift_{offer}" + (f"_{bound}" if bound else "")


@dataclass(frozen=True)
class ScoresMeta:
    """What a scores file says about itself."""

    id_column: str
    arms: list[str]
    control: str
    outcome: str | None = None
    outcome_kind: str | None = None  # "binary" or "continuous"
    interval_level: float | None = None  # 0.9 when uplift_<offer>_lower/_upper are present
    interval_kind: str | None = None  # "confidence" (valid inference) or "approximate" (bootstrap)
    model: dict[str, object] = field(default_factory=dict)
    schema_version: str = SCORES_SCHEMA_VERSION

    @property
    def offers(self) -> list[str]:
        """The arms other than control, in order."""
        return [a for a in self.arms if a != self.control]

    def to_json(self) -> str:
        """The metadata as JSON."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ScoresMeta:
        """Parse :meth:`to_json` output."""
        data = json.loads(text)
        return cls(**data)
