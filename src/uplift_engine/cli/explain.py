"""``uplift explain``: which features drive each offer's uplift, overall and for named customers.

Every input is checked (output format, feature columns, id column, customer ids) before any
model work, and nothing is written unless all of it holds; the file goes through the lake
(atomic, local or ``s3://``) in the schema of
:mod:`uplift_engine.learn.explain.files`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from uplift_engine.cli.console import print_json, steps
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.lake import check_table_target, read_table
from uplift_engine.learn import load_bundle
from uplift_engine.learn.explain.contributions import (
    FeatureImportance,
    OfferDrivers,
)
from uplift_engine.learn.explain.files import ExplanationsMeta, write_importance
from uplift_engine.learn.explain.report import explain_table


@user_errors
def explain(
    model: Annotated[str, typer.Option("--model", help="Model bundle folder or s3:// URI.")],
    data: Annotated[
        str, typer.Option("--data", help="Customers with the model's features: CSV or Parquet.")
    ],
    customer: Annotated[
        list[str] | None,
        typer.Option("--customer", help="Id of a customer whose top drivers to show (repeatable)."),
    ] = None,
    id_col: Annotated[
        str | None,
        typer.Option("--id-col", help="Column holding the customer ids (default: the model's id)."),
    ] = None,
    top: Annotated[
        int, typer.Option(min=1, help="Features shown per offer, and drivers per customer.")
    ] = 5,
    sample: Annotated[
        int,
        typer.Option(min=1, help="Rows drawn at random (seeded) for the global importance."),
    ] = 5_000,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    out: Annotated[
        str | None,
        typer.Option(help="Write the global importance here: .csv or .parquet (path or s3://)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Global importance of the features for each offer's uplift, and customers' top drivers."""
    settings = load_settings(config)
    if out:
        check_table_target(out, settings)  # an unknown extension or an unwritable path: now
    with steps(not json) as say:
        say(f"loading {model}")
        bundle = load_bundle(model, settings, threads=settings.threads)
        id_name = id_col or bundle.columns.id
        say(f"reading {data}")
        table = read_table(data, settings, text_columns=(id_name,))
        say("explaining")
        result = explain_table(
            bundle,
            table,
            id_column=id_name,
            customers=customer,
            top=top,
            sample=sample,
            seed=seed,
            source=data,
            model_uri=model,
        )
        if out:
            say(f"writing {out}")
            write_importance(result.importance, result.meta, out, settings)
    if json:
        print_json(result.to_dict(out))
        return
    print(
        _describe(result.meta, result.importance, result.drivers, result.customers,
                  bundle.offers, top)
    )  # fmt: skip
    if out:
        print(f"wrote the importance of {len(result.importance):,} (offer, feature) pairs to {out}")


def _describe(
    meta: ExplanationsMeta,
    importance: list[FeatureImportance],
    drivers: list[OfferDrivers],
    customers: list[str],
    offers: list[str],
    top: int,
) -> str:
    unit = "probability points" if meta.outcome_kind == "binary" else "outcome units"
    lines = [
        f"What drives the uplift ({meta.model['learner']}, {meta.rows:,} rows; mean |share| of "
        f"the unclipped effect, in {unit}):"
    ]
    for offer in offers:
        lines.append(f"  offer {offer}:")
        for item in importance:
            if item.offer == offer and item.rank <= top:
                lines.append(
                    f"    {item.rank:>2}. {item.feature:<24} {item.mean_abs:>10.4f}"
                    f"   mean {item.mean_signed:+.4f}"
                )
    for d in drivers:
        lines.append(
            f"customer {customers[d.row]}, offer {d.offer}: effect {d.effect:+.4f} "
            f"(base {d.base:+.4f})"
        )
        for x in d.drivers:
            lines.append(f"    {x.feature} = {_shown(x.value)}: {x.contribution:+.4f}")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
