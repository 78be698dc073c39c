"""What each dashboard page shows, as JSON: read from the files the rest of the product writes.

Sources (:class:`Sources`): the release root (the registry's versions with their metrics and
gate verdicts, the alias history, the pipeline's run records and drift, the champion's plan),
optionally the lake holding the compacted decision log (traffic, degraded decisions,
exclusions, champion/challenger assignment), a campaign measurement (``uplift measure --out``)
and a budget curve (``uplift budget-curve --out …json``). A page whose source was not given
says so (``missing``) rather than show nothing. Amounts are in the economics' unit (thousands
of VND for the simulated bank); the page formats them. The browser test checks that every
chart draws exactly these numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from uplift_engine.errors import BundleError, UserInputError
from uplift_engine.pipeline import registry
from uplift_engine.pipeline.status import pipeline_status
from uplift_engine.serve.release import PLAN_FILE, read_pointer

PAGES = ("models", "targeting", "budget", "campaign", "operations")
RECENT_DAYS = 30
"""Operations and targeting read the decision log's last 30 days (before its latest decision)."""


@dataclass(frozen=True)
class Sources:
    """The files the dashboard reads (all but the release root optional)."""

    releases: Path
    lake: str | None = None
    measurement: Path | None = None
    budget_curve: Path | None = None
    service: str | None = None
    """A running decision service's base URL, whose ``/metrics`` give latency and traffic."""
    service_key: str | None = None
    """The API key its ``/metrics`` ask for (``X-API-Key``), when it has keys."""


def page(name: str, sources: Sources) -> dict[str, Any]:
    """The JSON of page ``name``."""
    if name not in PAGES:
        raise UserInputError(f"no page {name!r}; the pages: {', '.join(PAGES)}", field="page")
    return dict(_BUILDERS[name](sources))


def models(sources: Sources) -> dict[str, Any]:
    """Every registered version's out-of-sample metrics per offer, the gate, the aliases."""
    root = sources.releases
    out = []
    for version in registry.versions(root):
        record = version.record
        if record is None:  # a registration a kill interrupted: not a version yet
            continue
        evaluation = (record.get("metrics") or {}).get("evaluation") or {}
        offers = {}
        for offer, figures in (evaluation.get("per_offer") or {}).items():
            offers[offer] = {
                "qini_coefficient": figures.get("qini_coefficient"),
                "auuc_coefficient": figures.get("auuc_coefficient"),
                "uplift_at_k": figures.get("uplift_at_k") or [],
                "curves": figures.get("curves"),
                "calibration": [
                    {
                        k: d.get(k)
                        for k in (
                            "decile",
                            "predicted",
                            "observed",
                            "observed_low",
                            "observed_high",
                            "n",
                        )
                    }
                    for d in figures.get("calibration") or []
                ],
            }
        gate = record.get("gate") or {}
        out.append(
            {
                "release": version.release,
                "model_version": record.get("model_version"),
                "learner": (record.get("learner") or {}).get("name"),
                "registered_at": record.get("registered_at"),
                "campaign": (record.get("lineage") or {}).get("campaign"),
                "aliases": version.aliases,
                "approved": version.approval,
                "validation": (record.get("metrics") or {}).get("validation"),
                "gate": {
                    k: gate.get(k)
                    for k in (
                        "passed",
                        "metric",
                        "against",
                        "candidate",
                        "champion",
                        "difference",
                        "unit",
                    )
                }
                if gate
                else None,
                "offers": offers,
            }
        )
    return {
        "versions": out,
        "champion": _pointer(root, "champion"),
        "challenger": _pointer(root, "challenger"),
        "history": registry.history(root),
    }


