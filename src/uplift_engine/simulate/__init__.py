"""simulate layer: a synthetic digital bank with randomised campaigns and known ground truth.

``simulate_bank(config, lake_uri)`` writes raw customers, events, campaigns, assignments and
outcomes, and the truth (true conversion probability and expected revenue of every customer
under every arm, and the customer type per offer) into a lake; it computes no features.
``run_plan(plan, truth, economics)`` plays a plan or a stream of decisions forward on that truth
(realised outcomes, true spend and incremental profit).
"""

from uplift_engine.simulate.bank import DATASETS, simulate_bank
from uplift_engine.simulate.config import (
    CUSTOMER_TYPES,
    CampaignSpec,
    SegmentShares,
    SimulationConfig,
    TypeShares,
    load_simulation_config,
)
from uplift_engine.simulate.offers import BUILTIN_PROFILES, OfferProfile
from uplift_engine.simulate.play import PlayedPlan, run_plan
from uplift_engine.simulate.response import classify
from uplift_engine.simulate.summary import ArmSummary, CampaignSummary, SimulationSummary

__all__ = [
    "BUILTIN_PROFILES",
    "CUSTOMER_TYPES",
    "DATASETS",
    "ArmSummary",
    "CampaignSpec",
    "CampaignSummary",
    "OfferProfile",
    "PlayedPlan",
    "SegmentShares",
    "SimulationConfig",
    "SimulationSummary",
    "TypeShares",
    "classify",
    "load_simulation_config",
    "run_plan",
    "simulate_bank",
]
