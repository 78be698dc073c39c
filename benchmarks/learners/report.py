"""The results as Markdown: one table per dataset, then the head-to-head ratios of the issue.

Invariant: everything printed comes from the records of ``results.jsonl`` of one run folder;
a cell that did not run says why in its row (time limit, memory limit, error, not applicable),
and a ratio is printed only between two cells of the same dataset measured in the same run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DASH = "—"


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return DASH
    return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"


def _interval(m: dict[str, float] | None) -> str:
    if not m:
        return DASH
    text = _num(m["value"])
    if math.isfinite(m.get("low", math.nan)):
        text += f" ({_num(m['low'])} to {_num(m['high'])})"
    return text


def _seconds(x: float | None) -> str:
    if x is None:
        return DASH
    return f"{x:.2f}" if x < 10 else f"{x:,.0f}"


def status_text(r: dict[str, Any]) -> str:
    """What a cell that has no metrics did instead."""
    status = r["status"]
    if status == "timeout":
        return f"did not finish in {r['limit_s']:.0f} s"
    if status == "memory":
        return f"passed the {r['memory_mb'] / 1024:g} GB memory limit"
    if status == "n/a":
        return f"not run: {r['skip']}"
    if status == "error":
        return f"failed: {(r.get('error') or '')[:120]}"
    return ""


def _notes(r: dict[str, Any]) -> str:
    notes = r.get("notes") or {}
    parts = []
    if "winner" in notes:
        parts.append(f"→ {notes['winner']}")
    if r.get("interval_s") is not None:
        parts.append(f"intervals {_seconds(r['interval_s'])} s")
    if "deepest_tree" in notes:
        parts.append(f"deepest tree {notes['deepest_tree']}")
    if r.get("non_finite_predictions"):
        parts.append(f"{r['non_finite_predictions']} non-finite predictions set to 0")
    return "; ".join(parts)


def dataset_table(meta: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The Markdown table of one dataset."""
    offers = len(meta["arms"]) - 1
    auuc = "AUUC coef." if meta["outcome"] == "binary" else "AUUC gain/row"
    lines = [
        f"**{meta['name']}, {meta['rows']:,} rows** — {offers} offer(s), {meta['outcome']} "
        f"outcome, train {meta['train_rows']:,} / test {meta['test_rows']:,}. {meta['notes']}.",
        "",
        f"| library | learner | Qini coef. (95% CI) | {auuc} (95% CI) | uplift@30% | PEHE | "
        "90% coverage (width) | fit s | predict s / 1M rows | peak RSS MB | notes |",
        "| --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in records:
        head = f"| {r['library']} | {r['learner']} |"
        if r["status"] != "ok":
            peak = _num(r.get("peak_mb"), 4) if r["status"] in ("timeout", "memory") else DASH
            lines.append(f"{head} {status_text(r)} | | | | | | | {peak} | |")
            continue
        m = r["metrics"]
        truth = m.get("truth") or {}
        cover = DASH
        if "coverage" in truth:
            cover = f"{truth['coverage']:.0%} ({_num(truth['interval_width'])})"
            if "coverage_conditional" in truth:
                cover += f" [{truth['coverage_conditional']:.0%}]"
        lines.append(
            f"{head} {_interval(m['qini'])} | {_interval(m['auuc'])} | "
            f"{_num(m['uplift_at_30']['value'])} | {_num(truth.get('pehe'))} | {cover} | "
            f"{_seconds(r['fit_s'])} | {_seconds(r['predict_s_per_m'])} | "
            f"{_num(r['peak_mb'], 4)} | {_notes(r)} |"
        )
    lines += ["", *head_to_head(records)]
    return "\n".join(lines)


def _find(records: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return next((r for r in records if r["key"] == key), None)


def _versus(ours: dict[str, Any], theirs: dict[str, Any], what: str) -> str:
    if ours["status"] != "ok":
        return f"- {what}: ours {status_text(ours)}."
    if theirs["status"] != "ok":
        return (
            f"- {what}: theirs {status_text(theirs)}; ours fitted in {_seconds(ours['fit_s'])} s."
        )
    ratio = theirs["fit_s"] / max(ours["fit_s"], 1e-9)
    mo, mt = ours["metrics"], theirs["metrics"]
    text = (
        f"- {what}: ours fits **{ratio:.1f}×** {'faster' if ratio >= 1 else 'slower'} "
        f"({_seconds(ours['fit_s'])} s vs {_seconds(theirs['fit_s'])} s); Qini "
        f"{_num(mo['qini']['value'])} vs {_num(mt['qini']['value'])}"
    )
    to, tt = mo.get("truth") or {}, mt.get("truth") or {}
    if "pehe" in to and "pehe" in tt:
        text += f"; PEHE {_num(to['pehe'])} vs {_num(tt['pehe'])}"
    if "coverage" in to or "coverage" in tt:
        c = [f"{t['coverage']:.0%}" if "coverage" in t else DASH for t in (to, tt)]
        text += f"; coverage {c[0]} vs {c[1]}"
        if "coverage_conditional" in to and "coverage_conditional" in tt:
            cc = [f"{t['coverage_conditional']:.0%}" for t in (to, tt)]
            text += f" (of the conditional effect {cc[0]} vs {cc[1]})"
    peaks = f"{_num(ours.get('peak_mb'), 4)} vs {_num(theirs.get('peak_mb'), 4)} MB"
    return text + f"; peak RSS {peaks}."


def _paired_difference(mine: dict[str, Any], other: dict[str, Any]) -> str:
    """'; paired difference d (95% CI)' from the two cells' Qini replicates, when both have them."""
    a = np.asarray(mine["metrics"]["qini"].get("replicates") or [], np.float64)
    b = np.asarray(other["metrics"]["qini"].get("replicates") or [], np.float64)
    if not a.size or a.shape != b.shape:
        return ""
    diff = (a - b)[np.isfinite(a - b)]
    if not diff.size:
        return ""
    d = mine["metrics"]["qini"]["value"] - other["metrics"]["qini"]["value"]
    low, high = np.percentile(diff, [2.5, 97.5])
    holds = "holds 0" if low <= 0 <= high else "excludes 0"
    return f"; paired difference {_num(d)} ({_num(low)} to {_num(high)}, {holds})"


def head_to_head(records: list[dict[str, Any]]) -> list[str]:
    """The comparisons the Learners issue sets targets for."""
    lines = []
    for criterion in ("KL", "ED"):
        ours = _find(records, f"ours/uplift_forest[{criterion}]")
        theirs = _find(records, f"causalml/UpliftRandomForest[{criterion}]")
        if ours and theirs and theirs["status"] != "n/a":
            lines.append(_versus(ours, theirs, f"uplift forest ({criterion}) vs causalml"))
    ours, theirs = _find(records, "ours/causal_forest"), _find(records, "econml/CausalForestDML")
    if ours and theirs:
        lines.append(_versus(ours, theirs, "causal forest vs EconML CausalForestDML"))
    auto = _find(records, "ours/auto")
    singles = [r for r in records if r["status"] == "ok" and r["key"] != "ours/auto"]
    if auto and auto["status"] == "ok" and singles:
        best = max(singles, key=lambda r: r["metrics"]["qini"]["value"])
        q, b = auto["metrics"]["qini"]["value"], best["metrics"]["qini"]
        width = b["value"] - b["low"] if math.isfinite(b["low"]) else 0.0
        if q == b["value"]:
            verdict = "the same predictions" if best["key"].startswith("ours/") else "equal"
        elif q > b["value"]:
            verdict = "better"
        elif b["value"] - q <= width:
            verdict = "worse, within that learner's interval"
        else:
            verdict = "**worse, beyond that learner's interval**"
        paired = _paired_difference(auto, best) if q != b["value"] else ""
        lines.append(
            f"- auto (→ {auto['notes'].get('winner')}) Qini {_num(q)} vs the best single learner, "
            f"{best['library']} {best['learner']}, {_num(b['value'])}: {verdict}{paired}."
        )
    return lines


def render(datasets: list[dict[str, Any]], records: list[dict[str, Any]], header: list[str]) -> str:
    """Every dataset's table, in run order, under a short header."""
    parts = ["\n".join(header)]
    for meta in datasets:
        mine = [r for r in records if r["dataset"] == meta["id"]]
        if mine:
            parts.append(dataset_table(meta, mine))
    return "\n\n".join(parts) + "\n"