def budget(sources: Sources) -> dict[str, Any]:
    """The champion's plan: the optimised allocation against top-K by uplift and by propensity."""
    release = _pointer(sources.releases, "champion") or _pointer(sources.releases, "current")
    body: dict[str, Any] = {
        "release": release, "plan": None, "frontier": None, "curve": None, "missing": [],
    }  # fmt: skip
    plan_file = None if release is None else sources.releases / "releases" / release / PLAN_FILE
    if plan_file is not None and plan_file.exists():
        meta = json.loads(plan_file.read_bytes())
        summary = meta.get("summary") or {}
        strategies = [summary["plan"], *summary.get("baselines", [])] if summary else []
        body["plan"] = {
            "budget": summary.get("budget"),
            "customers": summary.get("customers"),
            "strategies": [
                {
                    k: s.get(k)
                    for k in (
                        "strategy",
                        "spend",
                        "profit",
                        "incremental",
                        "roi",
                        "treated",
                        "per_offer",
                    )
                }
                for s in strategies
            ],
            "excluded": summary.get("excluded"),
            "budget_confidence": meta.get("budget_confidence"),
            "offers": meta.get("offers"),
        }
        body["frontier"] = _champion_frontier(sources.releases, release)
    else:
        body["missing"].append("plan")
    if sources.budget_curve is not None:
        curve = json.loads(sources.budget_curve.read_bytes())
        if not isinstance(curve, dict) or not isinstance(curve.get("curve"), list):
            raise UserInputError(
                f"{str(sources.budget_curve)!r} is not a budget curve (uplift budget-curve --out "
                "FILE.json)",
                field="budget_curve",
            )
        body["curve"], body["curve_unit"] = curve["curve"], curve.get("unit")
    else:
        body["missing"].append("budget_curve")
    return body


def campaign(sources: Sources) -> dict[str, Any]:
    """A campaign's measured results against its randomised holdout (``uplift measure``)."""
    if sources.measurement is None:
        return {"measurement": None, "missing": ["measurement"]}
    return {"measurement": json.loads(sources.measurement.read_bytes()), "missing": []}


def operations(sources: Sources) -> dict[str, Any]:
    """Pipeline runs and verdicts, drift, and the served traffic from the decision log."""
    status = pipeline_status(sources.releases, runs=20)
    body: dict[str, Any] = {"pipeline": status, "traffic": None, "service": None,
                            "pacing": None, "missing": []}  # fmt: skip
    if sources.service is None:
        body["missing"].append("service")
    else:
        body["service"] = service_metrics(sources.service, sources.service_key)
    if sources.lake is None:
        body["missing"].append("lake")
    else:
        body["traffic"], body["pacing"] = decision_log(sources.lake)
    return body


def decision_log(lake: str) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The served traffic of the log's last :data:`RECENT_DAYS` days, and pacing by campaign."""
    from uplift_engine.serve.compact import read_decisions

    decisions = read_decisions(lake)
    if decisions.num_rows:  # the recent weeks: what operations watch, and a bounded read
        import pyarrow as pa
        import pyarrow.compute as pc

        latest = pc.max(decisions.column("at")).as_py()
        cutoff = pa.scalar(latest - timedelta(days=RECENT_DAYS), decisions.schema.field("at").type)
        decisions = decisions.filter(pc.greater_equal(decisions.column("at"), cutoff))
    rows = decisions.select(["at", "offer", "degraded", "audit", "assignment"]).to_pylist()
    pacing: dict[str, list[dict[str, Any]]] = {}
    by_day: dict[str, dict[str, int]] = {}
    offers: dict[str, int] = {}
    exclusions: dict[str, int] = {}
    assignments: dict[str, int] = {}
    for row in rows:
        day = row["at"].strftime("%Y-%m-%d")
        counts = by_day.setdefault(day, {"decisions": 0, "degraded": 0})
        counts["decisions"] += 1
        counts["degraded"] += int(bool(row["degraded"]))
        offer = row["offer"] or "none"
        offers[offer] = offers.get(offer, 0) + 1
        if row["assignment"]:
            assignments[row["assignment"]] = assignments.get(row["assignment"], 0) + 1
        audit = json.loads(row["audit"]) if row["audit"] else {}
        for rule in audit.get("rules") or []:
            if rule.get("removed"):
                key = f"{rule['kind']}:{rule['name']}"
                exclusions[key] = exclusions.get(key, 0) + 1
        state = audit.get("pacing")
        if state and state.get("budget"):
            pacing.setdefault(str(state["campaign"]), []).append({
                "at": row["at"].isoformat(),
                "spent": state["expected_spend"] / state["budget"],
                "committed": state["committed"] / state["budget"],
                "target": state["target_share"],
            })  # fmt: skip
    traffic = {
        "decisions": len(rows),
        "by_day": [{"day": d, **c} for d, c in sorted(by_day.items())],
        "offers": dict(sorted(offers.items())),
        "exclusions": dict(sorted(exclusions.items(), key=lambda kv: -kv[1])),
        "assignments": assignments,
    }
    return traffic, {c: _thin(sorted(p, key=lambda x: x["at"])) for c, p in pacing.items()}




