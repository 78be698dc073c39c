"""serve layer: one decision core; the HTTP app, Lambda handlers and batch are adapters over it.

This face is the request corridor's (docs/architecture.md): :class:`DecisionCore` reads a
customer's features from the online store, scores the bundle and applies the decider.
"""

from uplift_engine.serve.corridor import CustomerDecision, DecisionCore

__all__ = ["CustomerDecision", "DecisionCore"]
