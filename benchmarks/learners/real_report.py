"""The real-data results as numbers per (trial, cell) and as Markdown, one table per trial.

Invariants:
- Every number comes from the records of one ``real-results.jsonl`` (the last record of each
  (trial, folds, repeat, cell)); a cell is summarised over the repeats where it ran to the end.
- Intervals are over repeats: mean ± t(0.975, R−1)·sd/√R. They measure how much the number
  moves with the split (and the learners' seeds) on this one sample of customers, not the
  sampling of customers from a population: the repeats share their rows.
- "Δ vs auto" is the cell's Qini minus ``ours/auto``'s, repeat by repeat (the same folds), over
  the repeats where both ran; auto is "behind" when that interval lies above 0, "ahead" when it
  lies below 0 and "tied" otherwise.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from learners.report import DASH, _num, _seconds, status_text

AUTO = "ours/auto"


@dataclass(frozen=True)
class Mean:
    """A mean over repeats with its 95% t-interval (NaN bounds below two values)."""

    value: float
    low: float
    high: float
    n: int


def t_interval(values: list[float] | np.ndarray) -> Mean:
    """Mean ± t(0.975, n−1)·sd/√n of the finite values."""
    from scipy.stats import t

    x = np.asarray(values, np.float64)
    x = x[np.isfinite(x)]
    if not x.size:
        return Mean(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size < 2:
        return Mean(mean, math.nan, math.nan, 1)
    half = float(t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return Mean(mean, mean - half, mean + half, int(x.size))


@dataclass(frozen=True)
class Summary:
    """One cell on one trial, over its repeats."""

    key: str
    library: str
    learner: str
    repeats: int
    ok: int
    qini: Mean
    auuc: Mean
    uplift_at_30: Mean
    fit_s: float | None
    delta_vs_auto: Mean | None
    statuses: dict[str, int]
    first_failure: dict[str, Any] | None
    winners: dict[str, int]

    @property
    def verdict(self) -> str:
        """Whether auto is behind, tied with or ahead of this cell."""
        d = self.delta_vs_auto
        if d is None or not math.isfinite(d.low):
            return ""
        if d.value == d.low == d.high == 0:
            return "same as auto"
        if d.low > 0:
            return "auto behind"
        if d.high < 0:
            return "auto ahead"
        return "tied"


def _metric(records: list[dict[str, Any]], name: str) -> list[float]:
    return [r["metrics"][name]["value"] for r in records]


def summarise(records: list[dict[str, Any]]) -> list[Summary]:
    """Every cell of one trial's records, sorted by mean Qini (cells that never ran last)."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(records, key=lambda r: r["repeat"]):
        by_key.setdefault(r["key"], []).append(r)
    auto = {r["repeat"]: r for r in by_key.get(AUTO, []) if r["status"] == "ok"}
    out = []
    for key, rows in by_key.items():
        ok = [r for r in rows if r["status"] == "ok" and "metrics" in r]
        delta = None
        if key != AUTO and auto:
            pairs = [
                r["metrics"]["qini"]["value"] - auto[r["repeat"]]["metrics"]["qini"]["value"]
                for r in ok
                if r["repeat"] in auto
            ]
            delta = t_interval(pairs) if pairs else None
        winners: Counter[str] = Counter()
        for r in ok:
            winners.update((r.get("notes") or {}).get("winners", []))
        failed = [r for r in rows if r["status"] != "ok"]
        out.append(
            Summary(
                key=key,
                library=rows[0]["library"],
                learner=rows[0]["learner"],
                repeats=len(rows),
                ok=len(ok),
                qini=t_interval(_metric(ok, "qini")),
                auuc=t_interval(_metric(ok, "auuc")),
                uplift_at_30=t_interval(_metric(ok, "uplift_at_30")),
                fit_s=float(np.median([r["fit_s"] for r in ok])) if ok else None,
                delta_vs_auto=delta,
                statuses=dict(Counter(r["status"] for r in rows)),
                first_failure=failed[0] if failed else None,
                winners=dict(winners.most_common()),
            )
        )
    return sorted(out, key=_rank)


