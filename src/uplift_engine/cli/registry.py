"""``uplift registry``: versions with their lineage, approval, promotion and rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from uplift_engine.cli.console import print_json
from uplift_engine.cli.errors import user_errors
from uplift_engine.cli.serve import plan_metadata

app = typer.Typer(help="The model registry: register, approve, promote, roll back.")
RootOption = Annotated[str, typer.Option(help="The release root the services watch.")]


@app.command("register")
@user_errors
def register_command(
    model: Annotated[str, typer.Option(help="Model bundle folder.")],
    root: RootOption,
    plan: Annotated[str | None, typer.Option(help="The plan priced with this model.")] = None,
) -> None:
    """Register a bundle and its plan as a new version; no alias moves."""
    from uplift_engine.pipeline.registry import register

    meta = None if plan is None else plan_metadata(plan)
    release = register(Path(root), Path(model), meta)
    print(f"registered {release}")


@app.command("approve")
@user_errors
def approve_command(
    version: Annotated[str, typer.Argument(help="The release id to approve.")],
    root: RootOption,
    by: Annotated[str, typer.Option(help="Who approves it.")],
    note: Annotated[str, typer.Option(help="Why, for the record.")] = "",
) -> None:
    """Approve a version for promotion (needed in manual approval mode)."""
    from uplift_engine.pipeline.registry import approve

    approve(Path(root), version, by, note)
    print(f"{version} approved by {by}")


@app.command("promote")
@user_errors
def promote_command(
    version: Annotated[str, typer.Argument(help="The release id to promote.")],
    root: RootOption,
    alias: Annotated[str, typer.Option(help="The alias to point at it.")] = "champion",
) -> None:
    """Point an alias (champion, challenger, current …) at a verified version."""
    from uplift_engine.pipeline.registry import promote

    promote(Path(root), version, alias)
    print(f"{alias} → {version}")


@app.command("rollback")
@user_errors
def rollback_command(
    root: RootOption,
    alias: Annotated[str, typer.Option(help="The alias to move back.")] = "champion",
) -> None:
    """Point an alias back at the version it named before its latest move."""
    from uplift_engine.pipeline.registry import rollback

    previous = rollback(Path(root), alias)
    print(f"{alias} rolled back to {previous}")


@app.command("mode")
@user_errors
def mode_command(
    approval: Annotated[str, typer.Argument(help="auto or manual.")],
    root: RootOption,
) -> None:
    """Set the approval mode: manual promotions need `uplift registry approve` first."""
    from uplift_engine.pipeline.registry import set_mode

    set_mode(Path(root), approval)
    print(f"approval mode: {approval}")


@app.command("list")
@user_errors
def list_command(
    root: RootOption,
    json: Annotated[bool, typer.Option("--json", help="Print the versions as JSON.")] = False,
) -> None:
    """Every version: when registered, its model, metrics, approval and aliases."""
    from uplift_engine.pipeline.registry import history, mode, versions

    found = versions(Path(root))
    if json:
        print_json({"mode": mode(Path(root)), "versions": [v.to_dict() for v in found],
                    "history": history(Path(root))})  # fmt: skip
        return
    print(f"approval mode: {mode(Path(root))}")
    for v in found:
        record = v.record or {}
        approved = f"approved by {v.approval['by']}" if v.approval else "not approved"
        aliases = f"  ← {', '.join(v.aliases)}" if v.aliases else ""
        print(f"  {v.release}  model {record.get('model_version', '?')}  {approved}{aliases}")


@app.command("traffic")
@user_errors
def traffic_command(
    root: RootOption,
    mode: Annotated[
        str, typer.Option(help="off, shadow (the challenger scores, logged) or split.")
    ],
    share: Annotated[
        float, typer.Option(help="split: the share of requests the challenger decides.")
    ] = 0.0,
) -> None:
    """How services share requests with the challenger; they follow at their next reload."""
    from uplift_engine.serve.challenger import Traffic, write_traffic

    traffic = Traffic(mode, share)
    write_traffic(Path(root), traffic)
    print(f"traffic: {mode}" + (f", the challenger decides {share:.0%}" if mode == "split" else ""))
