"""``uplift explain``: which features drive each offer's uplift, overall and for named customers.

Every input is checked (output format, feature columns, id column, customer ids) before any
model work, and nothing is written unless all of it holds; the file goes through the lake
(atomic, local or ``s3://``) in the schema of
:mod:`uplift_engine.learn.explain.files`.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import typer

from uplift_engine.cli.console import print_json, steps
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.errors import DataError, quote_values
from uplift_engine.lake import check_table_target, read_table
from uplift_engine.learn import load_bundle
from uplift_engine.learn.bundle import Bundle
from uplift_engine.learn.data.roles import ROW_ID
from uplift_engine.learn.explain.contributions import (
    FeatureImportance,
    OfferDrivers,
    explain_bundle,
    global_importance,
    top_drivers,
)
from uplift_engine.learn.explain.files import (
    EXPLANATIONS_SCHEMA_VERSION,
    ExplanationsMeta,
    write_importance,
)


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
        id_name = id_col or str(bundle.columns["id"])
        say(f"reading {data}")
        table = read_table(data, settings, text_columns=(id_name,))
        _check_features(bundle, table)
        if table.num_rows == 0:
            raise DataError(f"{data!r} has no rows to explain")
        wanted = list(dict.fromkeys(customer or []))
        customer_rows = _customer_rows(table, id_name, wanted, data) if wanted else []
        rows = _sample_rows(table.num_rows, sample, seed)
        say(f"explaining {rows.size:,} rows")
        contributions = explain_bundle(bundle, _features(bundle, table.take(rows)))
        importance = global_importance(contributions)
        drivers: list[OfferDrivers] = []
        if customer_rows:
            say(f"explaining {len(customer_rows)} customer(s)")
            named = explain_bundle(bundle, _features(bundle, table.take(customer_rows)))
            drivers = top_drivers(named, top)
        meta = ExplanationsMeta(
            rows=int(rows.size),
            methods=list(contributions.methods),
            outcome_kind=bundle.outcome_kind,
            model={
                "learner": bundle.manifest["learner"]["name"],
                "created_at": bundle.manifest["created_at"],
                "bundle": model,
            },
        )
        if out:
            say(f"writing {out}")
            write_importance(importance, meta, out, settings)
    if json:
        print_json(_report(meta, importance, drivers, wanted, out))
        return
    print(_describe(meta, importance, drivers, wanted, bundle.offers, top))
    if out:
        print(f"wrote the importance of {len(importance):,} (offer, feature) pairs to {out}")


def _check_features(bundle: Bundle, table: pa.Table) -> None:
    missing = [n for n in bundle.encoder.names if n not in table.column_names]
    if missing:
        raise DataError(
            f"the data lacks feature column(s) {', '.join(map(repr, missing))} that the model "
            "was trained with",
            field=missing[0],
        )


def _features(bundle: Bundle, table: pa.Table) -> dict[str, Any]:
    return {name: table.column(name) for name in bundle.encoder.names}


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def _customer_rows(table: pa.Table, id_name: str, wanted: list[str], data: str) -> list[int]:
    """Row of each wanted id (its first occurrence), in the order asked."""
    if id_name in table.column_names:
        ids = pc.cast(table.column(id_name), pa.string())
    elif id_name == ROW_ID:
        ids = pa.chunked_array([pa.array(np.arange(table.num_rows).astype(str))])
    else:
        raise DataError(
            f"--customer needs the id column {id_name!r}, which {data!r} lacks; name the id "
            "column with --id-col",
            field=id_name,
        )
    hits = np.flatnonzero(
        pc.is_in(ids, value_set=pa.array(wanted, pa.string())).to_numpy(zero_copy_only=False)
    )
    first: dict[str, int] = {}
    for row, value in zip(hits.tolist(), ids.take(hits).to_pylist(), strict=True):
        first.setdefault(value, row)
    unknown = [w for w in wanted if w not in first]
    if unknown:
        raise DataError(
            f"--customer: id(s) {quote_values(unknown)} are not in column {id_name!r} of {data!r}",
            field="--customer",
        )
    return [first[w] for w in wanted]


def _report(
    meta: ExplanationsMeta,
    importance: list[FeatureImportance],
    drivers: list[OfferDrivers],
    customers: list[str],
    out: str | None,
) -> dict[str, Any]:
    by_offer: dict[str, list[dict[str, Any]]] = {}
    for item in importance:
        by_offer.setdefault(item.offer, []).append(
            {
                "feature": item.feature,
                "mean_abs": item.mean_abs,
                "mean_signed": item.mean_signed,
                "rank": item.rank,
            }
        )
    return {
        "schema_version": EXPLANATIONS_SCHEMA_VERSION,
        "rows": meta.rows,
        "methods": meta.methods,
        "effect": meta.effect,
        "model": meta.model,
        "importance": by_offer,
        "drivers": [
            {
                "customer": customers[d.row],
                "offer": d.offer,
                "effect": d.effect,
                "base": d.base,
                "drivers": [
                    {"feature": x.feature, "contribution": x.contribution, "value": x.value}
                    for x in d.drivers
                ],
            }
            for d in drivers
        ],
        "out": out,
    }


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
