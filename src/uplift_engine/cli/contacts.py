"""``uplift contacts ingest | materialize``: the contact history in the online store.

Thin commands over :mod:`uplift_engine.features.contacts` and
:mod:`uplift_engine.features.offline.contact_history`; the store and the lake are those of
``uplift features`` (the settings', or ``--lake``'s folder for SQLite).
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from uplift_engine.cli.console import moment_option, print_json
from uplift_engine.cli.errors import user_errors
from uplift_engine.cli.features_online import LAKE_HELP, _lake, _open, _store_config
from uplift_engine.config.settings import Settings, load_settings
from uplift_engine.decide.policy import CompiledPolicy
from uplift_engine.errors import UserInputError
from uplift_engine.features.contacts import Contact

app = typer.Typer(help="The contact history: offers sent and responses, for contact policies.")

POLICY_HELP = "Policy file whose contact_policies say how far back to keep (default 180 days)."

ContactHistoryOption = Annotated[
    str | None,
    typer.Option(help="Lake whose raw/contact_history the policy's contact_policies read."),
]
AtOption = Annotated[
    str | None,
    typer.Option(help="The decisions' moment, ISO with zone, for contact policies (now)."),
]


def contact_history_for(
    policy: CompiledPolicy | None, lake: str | None, at: str | None, settings: Settings
) -> tuple[dict[str, list[Contact]] | None, int]:
    """The contact history the policy reads (None without contact policies) and the moment.

    Refuses a history without contact policies to read it, and contact policies without one.
    """
    from uplift_engine.features.offline.contact_history import read_contact_history
    from uplift_engine.features.streaming.schema import now_us

    at_us = moment_option(at, "at") if at is not None else now_us()
    wants = policy is not None and bool(policy.contacts)
    if lake is not None and not wants:
        raise UserInputError(
            "--contact-history is read by a policy's contact_policies; the policy has none",
            field="contact_history",
        )
    if wants and lake is None:
        raise UserInputError(
            "the policy has contact_policies: give --contact-history LAKE (its "
            "raw/contact_history dataset)",
            field="contact_history",
        )
    if policy is None or lake is None:
        return None, at_us
    return read_contact_history(lake, at_us, policy.contacts.horizon_us, settings).contacts, at_us


def _horizon(policy: str | None, settings: object) -> int:
    from uplift_engine.decide.planning import load_policy
    from uplift_engine.features.contacts import KEEP_US

    if policy is None:
        return KEEP_US
    return max(KEEP_US, load_policy(policy, settings).contacts.horizon_us)  # type: ignore[arg-type]


@app.command("ingest")
@user_errors
def ingest(
    path: Annotated[str, typer.Argument(help="JSON-lines file of contact events, or - (stdin).")],
    lake: Annotated[str | None, typer.Option(help=LAKE_HELP + " Dead letters go there.")] = None,
    policy: Annotated[str | None, typer.Option(help=POLICY_HELP)] = None,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Add offer_sent / offer_response events to the customers' contact histories."""
    from itertools import islice

    from uplift_engine.features.contacts import ContactRecorder
    from uplift_engine.features.online import open_store
    from uplift_engine.features.streaming import IngestSummary, json_lines, write_dead_letters

    settings = load_settings(config)
    store = open_store(_store_config(settings, lake))
    summary = IngestSummary()
    try:
        recorder = ContactRecorder(store, _horizon(policy, settings))
        with _open(path) if path != "-" else _stdin() as handle:
            lines = json_lines(handle, "stdin" if path == "-" else Path(path).name)
            while batch := list(islice(lines, 10_000)):
                summary.add(recorder.ingest_batch(batch))
    finally:
        store.close()
    summary.dead_letters_uri = write_dead_letters(
        _lake(lake, settings), "contacts_stream", recorder.take_dead_letters(), settings
    )
    if json:
        print_json(summary.to_dict())
        return
    print(
        f"{summary.received:,} contact events: {summary.accepted:,} accepted, "
        f"{summary.duplicates:,} duplicates, {summary.dead_letters:,} dead letters "
        f"({summary.malformed:,} malformed, {summary.late:,} late)"
    )
    if summary.dead_letters_uri:
        print(f"Dead letters: {summary.dead_letters_uri}")


@app.command("materialize")
@user_errors
def materialize(
    lake: Annotated[str | None, typer.Option(help=LAKE_HELP)] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Contacts before this ISO time (with zone; default now).")
    ] = None,
    policy: Annotated[str | None, typer.Option(help=POLICY_HELP)] = None,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Put the lake's raw/contact_history online (running it again adds nothing)."""
    from uplift_engine.features.offline.contact_history import materialize_contacts
    from uplift_engine.features.online import open_store
    from uplift_engine.features.streaming.schema import iso_utc, now_us

    settings = load_settings(config)
    at = now_us() if as_of is None else moment_option(as_of, "as-of")
    store = open_store(_store_config(settings, lake))
    try:
        done = materialize_contacts(
            _lake(lake, settings), store, at, _horizon(policy, settings), settings
        )
    finally:
        store.close()
    result = {
        "contacts": done.rows,
        "quarantined": done.quarantined,
        "as_of": iso_utc(at),
    }
    if json:
        print_json(result)
        return
    print(
        f"{done.rows:,} contacts before {iso_utc(at)} put online ({done.quarantined:,} rows "
        "of the lake's contact history broke its rules and were left out)"
    )


def _stdin() -> Any:
    return nullcontext(sys.stdin.buffer)
