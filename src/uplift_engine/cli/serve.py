"""``uplift serve`` and ``uplift release``: the HTTP decision service and what it serves."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.errors import BundleError, ConfigError, UserInputError

if TYPE_CHECKING:
    from uplift_engine.serve import Served

API_KEYS_VARIABLE = "UPLIFT_API_KEYS"
PlanOption = Annotated[
    str | None,
    typer.Option(help="Plan priced with this model (.parquet, .csv or its .json metadata)."),
]
EconomicsOption = Annotated[
    str | None,
    typer.Option(help="Without a plan: each customer's most profitable allowed offer."),
]
ValueOption = Annotated[
    float | None, typer.Option(help="With --economics: what one conversion is worth.")
]
release_app = typer.Typer(help="Publish a model (and its plan) as a release a service loads.")


def api_keys(host: str, what: str = "the service") -> tuple[str, ...]:
    """The keys of ``UPLIFT_API_KEYS``; none is allowed only on a loopback address."""
    keys = tuple(k.strip() for k in os.environ.get(API_KEYS_VARIABLE, "").split(",") if k.strip())
    if not keys and not _loopback(host):
        raise ConfigError(
            f"without API keys ({API_KEYS_VARIABLE}) {what} binds only a loopback address, "
            f"not {host!r}",
            field="host",
        )
    return keys


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plan_metadata(plan: str) -> bytes:
    """A plan's metadata as the bytes a release holds (``.json``: as given; a plan file: read)."""
    if plan.endswith(".json"):
        try:
            return Path(plan).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read plan {plan!r}: {exc.strerror}", field="plan") from exc
    from uplift_engine.decide.planning import read_plan

    _, meta = read_plan(plan)
    return json.dumps(meta, sort_keys=True).encode()


