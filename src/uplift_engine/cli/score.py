"""``uplift score``: expected outcome under every arm, and the uplift of every offer."""

from __future__ import annotations

from typing import Annotated

import typer

from uplift_engine.cli.console import split_list, steps
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.lake import check_table_target, read_table
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import score_table, write_scores


@user_errors
def score(
    model_dir: Annotated[str, typer.Argument(help="Model bundle folder or s3:// URI.")],
    data: Annotated[str, typer.Argument(help="Customers to score: CSV or Parquet.")],
    out: Annotated[str, typer.Option(help="Scores file: .csv or .parquet (path or s3://).")],
    keep: Annotated[
        str | None, typer.Option(help="Comma-separated input columns to pass through.")
    ] = None,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Score customers with a bundle; writes the scores contract of docs/design.md."""
    settings = load_settings(config)
    check_table_target(out, settings)  # an unknown extension or an unwritable path: now
    with steps() as say:
        say(f"loading {model_dir}")
        bundle = load_bundle(model_dir, settings, threads=settings.threads)
        say(f"reading {data}")
        table = read_table(data, settings, text_columns=(bundle.columns.id,))
        say(f"scoring {table.num_rows:,} rows")
        scores, meta = score_table(bundle, table, split_list(keep))
        write_scores(scores, meta, out, settings)
    print(f"wrote {scores.num_rows:,} rows × {scores.num_columns} columns to {out}")
