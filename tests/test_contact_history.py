"""The contact history as a source: the lake's dataset, stream events and the online stores."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401 (fixtures)
from uplift_engine.config.settings import RedisOnlineStore, SQLiteOnlineStore
from uplift_engine.features import open_store
from uplift_engine.features.contacts import (
    CONTACTS_FIELD,
    Contact,
    ContactRecorder,
    decode_contacts,
)
from uplift_engine.features.offline.contact_history import (
    materialize_contacts,
    read_contact_history,
)
from uplift_engine.features.streaming import RawEvent
from uplift_engine.lake import layout

DAY = 86_400_000_000
T = 1_790_000_000_000_000
UPLIFT = str(Path(sys.executable).parent / "uplift")


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path: Path):
    if request.param == "sqlite":
        config = SQLiteOnlineStore(path=str(tmp_path / "online.sqlite"))
    else:
        config = RedisOnlineStore(url=request.getfixturevalue("redis_url"))
    opened = open_store(config)
    yield opened
    opened.close()


def _event(i: int, customer: object, kind: str, ts: str, **extra: object) -> dict:
    return {"event_id": f"c{i}", "customer_id": customer, "type": kind, "ts": ts,
            "offer": "cashback", **extra}  # fmt: skip


def test_contacts_are_kept_once_in_time_order_and_bad_ones_are_dead_letters(store) -> None:
    recorder = ContactRecorder(store, 30 * DAY)
    events = [
        _event(1, 7, "offer_sent", "2026-09-20T10:00:00Z", channel="sms"),
        _event(2, 7, "offer_response", "2026-09-19T10:00:00Z", response="ignored"),  # earlier
        _event(1, 7, "offer_sent", "2026-09-20T10:00:00Z", channel="sms"),  # a redelivery
        _event(3, "VIP-9", "offer_sent", "2026-09-20T11:00:00+07:00"),
        _event(4, 7, "offer_response", "2026-09-20T10:00:00Z", response="maybe"),
        _event(5, 7, "offer_response", "2026-09-01T10:00:00Z", response="declined"),  # > 7d late
        "not json",
    ]
    summary = recorder.ingest_batch([RawEvent(e, f"t:{i}") for i, e in enumerate(events)])
    assert (summary.received, summary.accepted, summary.duplicates) == (7, 3, 1)
    assert (summary.malformed, summary.late) == (2, 1)
    reasons = {d.origin: d.reason for d in recorder.take_dead_letters()}
    assert reasons["t:4"] == "response: not one of accepted, declined, ignored"
    assert reasons["t:5"].startswith("ts: more than 7 days behind")
    assert reasons["t:6"].startswith("event: not valid JSON")
    history = decode_contacts(store.get("7")[CONTACTS_FIELD])
    assert [(c.type, c.id) for c in history] == [("offer_response", "c2"), ("offer_sent", "c1")]
    assert history[1].channel == "sms" and history[0].response == "ignored"
    assert [c.id for c in decode_contacts(store.get("VIP-9")[CONTACTS_FIELD])] == ["c3"]
    # concurrent writers are the store's window rules: a second recorder sees the same ids
    again = ContactRecorder(store, 30 * DAY).record(
        [("7", Contact(T, "offer_sent", "c1", "cashback", "sms", None))]
    )
    assert again == "d"


def _write_lake(root: Path, ids: tuple[int, int, int] = (1, 2, 3)) -> None:
    ts = [datetime.fromtimestamp((T - d * DAY) / 1e6, UTC) for d in (1, 3, 5, 400, 2, 0)]
    table = pa.table(
        {
            "event_id": ["a", "b", "c", "d", "e", "f"],
            "customer_id": [ids[0], ids[0], ids[1], ids[1], ids[2], -4],
            "type": ["offer_sent", "offer_response", "offer_sent", "offer_sent", "offer_seen",
                     "offer_sent"],
            "ts": pa.array(ts, layout.TIMESTAMP),
            "offer": ["cashback", "cashback", "fee_waiver", "cashback", "cashback", "cashback"],
            "channel": ["sms", None, "email", "sms", None, "sms"],
            "response": [None, "ignored", None, None, None, None],
        },
        schema=layout.CONTACTS_SCHEMA,
    )  # fmt: skip
    folder = root / layout.CONTACTS
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-00000.parquet")


def test_the_lake_history_is_read_as_of_a_moment_and_materialised_idempotently(
    tmp_path: Path, store
) -> None:
    _write_lake(tmp_path / "lake")
    lake = str(tmp_path / "lake")
    # e (unknown type) and f (negative id) break the rules; d is older than the horizon
    history = read_contact_history(lake, T, 180 * DAY)
    assert history.quarantined == 2 and history.rows == 3
    assert {k: [c.id for c in v] for k, v in history.contacts.items()} == {
        "1": ["b", "a"], "2": ["c"]
    }  # fmt: skip
    # as of two days ago, a (one day ago) is not history yet
    assert [c.id for c in read_contact_history(lake, T - 2 * DAY, 180 * DAY).contacts["1"]] == ["b"]
    done = materialize_contacts(lake, store, T, 180 * DAY)
    assert done.rows == 3
    materialize_contacts(lake, store, T, 180 * DAY)  # a second run adds nothing
    assert [c.id for c in decode_contacts(store.get("1")[CONTACTS_FIELD])] == ["b", "a"]
    assert decode_contacts(store.get("2")[CONTACTS_FIELD])[0].channel == "email"


def test_optimize_reads_the_lakes_history_and_names_what_it_needs(tmp_path: Path) -> None:
    from uplift_engine.decide.planning.synthetic import synthetic_campaign
    from uplift_engine.learn.data.scores_files import write_scores

    camp = synthetic_campaign(300, seed=2)
    ids = camp.scores.column("customer_id").to_pylist()
    _write_lake(tmp_path / "lake", (ids[0], ids[1], ids[2]))  # sent 1 and 3 days ago, and none
    scores = camp.scores.join(camp.customers, "customer_id")
    write_scores(scores, camp.meta, tmp_path / "scores.parquet")
    (tmp_path / "economics.json").write_text(json.dumps({
        "control": "none",
        "offers": {"cashback": {"contact_cost": 1.0, "redemption_cost": 20.0},
                   "fee_waiver": {"contact_cost": 0.5, "redemption_cost": 5.0}}}))  # fmt: skip
    (tmp_path / "policy.json").write_text(json.dumps({"contact_policies": [
        {"name": "weekly", "max": 1, "window": "7d"}]}))  # fmt: skip
    base = [UPLIFT, "optimize", str(tmp_path / "scores.parquet"), "--economics",
            str(tmp_path / "economics.json"), "--budget", "500", "--value-col", "clv",
            "--out", str(tmp_path / "plan.parquet"),
            "--policy", str(tmp_path / "policy.json")]  # fmt: skip
    missing = subprocess.run(base, capture_output=True, text=True)
    assert missing.returncode == 2 and "--contact-history" in missing.stderr
    bad_at = subprocess.run([*base, "--contact-history", str(tmp_path / "lake"), "--at",
                             "yesterday"], capture_output=True, text=True)  # fmt: skip
    assert bad_at.returncode == 2 and "--at" in bad_at.stderr
    at = datetime.fromtimestamp(T / 1e6, UTC).isoformat()
    ran = subprocess.run([*base, "--contact-history", str(tmp_path / "lake"), "--at", at],
                         capture_output=True, text=True)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    table = pq.read_table(tmp_path / "plan.parquet")
    why = dict(zip(table.column("customer_id").to_pylist(),
                   table.column("excluded_by").to_pylist(), strict=True))  # fmt: skip
    held = {i for i, w in why.items() if "contact:weekly" in w.split(";")}
    assert held == {ids[0], ids[1]}
    assert pq.read_metadata(tmp_path / "plan.parquet").metadata is not None


def test_the_contacts_commands_ingest_events_and_materialise_the_lake(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from uplift_engine.cli.main import app as cli

    _write_lake(tmp_path / "lake")
    lake = str(tmp_path / "lake")
    at = datetime.fromtimestamp(T / 1e6, UTC).isoformat()
    done = CliRunner().invoke(cli, ["contacts", "materialize", "--lake", lake, "--as-of", at,
                                    "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"contacts": 3, "quarantined": 2,
                                       "as_of": "2026-09-21T14:13:20+00:00"}  # fmt: skip
    lines = [
        json.dumps(_event(9, 1, "offer_response", "2026-09-21T12:00:00Z", response="accepted")),
        json.dumps(_event(10, 1, "offer_sent", "2026-09-21T12:00:00Z", channel="fax")),
        "",
    ]
    (tmp_path / "contacts.jsonl").write_text("\n".join(lines))
    done = CliRunner().invoke(cli, ["contacts", "ingest", str(tmp_path / "contacts.jsonl"),
                                    "--lake", lake, "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert (summary["received"], summary["accepted"], summary["malformed"]) == (2, 1, 1)
    assert summary["dead_letters_uri"] is not None  # the bad channel is kept, with its reason
    store = open_store(SQLiteOnlineStore(path=str(tmp_path / "lake" / "online.sqlite")))
    assert [c.id for c in decode_contacts(store.get("1")[CONTACTS_FIELD])] == ["b", "a", "c9"]
    store.close()
    missing = CliRunner().invoke(cli, ["contacts", "ingest", str(tmp_path / "nope.jsonl"),
                                       "--lake", lake])  # fmt: skip
    assert missing.exit_code == 2 and "cannot read" in missing.output
