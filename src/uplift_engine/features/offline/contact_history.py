"""The lake's contact history, as of a moment: for batch plans and for the online store.

Invariant: rows come from ``raw/contact_history`` validated by its rules
(:data:`~uplift_engine.lake.quality.CONTACTS_CHECK`: an invalid row is never read; the counts
are reported, the quarantine is left to a validation run), and only contacts in
``[as_of − horizon, as_of)`` are read — what a contact policy can see at ``as_of``. The same
:class:`~uplift_engine.features.contacts.Contact` values reach a batch plan
(:func:`read_contact_history`) and the online store (:func:`materialize_contacts`, which appends
them through the store's window rules, so running it twice adds nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from uplift_engine.config.settings import Settings
from uplift_engine.features.contacts import Contact, ContactRecorder
from uplift_engine.features.online.store import OnlineStore
from uplift_engine.lake.quality import CHECKS, CONTACTS_CHECK
from uplift_engine.lake.sessions import duckdb_session
from uplift_engine.lake.validate import LakeValidator

_BATCH = 20_000


@dataclass
class ContactHistory:
    """Contacts by customer key (oldest first), and what the lake's rules left out."""

    contacts: dict[str, list[Contact]] = field(default_factory=dict)
    rows: int = 0
    quarantined: int = 0

    @property
    def customers(self) -> int:
        """Customers with at least one contact."""
        return len(self.contacts)


def contact_rows(
    lake_uri: str, as_of_us: int, horizon_us: int, settings: Settings | None = None
) -> Iterator[tuple[str, Contact] | int]:
    """(customer key, contact) in time order within the horizon; first, the quarantined count."""
    with duckdb_session() as con:
        checks = {**CHECKS, CONTACTS_CHECK.name: CONTACTS_CHECK}
        validator = LakeValidator(con, lake_uri.rstrip("/"), settings, checks)
        result = validator.validate(CONTACTS_CHECK.name, write_quarantine=False)
        yield result.quarantined
        cursor = con.execute(
            "SELECT CAST(customer_id AS VARCHAR), epoch_us(ts), type, event_id, offer, channel, "
            f"response FROM {result.relation} WHERE epoch_us(ts) >= ? AND epoch_us(ts) < ? "
            "ORDER BY ts, event_id",
            [as_of_us - horizon_us, as_of_us],
        )
        while rows := cursor.fetchmany(_BATCH):
            for key, ts, kind, event_id, offer, channel, response in rows:
                yield key, Contact(int(ts), kind, event_id, offer, channel, response)


def read_contact_history(
    lake_uri: str, as_of_us: int, horizon_us: int, settings: Settings | None = None
) -> ContactHistory:
    """Every customer's contacts that a policy reading ``horizon_us`` back sees at ``as_of``."""
    history = ContactHistory()
    for item in contact_rows(lake_uri, as_of_us, horizon_us, settings):
        if isinstance(item, int):
            history.quarantined = item
            continue
        history.contacts.setdefault(item[0], []).append(item[1])
        history.rows += 1
    return history


def materialize_contacts(
    lake_uri: str,
    store: OnlineStore,
    as_of_us: int,
    horizon_us: int,
    settings: Settings | None = None,
) -> ContactHistory:
    """Append the lake's contacts within the horizon to the store's histories (idempotent).

    Returns the counts (``contacts`` left empty: the store holds them).
    """
    recorder = ContactRecorder(store, horizon_us, lateness_us=horizon_us)  # history is never late
    history = ContactHistory()
    batch: list[tuple[str, Contact]] = []
    for item in contact_rows(lake_uri, as_of_us, horizon_us, settings):
        if isinstance(item, int):
            history.quarantined = item
            continue
        batch.append(item)
        if len(batch) >= _BATCH:
            recorder.record(batch)
            history.rows += len(batch)
            batch = []
    recorder.record(batch)
    history.rows += len(batch)
    return history
