"""``uplift pipeline run``: new raw data to a gated, registered, promoted release — resumable.

The steps, each recorded in the run record (:mod:`.run_records`) once its output is committed:

1. **features** — validate the lake's raw datasets (bad rows quarantined with their reason) and
   build the campaign table of the campaign to train on (``latest`` by default), as one lake
   generation;
   **online** — with ``materialize: true``, every customer's batch features (and the columns
   the rules read) as of the lake's latest event put into the settings' online store, which
   the services read;
2. **drift** — the champion's training campaign against this one (:mod:`.drift_report`); with
   ``drift.retrain: on_drift`` a champion whose population has not moved is kept and the run
   ends here;
3. **train** — the candidate on the campaign's customers but the gate's share;
4. **plan** — the plan the release will price with: the candidate's on every customer of the
   campaign, at the budget per customer, with the economics and the policy; and its frontier
   (the expected incremental profit and ROI re-optimised at budgets from 0 up);
5. **gate** — the candidate against the champion on the gate customers (:mod:`.gate`); a
   rejected candidate ends the run, the reasons recorded;
6. **register** — bundle and plan as one release under an id fixed by the run, with its
   lineage and the verdict (:mod:`.registry`);
7. **promote** — ``champion`` (or ``challenger``) pointed at it, last; in the registry's manual
   approval mode the run ends awaiting a person's approval instead.

The inputs (every raw dataset's files and sizes), the feature definitions, the code and the
config make the run's key: a run whose key finished before returns that run and does nothing
new; a run killed at any moment is resumed at its first unrecorded step (a step's partial
output — an abandoned lake generation, a bundle folder never renamed into place, a release never
renamed — is never read, and is redone). One run at a time per release root (a lock).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.config.settings import Settings
from uplift_engine.decide.planning import (
    budget_frontier,
    load_economics,
    load_policy,
    read_plan,
    write_plan,
)
from uplift_engine.errors import BundleError, DataError
from uplift_engine.features.offline.campaign_table import build_campaign_tables
from uplift_engine.lake import layout, read_table, resolve
from uplift_engine.learn import Bundle, load_bundle
from uplift_engine.pipeline import registry
from uplift_engine.pipeline import run_records as records
from uplift_engine.pipeline.drift_report import drift_report
from uplift_engine.pipeline.gate import Pricing, judge, plan_for
from uplift_engine.pipeline.mlflow_log import log_run
from uplift_engine.pipeline.pipeline_config import PipelineConfig
from uplift_engine.pipeline.train import TrainOptions, train_bundle
from uplift_engine.replace import write_file
from uplift_engine.serve.release import read_pointer

FRONTIER_POINTS = 11
"""Budgets on the expected-profit frontier recorded with the plan (0 to the unconstrained spend)."""
STEPS = ("features", "online", "drift", "train", "plan", "gate", "register", "promote")
Say = Callable[[str], None]


def run_pipeline(
    config: PipelineConfig,
    settings: Settings,
    *,
    say: Say | None = None,
) -> tuple[dict[str, Any], bool]:
    """Run (or resume) the pipeline; the run record and whether anything new was done."""
    tell = say or (lambda _: None)
    root = Path(config.path(config.releases))
    lake = config.path(config.lake)
    with records.run_lock(root):
        found_inputs = records.inputs(lake, settings)
        features_sha = records.features_fingerprint()
        code = records.code_fingerprint()
        config_sha = config.fingerprint()
        key = records.run_key(found_inputs["sha256"], features_sha, code["sha256"], config_sha)
        record = records.find(root, key)
        if config.mlflow is not None:
            registry.set_mlflow(root, config.mlflow.model_dump())
        if record is not None and record["status"] == "done":
            tell(f"nothing new: run {record['run']} took these inputs ({record['decision']})")
            _mirror(config, root, record, tell)
            return record, False
        if record is None:
            record = {
                "schema_version": records.RUN_SCHEMA_VERSION,
                "run": records.new_run_id(key),
                "key": key,
                "status": "running",
                "started_at": records.now(),
                "inputs": found_inputs,
                "features_sha256": features_sha,
                "code": code,
                "config": config.model_dump(mode="json", exclude={"base"}),
                "config_sha256": config_sha,
                "steps": {},
                "decision": None,
                "why": [],
            }
            records.save(root, record)
            tell(f"run {record['run']}")
        else:
            done = ", ".join(s for s in STEPS if s in record["steps"]) or "no step"
            tell(f"resuming run {record['run']} ({done} done)")
        work = records.folder(root) / record["run"]
        work.mkdir(parents=True, exist_ok=True)
        run = _Run(config, settings, root, lake, work, record, tell)
        for step in STEPS:
            if record["status"] == "done":
                break
            if step in record["steps"]:
                continue
            tell(f"{step} …")
            record["steps"][step] = getattr(run, step)()
            records.save(root, record)
        if record["status"] != "done":
            _finish(record, "nothing to do", [])
        records.save(root, record)
        tell(f"{record['decision']}" + "".join(f"\n  - {w}" for w in record["why"]))
        _mirror(config, root, record, tell)
        return record, True


def _mirror(config: PipelineConfig, root: Path, record: dict[str, Any], tell: Say) -> None:
    """Log a finished run to MLflow once (retried by the next run while it fails)."""
    if config.mlflow is None or (record.get("mlflow") or {}).get("run_id"):
        return
    record["mlflow"] = log_run(config.mlflow, record, records.folder(root) / record["run"])
    records.save(root, record)
    logged = record["mlflow"]
    if "error" in logged:
        tell(f"MLflow: {logged['error']}")
    else:
        tell(f"MLflow: run {logged['run_id']}, model version {logged['model_version']}")


def _finish(record: dict[str, Any], decision: str, why: list[str]) -> None:
    record.update(status="done", decision=decision, why=why, finished_at=records.now())


class _Run:
    """The steps of one run; each returns what the record keeps of it."""

    def __init__(
        self,
        config: PipelineConfig,
        settings: Settings,
        root: Path,
        lake: str,
        work: Path,
        record: dict[str, Any],
        say: Say,
    ) -> None:
        self.config, self.settings, self.root, self.lake = config, settings, root, lake
        self.work, self.record, self.say = work, record, say

    # what the steps share, derived again on a resumed run from what earlier steps recorded
    @property
    def campaign(self) -> str:
        return str(self.record["steps"]["features"]["campaign"])

    def table(self) -> pa.Table:
        return read_table(f"{self.lake}/{layout.campaign_table_path(self.campaign)}",
                          self.settings)  # fmt: skip

    def gate_mask(self, table: pa.Table) -> np.ndarray:
        rng = np.random.default_rng(self.config.seed)
        return rng.random(table.num_rows) < self.config.gate.share

    def options(self) -> TrainOptions:
        c = self.config
        return TrainOptions(
            outcome=c.outcome, learner=c.learner, exclude=tuple(c.exclude),
            settings=c.learner_settings, seed=c.seed,
        )  # fmt: skip

    def pricing(self) -> Pricing:
        c = self.config
        economics = c.economics if isinstance(c.economics, dict) else c.path(c.economics)
        policy = c.policy if c.policy is None or isinstance(c.policy, dict) else c.path(c.policy)
        loaded = load_economics(economics, self.settings)
        return Pricing(
            economics=loaded,
            economics_map=asdict(loaded),
            value=c.value,
            policy=None if policy is None else load_policy(policy, self.settings),
            budget_per_customer=c.budget_per_customer,
            seed=c.seed,
        )

    def champion(self) -> tuple[str, Bundle] | None:
        try:
            release = read_pointer(self.root, "champion")
        except BundleError:
            return None
        bundle = load_bundle(self.root / "releases" / release / "bundle", threads=1)
        return release, bundle

    def candidate(self) -> Bundle:
        return load_bundle(self.work / "candidate", threads=self.settings.threads)

    # the steps
    def features(self) -> dict[str, Any]:
        campaign = _campaign(self.lake, self.config.campaign, self.settings)
        (summary,) = build_campaign_tables(
            self.lake, [campaign], self.settings, threads=self.settings.threads
        )
        quarantined = {k: v for k, v in summary.quarantined.items() if v}
        self.say(
            f"campaign {campaign}: {summary.rows:,} customers"
            + (f"; quarantined {quarantined}" if quarantined else "")
        )
        return {"campaign": campaign, "rows": summary.rows, "quarantined": quarantined,
                "table": summary.path}  # fmt: skip

    def online(self) -> dict[str, Any]:
        if not self.config.materialize:
            return {"materialized": False}
        from uplift_engine.features import open_store
        from uplift_engine.features.offline import materialize

        summary = materialize(self.lake, open_store(self.settings.online_store),
                              settings=self.settings, threads=self.settings.threads)  # fmt: skip
        self.say(f"online store: {summary.customers:,} customers' features as of {summary.as_of}")
        return {"materialized": True, "customers": summary.customers, "as_of": summary.as_of,
                "version": summary.version, "store": summary.store}  # fmt: skip

    def drift(self) -> dict[str, Any]:
        champion = self.champion()
        if champion is None:
            return {"compared": False, "why": "no champion yet"}
        record = registry.record(self.root, champion[0]) or {}
        theirs = (record.get("lineage") or {}).get("campaign")
        where = f"{self.lake}/{layout.campaign_table_path(str(theirs))}"
        if theirs is None or not resolve(where, self.settings).exists():
            return {"compared": False, "why": "the champion's training table is not in the lake"}
        reference = read_table(where, self.settings)
        report = drift_report(
            champion[1], reference, self.table(),
            max_psi=self.config.drift.max_psi, max_drifted=self.config.drift.max_drifted,
        ).to_dict()  # fmt: skip
        write_file(self.work / "drift.json", json.dumps(report, indent=1, default=str).encode())
        drifted = [c["name"] for c in report["features"] if c["drifted"]]
        scores = [c["name"] for c in report["scores"] if c["drifted"]]
        out = {"compared": True, "reference": theirs, "retrain": report["retrain"],
               "because": report["retrain_because"], "features_drifted": drifted,
               "scores_drifted": scores, "report": str(self.work / "drift.json")}  # fmt: skip
        if self.config.drift.retrain == "on_drift" and not report["retrain"]:
            _finish(self.record, "kept the champion: no drift", [
                f"the champion's population has not moved since {theirs} (drift.retrain is "
                "on_drift)"])  # fmt: skip
        return out

    def train(self) -> dict[str, Any]:
        table = self.table()
        learning = table.filter(pa.array(~self.gate_mask(table)))
        target = self.work / "candidate"
        result = train_bundle(learning, self.options(), target, self.settings, overwrite=True,
                              progress=self.say)  # fmt: skip
        bundle = self.candidate()
        return {"bundle": str(target), "model_version": bundle.version, "learner": result.learner,
                "rows": result.train_rows, "evaluation": result.validation,
                "warnings": result.warnings}  # fmt: skip

    def plan(self) -> dict[str, Any]:
        plan = plan_for(self.candidate(), self.table(), self.pricing(), holdout=0.0)
        where = self.work / "plan.parquet"
        write_plan(plan.table, plan.meta, where)
        figures = plan.summary.plan
        frontier = budget_frontier(plan.prepared.problem, points=FRONTIER_POINTS,
                                   seed=self.config.seed)  # fmt: skip
        return {"plan": str(where), "budget": plan.summary.budget, "spend": figures.spend,
                "expected_profit": figures.profit, "treated": figures.treated,
                "frontier": [p.to_dict() for p in frontier.points],
                "best_budget": frontier.best_budget}  # fmt: skip

    def gate(self) -> dict[str, Any]:
        table = self.table()
        held = table.filter(pa.array(self.gate_mask(table)))
        plan_table, meta = read_plan(self.work / "plan.parquet")
        verdict = judge(
            held, self.options(), self.candidate(), self.champion(), self.pricing(),
            self.config.gate, (plan_table, meta), table, self.settings,
        ).to_dict()  # fmt: skip
        if not verdict["passed"]:
            _finish(self.record, "rejected by the gate", verdict["reasons"])
        else:
            d = verdict["difference"]
            self.say(
                f"the gate passes: {verdict['metric']} {d['value']:+.4g} "
                f"[{d['low']:+.4g}, {d['high']:+.4g}] against {verdict['against']}"
            )
        return verdict

    def register(self) -> dict[str, Any]:
        candidate = self.candidate()
        _, meta = read_plan(self.work / "plan.parquet")
        release = f"{self.record['run']}-{candidate.version}"
        registry.register(
            self.root, self.work / "candidate",
            json.dumps(meta, sort_keys=True, default=float).encode(),
            verdict=self.record["steps"]["gate"],
            lineage={
                "run": self.record["run"], "campaign": self.campaign,
                "inputs_sha256": self.record["inputs"]["sha256"],
                "features_sha256": self.record["features_sha256"],
                "code": self.record["code"], "config_sha256": self.record["config_sha256"],
            },
            release=release,
        )  # fmt: skip
        return {"release": release}

    def promote(self) -> dict[str, Any]:
        release = self.record["steps"]["register"]["release"]
        alias = self.config.promote_to
        if registry.mode(self.root) == "manual" and registry.approval(self.root, release) is None:
            _finish(self.record, "registered, awaiting approval", [
                f"the registry's approval mode is manual: uplift registry approve {release} "
                f"--by NAME, then uplift registry promote {release} --alias {alias}"])  # fmt: skip
            return {"alias": None}
        try:
            now = read_pointer(self.root, alias)
        except BundleError:
            now = None
        if now != release:
            registry.promote(self.root, release, alias)
        verdict = self.record["steps"]["gate"]
        _finish(self.record, f"promoted {release} to {alias}", [
            f"it beats {verdict['against']} by {verdict['difference']['value']:.4g} "
            f"{verdict['unit']} (interval from {verdict['difference']['low']:.4g})"])  # fmt: skip
        return {"alias": alias, "replaced": now}


def _campaign(lake: str, wanted: str, settings: Settings) -> str:
    """The campaign to train on: ``wanted``, or the latest to start (ties by id)."""
    campaigns = read_table(f"{lake}/{layout.CAMPAIGNS}", settings)
    ids = pc.unique(campaigns.column("campaign_id")).to_pylist()
    if wanted != "latest":
        if wanted not in ids:
            raise DataError(
                f"campaign {wanted!r} is not in the lake's campaigns ({', '.join(map(str, ids))})",
                field="campaign",
            )
        return wanted
    starts = dict(zip(campaigns.column("campaign_id").to_pylist(),
                      campaigns.column("starts_at").to_pylist(), strict=True))  # fmt: skip
    return str(max(ids, key=lambda c: (starts[c], c)))