def _thin(points: list[dict[str, Any]], most: int = 500) -> list[dict[str, Any]]:
    """At most ``most`` points, evenly spaced, the last one kept."""
    if len(points) <= most:
        return points
    step = len(points) / most
    return [points[int(i * step)] for i in range(most - 1)] + [points[-1]]


def service_metrics(url: str, key: str | None = None) -> dict[str, Any]:
    """Latency quantiles and counts from a decision service's Prometheus ``/metrics``."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(
        url.rstrip("/") + "/metrics", headers={} if key is None else {"X-API-Key": key}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            text = reply.read().decode()
    except OSError as exc:
        return {"url": url, "error": f"cannot read {url}/metrics: {exc}"}
    buckets: dict[str, list[tuple[float, float]]] = {}
    requests: dict[str, float] = {}
    counts = {"degraded": 0.0, "reloads": 0.0, "store_errors": 0.0}
    decisions: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "uplift_http_latency_seconds_bucket":
                edge = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
                buckets.setdefault(labels["route"], []).append((edge, value))
            elif name == "uplift_http_requests_total":
                key = f"{labels['route']} {labels['status']}"
                requests[key] = requests.get(key, 0.0) + value
            elif name == "uplift_decisions_total":
                decisions[labels["offer"]] = value
            elif name.removeprefix("uplift_").removesuffix("_total") in (
                "degraded_decisions", "reloads", "store_errors"
            ):  # fmt: skip
                key = name.removeprefix("uplift_").removesuffix("_total")
                counts["degraded" if key == "degraded_decisions" else key] = value
    latency = {
        route: {f"p{int(q * 100)}": _quantile(sorted(points), q) for q in (0.5, 0.9, 0.99)}
        | {"count": max(v for _, v in points)}
        for route, points in buckets.items()
        if points and max(v for _, v in points) > 0
    }
    return {"url": url, "latency_ms": latency, "requests": requests, "decisions": decisions,
            **counts}  # fmt: skip


def _quantile(cumulative: list[tuple[float, float]], q: float) -> float | None:
    """The ``q`` quantile in ms from a histogram's cumulative buckets (linear within one)."""
    total = cumulative[-1][1]
    target, low_edge, low_count = q * total, 0.0, 0.0
    for edge, count in cumulative:
        if count >= target:
            if edge == float("inf"):
                return low_edge * 1000
            share = (target - low_count) / (count - low_count) if count > low_count else 1.0
            return (low_edge + share * (edge - low_edge)) * 1000
        low_edge, low_count = edge, count
    return None


