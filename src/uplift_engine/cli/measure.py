"""``uplift measure``: what a campaign really added, against its random holdout, with intervals."""

from __future__ import annotations

import json as jsonlib
from typing import TYPE_CHECKING, Annotated

import pyarrow.compute as pc
import typer

from uplift_engine.cli.console import print_json, show_report, split_list
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.decide.planning import read_plan
from uplift_engine.errors import UserInputError
from uplift_engine.lake import check_file_target, read_table, resolve
from uplift_engine.learn.data.scores_files import read_scores
from uplift_engine.report.campaign_measurement import measure_campaign

if TYPE_CHECKING:
    from uplift_engine.pipeline.train import TrainOptions

TreatmentOption = Annotated[str | None, typer.Option(help="The arm column.")]
ControlOption = Annotated[str | None, typer.Option(help="The control arm's label.")]
OutcomeOption = Annotated[str | None, typer.Option(help="The outcome column.")]
ExcludeOption = Annotated[str | None, typer.Option(help="Columns that are not features.")]
LevelOption = Annotated[float, typer.Option(help="Level of the intervals.")]
SeedOption = Annotated[int, typer.Option(help="Seed of the cross-fitting folds.")]


def _check_level(level: float) -> None:
    if not 0.5 <= level < 1:
        raise UserInputError(f"--level must be in [0.5, 1), got {level}", field="level")


def _campaign_options(
    treatment: str | None, control: str | None, outcome: str | None, exclude: str | None,
    seed: int,
) -> TrainOptions:
    """The randomised campaign table's roles, as ``uplift train`` reads them."""
    from uplift_engine.pipeline.train import TrainOptions

    return TrainOptions(treatment=treatment, control=control, outcome=outcome,
                        exclude=split_list(exclude), seed=seed)  # fmt: skip


