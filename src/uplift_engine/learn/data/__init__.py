"""Campaign data for the learners: column roles, arms, encoding, checks, and scored tables.

A campaign table (Arrow) becomes :class:`CampaignData` (X, arm codes, outcome, ids) through
:func:`assign_roles` and :func:`encode_campaign`, after the checks that refuse what would mislead
a model (:func:`find_leaks`, :func:`check_balance`); :func:`score_table` turns a table into the
scores contract and :func:`read_scores` / :func:`write_scores` keep it in files.
"""

from uplift_engine.learn.data.arms import ArmSet, apply_aliases, discover_arms, parse_arm_map
from uplift_engine.learn.data.balance import Imbalance, check_balance
from uplift_engine.learn.data.dataset import (
    CampaignData,
    encode_campaign,
    holdout_split,
    outcome_values,
    propensity_matrix,
    stratified_folds,
)
from uplift_engine.learn.data.encoder import fit_encoder
from uplift_engine.learn.data.leakage import Leak, find_leaks
from uplift_engine.learn.data.roles import (
    ROW_ID,
    ColumnRoles,
    DeclaredRoles,
    assign_roles,
    choose,
    choose_outcome,
    declared_roles,
    table_ids,
)
from uplift_engine.learn.data.scores_files import read_scores, write_scores
from uplift_engine.learn.data.scoring import predict_batched, score_table

__all__ = [
    "ROW_ID",
    "ArmSet",
    "CampaignData",
    "ColumnRoles",
    "DeclaredRoles",
    "Imbalance",
    "Leak",
    "apply_aliases",
    "assign_roles",
    "check_balance",
    "choose",
    "choose_outcome",
    "declared_roles",
    "discover_arms",
    "encode_campaign",
    "find_leaks",
    "fit_encoder",
    "holdout_split",
    "outcome_values",
    "parse_arm_map",
    "predict_batched",
    "propensity_matrix",
    "read_scores",
    "score_table",
    "stratified_folds",
    "table_ids",
    "write_scores",
]
