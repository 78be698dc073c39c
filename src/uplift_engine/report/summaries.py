"""Results in words a marketer understands (the JSON output carries the same numbers)."""

from __future__ import annotations

from typing import Any

from uplift_engine.pipeline.train import TrainResult


def _est(metric: dict[str, Any] | None, fmt: str = "{:.3f}", scale: float = 1.0) -> str:
    if not metric or metric.get("value") is None:
        return "n/a"
    text = fmt.format(metric["value"] * scale)
    if metric.get("low") is not None and metric.get("high") is not None:
        text += f" ({fmt.format(metric['low'] * scale)} to {fmt.format(metric['high'] * scale)})"
    return text


def _effect(metric: dict[str, Any] | None, binary: bool) -> str:
    if binary:
        return _est(metric, "{:+.2f} pts", 100.0)
    return _est(metric, "{:+,.1f}")


def describe_evaluation(report: dict[str, Any], *, title: str = "Evaluation") -> str:
    """Per offer and for the whole policy: what the model finds, with 95% intervals."""
    binary = report["outcome_kind"] == "binary"
    unit = "conversion" if binary else "outcome per customer"
    lines = [f"{title} on {report['n_rows']:,} customers (95% intervals in brackets):"]
    for offer, r in report["per_offer"].items():
        top30 = next((u for u in r["uplift_at_k"] if abs(u["k"] - 0.3) < 1e-9), None)
        lines.append(
            f"  {offer}: average effect {_effect(r['observed_uplift'], binary)} on {unit}; "
            f"among the 30% the model ranks highest {_effect(top30, binary)}; "
            f"Qini coefficient {_est(r['qini_coefficient'])} (0 = random, 1 = perfect)"
        )
        truth = r.get("truth")
        if truth:
            lines.append(
                f"      vs the true effects: correlation {truth['effect_correlation']:.2f}, "
                f"right sign for {truth['sign_agreement']:.0%} of customers, "
                f"error (PEHE) {truth['pehe']:.4f}"
            )
            if truth.get("interval_coverage") is not None:
                spec = (report.get("model") or {}).get("intervals") or {}
                kind = "approximate " if spec.get("kind") == "approximate" else ""
                level = float(spec.get("level", 0.9))
                held = truth["interval_coverage"]
                line = f"      its {level:.0%} {kind}intervals hold {held:.0%} of the true effects"
                if truth.get("conditional_interval_coverage") is not None:
                    line += (
                        f" and {truth['conditional_interval_coverage']:.0%} of the effects "
                        "expected given the customer's traits"
                    )
                lines.append(line)
    policy = report["policy"]
    shares = policy["share"]
    treated = 1 - (next(iter(shares.values())) or 0.0)
    parts = ", ".join(f"{k} {v:.0%}" for k, v in list(shares.items())[1:])
    lines.append(
        f"  Best offer per customer, only where it helps: treats {treated:.0%} ({parts}); "
        f"gain over no campaign {_effect(policy['gain_over_none'], binary)} per customer"
    )
    truth = policy.get("truth")
    if truth and truth.get("fraction_of_oracle_gain") is not None:
        lines.append(
            f"  Against the simulator's truth it captures {truth['fraction_of_oracle_gain']:.0%} "
            "of the gain of a perfect (oracle) targeting"
        )
    return "\n".join(lines)


def describe_validation(validation: dict[str, Any]) -> tuple[str, str]:
    """How the evaluation was measured, and what the bundle's model was fitted on."""
    seed = validation["seed"]
    if validation["kind"] == "cross_fitted":
        folds = validation["folds"]
        how = (
            f"Cross-fitted evaluation ({folds} folds: each row scored by the same "
            f"configuration fitted on the other {folds - 1}; seed {seed})"
        )
    else:
        how = f"Held-out evaluation ({validation['share']:.0%} of rows, seed {seed})"
    fitted = (
        "The bundle's model was then refitted on every row."
        if validation["refit"]
        else f"The bundle's model is the one evaluated, fitted on the other "
        f"{validation['train_rows']:,} rows (--no-refit)."
    )
    return how, fitted


def describe_training(result: TrainResult) -> str:
    """What was trained, on what, and how it did on the held-out rows."""
    lines = [
        f"Trained {result.learner} on {result.train_rows:,} rows "
        f"({result.outcome_kind} outcome, arms: {', '.join(result.arms)}, "
        f"{len(result.features)} features).",
    ]
    if result.selection:
        lines.append(f"Chosen by cross-fitting: {result.selection['reason']}.")
        for left in result.selection.get("left_out") or []:
            lines.append(f"Not tried: {left['reason']}.")
    if result.intervals:
        kind = result.intervals["kind"]
        lines.append(
            f"Every effect comes with its {float(result.intervals['level']):.0%} {kind} interval "
            "(uplift_<offer>_lower/_upper in the scores)."
        )
    for note in result.notes:
        lines.append(f"note: {note}")
    if result.dropped_datetime:
        lines.append(f"Datetime columns left out: {', '.join(result.dropped_datetime)}.")
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    how, fitted = describe_validation(result.validation)
    lines.append(describe_evaluation(result.evaluation, title=how))
    lines.append(fitted)
    lines.append(
        f"Bundle written to {result.bundle} (manifest sha256 {result.manifest_sha256[:12]}…)"
    )
    return "\n".join(lines)