@user_errors
def measure(
    plan: Annotated[str, typer.Argument(help="The plan the campaign ran from (uplift optimize).")],
    outcomes: Annotated[
        str, typer.Argument(help="Outcomes: the plan's id, converted (0/1), optionally revenue.")
    ],
    scores: Annotated[
        str | None,
        typer.Option(help="The scores the plan was made from: per-offer split, calibration, and "
                     "the model's baseline as a covariate."),
    ] = None,
    customers: Annotated[
        str | None, typer.Option(help="Table of customer columns (segments, covariates).")
    ] = None,
    segment: Annotated[str | None, typer.Option(help="Measure within each value of it.")] = None,
    covariates: Annotated[
        str | None,
        typer.Option(help="Comma-separated pre-campaign columns for the regression adjustment."),
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="The campaign_id to keep when the outcomes hold several.")
    ] = None,
    decisions: Annotated[
        str | None,
        typer.Option(help="A lake whose compacted decision log replaces the plan's rows (a "
                     "real-time campaign: measured against the universal holdout)."),
    ] = None,
    level: LevelOption = 0.9,
    out: Annotated[str | None, typer.Option(help="Write the report as JSON to this file.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Measure a campaign: incremental conversions, revenue, profit and ROI with intervals."""
    settings = load_settings(config)
    _check_level(level)
    if out is not None:
        check_file_target(resolve(out, settings))
    table, meta = read_plan(plan, settings)
    id_column = str(meta["id_column"])
    if decisions is not None:
        from uplift_engine.report.campaign_measurement import plan_from_decisions
        from uplift_engine.serve.compact import read_decisions

        logged = read_decisions(decisions, settings)
        if logged.num_rows == 0:
            raise UserInputError(f"no compacted decisions in {decisions!r}", field="decisions")
        table = plan_from_decisions(logged, id_column)
    results = read_table(outcomes, settings, text_columns=(id_column,))
    if "campaign_id" in results.column_names:
        found = sorted(set(results.column("campaign_id").to_pylist()))
        if campaign is None and len(found) > 1:
            raise UserInputError(
                f"the outcomes hold {len(found)} campaigns ({', '.join(map(str, found[:5]))}); "
                "give --campaign",
                field="campaign",
            )
        if campaign is not None:
            if campaign not in found:
                raise UserInputError(
                    f"no outcomes of campaign {campaign!r} (found {', '.join(map(str, found))})",
                    field="campaign",
                )
            results = results.filter(pc.equal(results.column("campaign_id"), campaign))
    scored = read_scores(scores, settings)[0] if scores else None
    extra = read_table(customers, settings, text_columns=(id_column,)) if customers else None
    report = measure_campaign(
        table, meta, results, scores=scored, customers=extra, segment=segment,
        covariates=split_list(covariates), level=level,
    )  # fmt: skip
    show_report(report, out, json, settings)


@user_errors
def compare_plans_command(
    data: Annotated[
        str, typer.Argument(help="A randomised campaign table (features, arm, outcome).")
    ],
    plan_a: Annotated[str, typer.Option(help="Plan A (uplift optimize), e.g. the challenger's.")],
    plan_b: Annotated[str, typer.Option(help="Plan B, e.g. the champion's.")],
    value: Annotated[
        float | None, typer.Option(help="Value of a conversion: compare profit, not outcomes.")
    ] = None,
    treatment: TreatmentOption = None,
    control: ControlOption = None,
    outcome: OutcomeOption = None,
    exclude: ExcludeOption = None,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Value two plans on a randomised campaign had each been run, and A − B, paired."""
    from uplift_engine.pipeline.policy_comparison import compare_plans

    settings = load_settings(config)
    _check_level(level)
    table = read_table(data, settings)
    a_table, a_meta = read_plan(plan_a, settings)
    b_table, b_meta = read_plan(plan_b, settings)
    options = _campaign_options(treatment, control, outcome, exclude, seed)
    done = compare_plans(
        table, options, ((a_table, str(a_meta["id_column"])), (b_table, str(b_meta["id_column"]))),
        settings, economics=a_meta["economics"] if value is not None else None, value=value,
        level=level,
    )  # fmt: skip
    if json:
        print_json(done.to_dict())
        return
    c = done.comparison

    def show(e: object) -> str:
        d = e.to_dict()  # type: ignore[attr-defined]
        return f"{d['value']:.4f} [{d['low']:.4f}, {d['high']:.4f}]"

    print(f"on {done.customers:,} customers of the randomised campaign ({done.unit}, "
          f"{level:.0%} intervals, doubly robust):")  # fmt: skip
    print(f"  plan A  {show(c.value_a)}")
    print(f"  plan B  {show(c.value_b)}")
    print(f"  A − B   {show(c.difference)}  (paired se {c.se_paired:.4g}; unpaired "
          f"{c.se_unpaired:.4g}; the plans differ on {c.disagree:,} customers)")  # fmt: skip


@user_errors
def budget_curve_command(
    data: Annotated[
        str, typer.Argument(help="A randomised campaign table (features, arm, outcome).")
    ],
    model: Annotated[str, typer.Option(help="The model bundle whose allocations are valued.")],
    economics: Annotated[str, typer.Option(help="Economics file: each offer's costs.")],
    value: Annotated[float, typer.Option(help="Value of a conversion.")],
    baseline_model: Annotated[
        str | None, typer.Option(help="Another bundle, compared at every budget, paired.")
    ] = None,
    points: Annotated[int, typer.Option(help="Budgets on the curve.")] = 21,
    treatment: TreatmentOption = None,
    control: ControlOption = None,
    outcome: OutcomeOption = None,
    exclude: ExcludeOption = None,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    out: Annotated[
        str | None, typer.Option(help="Write the curve (.csv, .parquet, .json).")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the curve as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """The model's multi-offer Qini curve over budget, valued doubly robust on a campaign."""
    import pyarrow as pa

    from uplift_engine.decide.planning import load_economics
    from uplift_engine.lake import check_table_target, write_table
    from uplift_engine.learn import load_bundle
    from uplift_engine.pipeline.policy_comparison import model_budget_curve

    settings = load_settings(config)
    _check_level(level)
    if not 2 <= points <= 1000:
        raise UserInputError(f"--points must be 2 to 1000, got {points}", field="points")
    if out is not None and not out.endswith(".json"):
        check_table_target(out, settings)
    table = read_table(data, settings)
    options = _campaign_options(treatment, control, outcome, exclude, seed)
    baseline = load_bundle(baseline_model, threads=settings.threads) if baseline_model else None
    curve, unit = model_budget_curve(
        table, options, settings, load_bundle(model, threads=settings.threads),
        load_economics(economics, settings), value, baseline=baseline, points=points, level=level,
    )  # fmt: skip
    rows = [p.to_dict() for p in curve]
    if out is not None:
        if out.endswith(".json"):
            resolve(out, settings).write_bytes(jsonlib.dumps({"unit": unit, "curve": rows},
                                                             indent=2).encode())  # fmt: skip
        else:
            flat = []
            for p in curve:
                row: dict[str, float | None] = {"budget": p.budget, "spend": p.spend}
                for part, est in (("gain", p.gain), ("baseline", p.baseline),
                                  ("difference", p.difference)):  # fmt: skip
                    for key, number in (est.to_dict() if est is not None else {}).items():
                        row[f"{part}_{key}"] = number
                flat.append(row)
            write_table(pa.Table.from_pylist(flat), out, settings)
    if json:
        print_json({"unit": unit, "curve": rows})
        return
    print(f"gain over treating no one ({unit} × customers), {level:.0%} intervals:")
    for p in curve:
        line = (
            f"  budget {p.budget:>12,.0f}  spend {p.spend:>12,.0f}  gain {p.gain.value:>10,.1f} "
            f"[{p.gain.low:,.1f}, {p.gain.high:,.1f}]"
        )
        if p.difference is not None:
            d = p.difference
            line += f"  vs baseline {d.value:+,.1f} [{d.low:+,.1f}, {d.high:+,.1f}]"
        print(line)
