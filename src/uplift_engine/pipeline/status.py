"""``uplift pipeline status``: the latest runs, the champion and challenger, and the drift.

One JSON-ready summary (what the dashboard reads) and its lines for the terminal, from the run
records (:mod:`.run_records`) and the registry (:mod:`.registry`) under a release root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from uplift_engine.errors import BundleError
from uplift_engine.pipeline import registry
from uplift_engine.pipeline import run_records as records
from uplift_engine.pipeline.run import STEPS
from uplift_engine.serve.release import read_pointer

STATUS_SCHEMA_VERSION = "uplift.pipeline-status/1"


def pipeline_status(root: Path, *, runs: int = 5) -> dict[str, Any]:
    """The status of the pipeline whose release root is ``root``."""
    every = records.load_runs(root)
    latest = [_run(r) for r in every[-runs:]][::-1]
    drift = next(
        (r["steps"]["drift"] | {"run": r["run"]} for r in reversed(every)
         if (r["steps"].get("drift") or {}).get("compared")),
        None,
    )  # fmt: skip
    return {
        "schema_version": STATUS_SCHEMA_VERSION,
        "root": str(root),
        "approval": registry.mode(root),
        "runs": latest,
        "champion": _alias(root, "champion"),
        "challenger": _alias(root, "challenger"),
        "drift": drift,
    }


def _run(record: dict[str, Any]) -> dict[str, Any]:
    gate = record["steps"].get("gate") or {}
    features = record["steps"].get("features") or {}
    return {
        "run": record["run"],
        "status": record["status"],
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "campaign": features.get("campaign"),
        "steps": [s for s in STEPS if s in record["steps"]],
        "decision": record.get("decision"),
        "why": record.get("why", []),
        "gate": {k: gate.get(k) for k in ("passed", "metric", "against", "difference", "unit")}
        if gate
        else None,
    }


def _alias(root: Path, alias: str) -> dict[str, Any] | None:
    try:
        release = read_pointer(root, alias)
    except BundleError:
        return None
    found = registry.record(root, release) or {}
    gate = found.get("gate") or {}
    return {
        "release": release,
        "model_version": found.get("model_version"),
        "learner": (found.get("learner") or {}).get("name"),
        "registered_at": found.get("registered_at"),
        "campaign": (found.get("lineage") or {}).get("campaign"),
        "gate": {k: gate.get(k) for k in ("metric", "against", "candidate", "difference", "unit")}
        if gate
        else None,
        "plan": found.get("plan"),
    }


def status_lines(status: dict[str, Any]) -> list[str]:
    """The status for the terminal."""
    out = [f"release root {status['root']} (approval: {status['approval']})"]
    for alias in ("champion", "challenger"):
        a = status[alias]
        if a is None:
            out.append(f"{alias:<11} none")
            continue
        gate = a["gate"]
        judged = (
            f"; gate {gate['metric']} {gate['candidate']:.4g} ({gate['difference']['value']:+.4g}"
            f" against {gate['against']})"
            if gate and gate.get("candidate") is not None
            else ""
        )
        out.append(
            f"{alias:<11} {a['release']} ({a['learner']}, campaign {a['campaign'] or '?'}){judged}"
        )
    out.append("runs (latest first):")
    for r in status["runs"]:
        out.append(f"  {r['run']}  {r['status']:<8} {r['campaign'] or '':<10} {r['decision']}")
        out += [f"      - {w}" for w in r["why"]]
    d = status["drift"]
    if d is None:
        out.append("drift: not measured yet")
    else:
        drifted = ", ".join(d["features_drifted"] + d["scores_drifted"]) or "nothing"
        out.append(f"drift (run {d['run']}, against {d['reference']}): {drifted} drifted"
                   + ("; retrain" if d["retrain"] else ""))  # fmt: skip
    return out
