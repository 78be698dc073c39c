"""``uplift features materialize | ingest | check``: the online side of the feature store.

Thin commands over :mod:`uplift_engine.features.online`, :mod:`~uplift_engine.features.streaming`
and :mod:`~uplift_engine.features.offline.consistency`; the store is the one of the settings
(``online_store``: SQLite by default, Redis), the lake the one of ``--lake`` or the settings.
"""

from __future__ import annotations

import json as jsonlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from uplift_engine.cli.console import print_json
from uplift_engine.cli.errors import user_errors
from uplift_engine.config import OnlineStoreConfig, SQLiteOnlineStore
from uplift_engine.config.settings import Settings, load_settings
from uplift_engine.errors import UserInputError

if TYPE_CHECKING:
    from uplift_engine.features.registry import FeatureRegistry

LAKE_HELP = "Lake folder or s3:// URI (default: the settings' lake)."
DEFINITIONS_HELP = "Feature definitions (YAML/JSON; default: the built-in ones)."


@user_errors
def materialize(
    lake: Annotated[str | None, typer.Option(help=LAKE_HELP)] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Time the values are computed for: ISO 8601 with a zone, or 'now' "
            "(default: just after the lake's latest event, so a lake of past events counts)."
        ),
    ] = None,
    definitions: Annotated[str | None, typer.Option(help=DEFINITIONS_HELP)] = None,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Put every customer's batch features (as of the lake's latest event, or --as-of) online."""
    from uplift_engine.features.offline import materialize as run
    from uplift_engine.features.online import open_store

    settings = load_settings(config)
    store = open_store(_store_config(settings, lake))
    try:
        summary = run(
            _lake(lake, settings),
            store,
            _registry(definitions),
            as_of=datetime.now(UTC) if as_of == "now" else _time(as_of, "as_of"),
            settings=settings,
            threads=settings.threads,
        )
    finally:
        store.close()
    if json:
        print_json(summary.to_dict())
        return
    origin = {"latest event": " (just after the lake's latest event)", "now": " (now)"}
    print(
        f"Materialised {len(summary.features)} batch features of {summary.customers:,} "
        f"customers as of {summary.as_of}{origin.get(summary.as_of_from, '')} into "
        f"{summary.store} in {summary.seconds:.1f} s"
    )


@user_errors
def ingest(
    path: Annotated[str, typer.Argument(help="JSON-lines file of events, or - for stdin.")] = "-",
    kinesis: Annotated[
        bool,
        typer.Option("--kinesis", help="PATH is a Lambda Kinesis event (JSON) of base64 records."),
    ] = False,
    source: Annotated[str, typer.Option(help="Declared event source of the stream.")] = "events",
    lake: Annotated[str | None, typer.Option(help=LAKE_HELP + " Dead letters go there.")] = None,
    stream: Annotated[
        str | None,
        typer.Option(help="Dead letters go to LAKE/quarantine/STREAM (default SOURCE_stream)."),
    ] = None,
    lateness: Annotated[
        str | None, typer.Option(help="Allowed lateness, e.g. 10m (default: the settings').")
    ] = None,
    no_clock_check: Annotated[
        bool,
        typer.Option("--no-clock-check", help="Accept events ahead of the clock (replays)."),
    ] = False,
    batch_size: Annotated[
        int | None, typer.Option(help="Events per batch (default: the settings').")
    ] = None,
    definitions: Annotated[str | None, typer.Option(help=DEFINITIONS_HELP)] = None,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Apply stream events to the near-real-time windows in the online store."""
    from uplift_engine.features.online import open_store
    from uplift_engine.features.streaming import (
        StreamIngestor,
        json_lines,
        kinesis_records,
        write_dead_letters,
    )

    settings = load_settings(config)
    registry = _registry(definitions)
    specs = registry.groups("stream").get(registry.source(source), ())
    streaming = settings.streaming
    store = open_store(_store_config(settings, lake))
    try:
        ingestor = StreamIngestor(
            store,
            specs,
            lateness=lateness or streaming.lateness,
            max_clock_skew=None if no_clock_check else streaming.max_clock_skew,
        )
        size = batch_size or streaming.batch_size
        if kinesis:
            messages = kinesis_records(_kinesis_event(path))
            summary = ingestor.ingest(messages, size)
        elif path == "-":
            summary = ingestor.ingest(json_lines(sys.stdin.buffer, "stdin"), size)
        else:
            with _open(path) as handle:
                summary = ingestor.ingest(json_lines(handle, Path(path).name), size)
    finally:
        store.close()
    summary.dead_letters_uri = write_dead_letters(
        _lake(lake, settings), stream or f"{source}_stream", ingestor.take_dead_letters(), settings
    )
    if json:
        print_json(summary.to_dict())
        return
    print(
        f"{summary.received:,} events: {summary.accepted:,} accepted, "
        f"{summary.duplicates:,} duplicates, {summary.dead_letters:,} dead letters "
        f"({summary.malformed:,} malformed, {summary.late:,} late, {summary.future:,} future)"
    )
    if summary.dead_letters_uri:
        print(f"Dead letters: {summary.dead_letters_uri}")


