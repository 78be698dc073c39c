"""``uplift decide``: a whole population decided as the service decides each customer."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from uplift_engine.cli.console import steps
from uplift_engine.cli.contacts import AtOption, ContactHistoryOption, contact_history_for
from uplift_engine.cli.errors import user_errors
from uplift_engine.cli.serve import EconomicsOption, PlanOption, ValueOption, served_loader
from uplift_engine.config.settings import load_settings
from uplift_engine.lake import check_table_target, read_table, write_table


@user_errors
def decide(
    model_dir: Annotated[str, typer.Argument(help="Model bundle folder.")],
    data: Annotated[
        str, typer.Argument(help="Customers: their features and the columns the rules read.")
    ],
    out: Annotated[str, typer.Option(help="Decisions file: .csv or .parquet.")],
    plan: PlanOption = None,
    economics: EconomicsOption = None,
    value: ValueOption = None,
    contact_history: ContactHistoryOption = None,
    at: AtOption = None,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Decide every customer of DATA: what POST /v1/decide answers for each (docs/serving.md)."""
    from uplift_engine.serve.batch import DECISIONS_SCHEMA_VERSION, decide_table

    settings = load_settings(config)
    check_table_target(out, settings)
    with steps() as say:
        say(f"loading {model_dir}")
        served = served_loader(model_dir, plan, economics, value, settings.threads)()
        say(f"reading {data}")
        table = read_table(data, settings, text_columns=(served.bundle.columns.id,))
        policy = None if served.decider is None else served.decider.policy
        history, at_us = contact_history_for(policy, contact_history, at, settings)
        say(f"deciding {table.num_rows:,} customers")
        decisions = decide_table(served, table, contacts=history, at_us=at_us)
        meta = {
            "schema_version": DECISIONS_SCHEMA_VERSION,
            "model_version": served.model_version,
            "plan_version": served.plan_version,
            "pricing": served.pricing,
        }
        write_table(decisions, out, settings, meta=json.dumps(meta).encode())
    offered = decisions.num_rows - decisions.column("offer").null_count
    print(f"decided {decisions.num_rows:,} customers ({offered:,} offered) into {out}")
