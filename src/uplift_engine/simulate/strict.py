"""The simulation config's models: the one strict base, named "simulation config" in errors.

Unknown fields are refused, and any invalid value raises
:class:`~uplift_engine.errors.ConfigError` naming the field (``campaigns.0.arms``), never a bare
pydantic error (see :mod:`uplift_engine.config.strict`).
"""

from __future__ import annotations

from uplift_engine.config.strict import StrictModel as _StrictModel


class StrictModel(_StrictModel):
    """A strict model of the simulation config."""

    what = "simulation config"