@user_errors
def check(
    lake: Annotated[str | None, typer.Option(help=LAKE_HELP)] = None,
    sample: Annotated[int, typer.Option(help="Customers compared (a seeded sample).")] = 1000,
    at: Annotated[
        str | None, typer.Option(help="Time of the stream windows (ISO 8601; default now).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    definitions: Annotated[str | None, typer.Option(help=DEFINITIONS_HELP)] = None,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare online feature values with the offline computation; exit 1 on any skew."""
    from uplift_engine.features.offline.consistency import check_consistency
    from uplift_engine.features.online import open_store

    settings = load_settings(config)
    store = open_store(_store_config(settings, lake))
    try:
        report = check_consistency(
            _lake(lake, settings),
            store,
            _registry(definitions),
            sample=sample,
            at=_time(at, "at"),
            seed=seed,
            settings=settings,
            threads=settings.threads,
        )
    finally:
        store.close()
    if json:
        print_json(report.to_dict())
    else:
        print(
            f"{report.customers:,} customers compared ({report.missing:,} missing online), "
            f"stream windows at {report.at}: {report.mismatches:,} mismatching values"
        )
        for skew in report.features:
            if skew.mismatches:
                diff = "n/a" if skew.max_abs_diff is None else f"{skew.max_abs_diff:.6g}"
                print(
                    f"  {skew.name} ({skew.tier}): {skew.mismatches:,} of {skew.compared:,} "
                    f"differ, max abs diff {diff}"
                )
    if not report.ok:
        raise typer.Exit(1)


def _lake(lake: str | None, settings: Settings) -> str:
    return lake or settings.lake.uri


def _store_config(settings: Settings, lake: str | None) -> OnlineStoreConfig:
    """The settings' online store; a SQLite file not set explicitly lives in ``--lake``'s folder."""
    store = settings.online_store
    explicit = "online_store" in settings.model_fields_set
    if isinstance(store, SQLiteOnlineStore) and lake and "://" not in lake and not explicit:
        return SQLiteOnlineStore(path=str(Path(lake) / "online.sqlite"))
    return store


def _registry(definitions: str | None) -> FeatureRegistry:
    from uplift_engine.features import default_registry, load_registry

    return load_registry(definitions) if definitions else default_registry()


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserInputError(
            f"--{option.replace('_', '-')} must be ISO 8601 like 2026-10-01T00:00:00Z, "
            f"got {text!r}",
            field=option,
        ) from None
    if moment.tzinfo is None:
        raise UserInputError(
            f"--{option.replace('_', '-')} needs a time zone (Z or +07:00), got {text!r}",
            field=option,
        )
    return moment


def _open(path: str) -> Any:
    try:
        return open(path, "rb")  # bytes: a line that is not UTF-8 becomes a dead letter
    except OSError as exc:
        raise UserInputError(f"cannot read events file {path!r}: {exc.strerror}") from exc


def _kinesis_event(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        event = jsonlib.loads(text)
    except OSError as exc:
        raise UserInputError(f"cannot read Kinesis event {path!r}: {exc.strerror}") from exc
    except ValueError as exc:
        raise UserInputError(f"Kinesis event {path!r} is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise UserInputError(f"Kinesis event {path!r} must be a JSON object with Records")
    return event