@user_errors
def serve(
    model: Annotated[
        str | None, typer.Option(help="Model bundle folder to serve (or --release).")
    ] = None,
    plan: PlanOption = None,
    economics: EconomicsOption = None,
    value: ValueOption = None,
    release: Annotated[
        str | None, typer.Option(help="Release root: serve what its pointer names, reloading.")
    ] = None,
    alias: Annotated[str, typer.Option(help="The release pointer to follow.")] = "current",
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8080,
    decision_log: Annotated[
        str, typer.Option(help="Folder of the decision log (fsynced JSON lines).")
    ] = "decisions",
    max_batch: Annotated[int, typer.Option(help="Most customers in one batch request.")] = 100,
    max_body_kb: Annotated[int, typer.Option(help="Largest request body, in KiB.")] = 64,
    reload_seconds: Annotated[
        float, typer.Option(help="How often the release pointer is checked.")
    ] = 2.0,
    time_budget_ms: Annotated[
        float,
        typer.Option(help="The online store's read budget: later, decide from the request."),
    ] = 100.0,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Serve decisions over HTTP (docs/serving.md); API keys from UPLIFT_API_KEYS."""
    import uvicorn

    from uplift_engine.features import FeatureReader, default_registry, open_store
    from uplift_engine.serve.decision_log import DecisionLog
    from uplift_engine.serve.http import HttpSettings, create_app
    from uplift_engine.serve.service import ServiceState

    settings = load_settings(config)
    if (model is None) == (release is None):
        raise ConfigError("give either --model or --release", field="model")
    if release is not None and (plan or economics):
        raise ConfigError("a release holds its own plan; drop --plan/--economics", field="plan")
    keys = api_keys(host)
    if not 1 <= max_batch <= 10_000:
        raise ConfigError(f"--max-batch must be 1 to 10000, got {max_batch}", field="max_batch")
    if not 1 <= max_body_kb <= 100_000:
        raise ConfigError(
            f"--max-body-kb must be 1 to 100000, got {max_body_kb}", field="max_body_kb"
        )
    fixed = None
    if model is not None:
        fixed = served_loader(model, plan, economics, value, settings.threads)
        # a plan or economics that do not fit the model stop here (exit 2); a missing or
        # tampered bundle is served not-ready, saying why in /ready
        with contextlib.suppress(BundleError):
            fixed()
    if not 1 <= time_budget_ms <= 60_000:
        raise ConfigError(
            f"--time-budget-ms must be 1 to 60000, got {time_budget_ms:g}", field="time_budget_ms"
        )
    store = open_store(settings.online_store, timeout_ms=time_budget_ms)
    state = ServiceState(
        FeatureReader(store, default_registry()),
        fixed=fixed,
        release_root=None if release is None else Path(release),
        alias=alias,
        threads=settings.threads,
        budget_ms=time_budget_ms,
    )
    http = HttpSettings(keys, max_body_kb * 1024, max_batch, reload_seconds)
    app = create_app(state, DecisionLog(decision_log), http)
    print(f"serving on http://{host}:{port} (decision log in {decision_log})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def served_loader(
    model: str, plan: str | None, economics: str | None, value: float | None, threads: int
) -> Callable[[], Served]:
    """What loads the bundle with its plan, its economics or neither (checked to match)."""
    if plan is not None and economics is not None:
        raise ConfigError("give --plan or --economics, not both", field="plan")
    from uplift_engine.decide import Decider
    from uplift_engine.learn import load_bundle
    from uplift_engine.serve import ECONOMICS, EFFECTS_ONLY, Served, served_with_plan

    meta = None if plan is None else plan_metadata(plan)
    economics_record = None
    if economics is not None:
        from uplift_engine.decide.planning import load_economics

        economics_record = load_economics(economics)

    def load() -> Served:
        bundle = load_bundle(model, threads=threads)
        if meta is not None:
            return served_with_plan(bundle, meta, f"plan {plan!r}")
        if economics_record is not None:
            decider = Decider(
                economics_record,
                control=bundle.control,
                outcome_kind=bundle.outcome_kind,
                value=value,
                id_column=bundle.columns.id,
            )
            return Served(bundle, decider, None, ECONOMICS)
        return Served(bundle, None, None, EFFECTS_ONLY)

    return load


@release_app.command("publish")
@user_errors
def publish(
    model: Annotated[str, typer.Option(help="Model bundle folder.")],
    root: Annotated[str, typer.Option(help="Release root (holds releases/ and the pointers).")],
    plan: Annotated[
        str | None, typer.Option(help="The plan priced with this model (file or .json).")
    ] = None,
    alias: Annotated[str, typer.Option(help="The pointer to move to the new release.")] = (
        "current"
    ),
) -> None:
    """Copy a bundle and its plan into a new release, then point the alias at it."""
    from uplift_engine.serve import write_release

    meta = None if plan is None else plan_metadata(plan)
    made = write_release(Path(root), Path(model), meta, alias=alias)
    print(f"release {made} published; {alias} points at it")


decisions_app = typer.Typer(help="The decision log: compact it into the lake, prune old days.")


@decisions_app.command("compact")
@user_errors
def compact_decisions(
    log: Annotated[str, typer.Option(help="The service's decision log folder.")] = "decisions",
    lake: Annotated[str, typer.Option(help="The lake (LAKE/decisions/day=…).")] = "lake",
    remove_closed: Annotated[
        bool, typer.Option(help="Delete the log files of stopped services once in the lake.")
    ] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Merge the decision log into the lake by day, duplicates removed by request_id."""
    from uplift_engine.serve.compact import compact

    done = compact(log, lake, load_settings(config), remove_closed=remove_closed)
    print(
        f"{done.lines:,} lines from {done.files} file(s): {done.rows_written:,} decisions in "
        f"{len(done.days)} day(s), {done.duplicates:,} duplicate(s) removed, "
        f"{done.bad_lines} unreadable line(s) skipped, {done.removed_files} file(s) removed"
    )


@decisions_app.command("prune")
@user_errors
def prune_decisions(
    keep: Annotated[str, typer.Option(help="Retention: days kept, e.g. 400d.")],
    lake: Annotated[str, typer.Option(help="The lake (LAKE/decisions/day=…).")] = "lake",
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Drop the compacted decisions older than the retention (whole days, UTC)."""
    from uplift_engine.serve.compact import prune

    text = keep.strip()
    if not (text.endswith("d") and text[:-1].isdigit()):
        raise UserInputError(f"--keep must be a number of days like 400d, got {keep!r}",
                             field="keep")  # fmt: skip
    dropped = prune(lake, int(text[:-1]), load_settings(config))
    span = f" ({dropped[0]} to {dropped[-1]})" if dropped else ""
    print(f"dropped {len(dropped)} day(s) of decisions older than {text}{span}")