def targeting(sources: Sources) -> dict[str, Any]:
    """Customer types by segment, the top drivers, and who the rules removed.

    Types and drivers as the champion sees them on its training campaign; exclusions by kind
    and reason from the decision log.
    """
    body: dict[str, Any] = {"types": None, "drivers": None, "exclusions": None, "missing": []}
    found = _champion_table(sources.releases)
    if found is None:
        body["missing"].append("champion campaign table")
    else:
        bundle, table = found
        body["types"] = customer_types(bundle, table)
        body["drivers"] = _drivers(bundle, table)
    if sources.lake is None:
        body["missing"].append("lake")
        return body
    traffic, _ = decision_log(sources.lake)
    kinds: dict[str, int] = {}
    for key, n in traffic["exclusions"].items():
        kind = key.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + n
    body.update(exclusions=traffic["exclusions"], by_kind=kinds, offers=traffic["offers"])
    return body


EFFECT, SURE = 0.02, 0.05
"""A predicted effect above ``EFFECT`` persuades, below ``-EFFECT`` puts off; a customer who
converts without an offer with probability ``SURE`` or more is a sure thing (the simulator's
defaults)."""
TYPES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")


def customer_types(bundle: Any, table: Any) -> dict[str, Any]:
    """Per offer and segment, the share of customers of each type by the model's predictions."""
    import numpy as np

    from uplift_engine.learn.data.scoring import score_table
    from uplift_engine.learn.scores import pred_column

    scores, _ = score_table(bundle, table)
    base = scores.column(pred_column(bundle.control)).to_numpy(zero_copy_only=False)
    segments = (
        np.array([str(v) for v in table.column("segment").to_pylist()])
        if "segment" in table.column_names
        else np.array(["all"] * table.num_rows)
    )
    names = sorted(set(segments))
    out: dict[str, Any] = {"segments": names, "offers": {}}
    for offer in bundle.offers:
        effect = scores.column(pred_column(offer)).to_numpy(zero_copy_only=False) - base
        kind = np.where(
            effect > EFFECT, 0, np.where(effect < -EFFECT, 3, np.where(base >= SURE, 1, 2))
        )
        out["offers"][offer] = {
            t: [float((kind[segments == s] == i).mean()) for s in names]
            for i, t in enumerate(TYPES)
        }
    return out


def _drivers(bundle: Any, table: Any, top: int = 5) -> dict[str, Any]:
    from uplift_engine.learn.explain.report import explain_table

    explained = explain_table(bundle, table, id_column=bundle.columns.id, sample=2_000)
    importance = explained.to_dict()["importance"]
    return {offer: items[:top] for offer, items in importance.items()}


def _champion_frontier(root: Path, release: str | None) -> list[dict[str, Any]] | None:
    """The expected-profit frontier the pipeline recorded with the release's plan, if any."""
    from uplift_engine.pipeline.run_records import load_runs

    record = None if release is None else registry.record(root, release)
    run = ((record or {}).get("lineage") or {}).get("run")
    for found in load_runs(root):
        if found["run"] == run:
            return (found["steps"].get("plan") or {}).get("frontier")
    return None


def _champion_table(root: Path) -> tuple[Any, Any] | None:
    """The champion's bundle and the campaign table its pipeline run trained on, if known."""
    from uplift_engine.lake import read_table, resolve
    from uplift_engine.learn import load_bundle
    from uplift_engine.pipeline.run_records import load_runs

    release = _pointer(root, "champion")
    record = None if release is None else registry.record(root, release)
    run = ((record or {}).get("lineage") or {}).get("run")
    found = [r for r in load_runs(root) if r["run"] == run]
    where = (found[0]["steps"].get("features") or {}).get("table") if found else None
    if release is None or where is None or not resolve(where).exists():
        return None
    return load_bundle(root / "releases" / release / "bundle", threads=1), read_table(where)


def _pointer(root: Path, alias: str) -> str | None:
    try:
        return read_pointer(root, alias)
    except BundleError:
        return None


_BUILDERS = {
    "models": models,
    "targeting": targeting,
    "budget": budget,
    "campaign": campaign,
    "operations": operations,
}