def _rank(s: Summary) -> float:
    """Highest mean Qini first; cells without one last."""
    return -s.qini.value if s.ok and math.isfinite(s.qini.value) else math.inf


def _with_interval(m: Mean | None, signed: bool = False) -> str:
    if m is None or not m.n:
        return DASH
    number = f"{m.value:+.3g}" if signed else _num(m.value)
    if not math.isfinite(m.low):
        return number
    return f"{number} [{_num(m.low)}, {_num(m.high)}]"


def _notes(s: Summary) -> str:
    parts = []
    if s.winners:
        parts.append("→ " + ", ".join(f"{w} ×{n}" for w, n in s.winners.items()))
    if s.first_failure is not None:
        failed = s.repeats - s.ok
        text = status_text(s.first_failure) or s.first_failure["status"]
        if s.first_failure["status"] == "skipped":
            text = s.first_failure.get("skip") or "skipped"
        parts.append(f"{failed} of {s.repeats} repeats: {text}" if s.ok else text)
    return "; ".join(parts)


def dataset_table(meta: dict[str, Any], records: list[dict[str, Any]], folds: int) -> str:
    """The Markdown table of one trial."""
    summaries = summarise(records)
    ran = [s for s in summaries if s.ok]
    repeats = max((r["repeat"] for r in records), default=-1) + 1
    offers = len(meta["arms"]) - 1
    subsample = (
        f" (seeded subsample of {meta['rows_available']:,}, stratified by arm)"
        if meta["rows"] < meta["rows_available"]
        else ""
    )
    auuc = "AUUC coef." if meta["outcome"] == "binary" else "AUUC gain/row"
    lines = [
        f"**{meta['name']}, {meta['rows']:,} rows**{subsample} — {offers} offer(s) "
        f"({', '.join(meta['arms'][1:])} vs {meta['arms'][0]}), {meta['outcome']} outcome; "
        f"{repeats} repeats of {folds}-fold cross-fitting. {meta['notes']}."
        + (f" Best by mean Qini: **{ran[0].library} {ran[0].learner}**." if ran else ""),
        "",
        f"| library | learner | Qini mean [95% CI] | {auuc} mean | uplift@30% | "
        "Δ Qini vs auto [95% CI] | fit s | notes |",
        "| --- | --- | --- | ---: | ---: | --- | ---: | --- |",
    ]
    for s in summaries:
        learner = f"**{s.learner}**" if ran and s is ran[0] else s.learner
        if s.key == AUTO:
            delta = "(reference)"
        elif s.delta_vs_auto is None:
            delta = DASH
        elif s.verdict == "same as auto":
            delta = "0 (same as auto in every repeat)"
        else:
            delta = f"{_with_interval(s.delta_vs_auto, signed=True)} {s.verdict}".strip()
        lines.append(
            f"| {s.library} | {learner} | {_with_interval(s.qini)} | {_num(s.auuc.value)} | "
            f"{_num(s.uplift_at_30.value)} | {delta} | {_seconds(s.fit_s)} | {_notes(s)} |"
        )
    verdicts = Counter(s.verdict for s in ran if s.verdict)
    if verdicts:
        same = verdicts.get("same as auto", 0)
        lines += [
            "",
            f"`auto` against the other {sum(verdicts.values())} cells that ran: ahead of "
            f"{verdicts.get('auto ahead', 0)}, tied with {verdicts.get('tied', 0) + same}"
            + (f" ({same} the same predictions)" if same else "")
            + f", behind {verdicts.get('auto behind', 0)}.",
        ]
    return "\n".join(lines)


def render(
    metas: list[dict[str, Any]], records: list[dict[str, Any]], header: list[str], folds: int
) -> str:
    """Every trial's table, in run order, under a short header."""
    parts = ["\n".join(header)]
    for meta in metas:
        mine = [r for r in records if r["dataset"] == meta["id"] and r["folds"] == folds]
        if mine:
            parts.append(dataset_table(meta, mine, folds))
    return "\n\n".join(parts) + "\n"
