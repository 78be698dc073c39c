"""serve layer: one decision core; the HTTP app, Lambda handlers and batch are adapters over it.

This face is the request corridor's (docs/architecture.md): :class:`DecisionCore` reads a
customer's features from the online store, scores the bundle and applies the decider, giving
DESIGN.md's Decision; :mod:`.release` loads what is served (a bundle and the plan priced with
it, from a release pointer). The adapters — :mod:`uplift_engine.serve.http` (Starlette),
:mod:`uplift_engine.serve.aws_lambda` and :mod:`uplift_engine.serve.batch` — are imported by
name, each with its own framework, and never from here.
"""

from uplift_engine.serve.corridor import (
    DECISION_SCHEMA_VERSION,
    CustomerDecision,
    DecisionCore,
    exclusion,
)
from uplift_engine.serve.release import (
    ECONOMICS,
    EFFECTS_ONLY,
    PLAN,
    Served,
    check_plan_matches,
    load_release,
    plan_version,
    read_pointer,
    served_with_plan,
    write_release,
)

__all__ = [
    "DECISION_SCHEMA_VERSION",
    "ECONOMICS",
    "EFFECTS_ONLY",
    "PLAN",
    "CustomerDecision",
    "DecisionCore",
    "Served",
    "check_plan_matches",
    "exclusion",
    "load_release",
    "plan_version",
    "read_pointer",
    "served_with_plan",
    "write_release",
]
