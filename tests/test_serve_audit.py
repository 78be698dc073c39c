"""The audit of a decision: over HTTP from the service's log, and ``uplift why`` from a log or
the lake's compacted decisions — which rule of which kind removed which offer, with its scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from serving import Artefacts, build
from uplift_engine.cli.main import app as cli
from uplift_engine.config import SQLiteOnlineStore
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.learn import load_bundle
from uplift_engine.serve import served_with_plan
from uplift_engine.serve.compact import compact
from uplift_engine.serve.decision_log import DecisionLog
from uplift_engine.serve.http import HttpSettings, create_app
from uplift_engine.serve.service import ServiceState


@pytest.fixture(scope="module")
def audited(lake: Path, campaign_table: Path, tmp_path_factory) -> tuple[Artefacts, Path, dict]:
    """Decisions made over HTTP, one of them with cashback removed by the rule 'active'."""
    art = build(lake, campaign_table, tmp_path_factory.mktemp("audit"))
    log = art.root / "log"
    store = open_store(SQLiteOnlineStore(path=str(art.store_path)))

    def fixed():
        return served_with_plan(load_bundle(art.model, threads=1), art.plan_meta, "plan")

    state = ServiceState(FeatureReader(store, default_registry()), fixed=fixed)
    app = create_app(state, DecisionLog(log), HttpSettings())
    answers: dict[str, dict] = {}
    with TestClient(app) as client:
        allowed = []  # customers whose cashback nothing removes
        for customer in art.ids[:90:3]:
            r = client.post("/v1/decide", json={"customerId": customer})
            if r.json()["offers"]["cashback"]["excluded_by"] is None:
                allowed.append(customer)
        assert len(allowed) >= 6
        for i, customer in enumerate(allowed[:6]):
            body = {"customerId": customer, "logins30d": 0}  # the rule 'active' fails
            r = client.post("/v1/decide", json=body, headers={"X-Request-Id": f"audit-{i}"})
            answers[f"audit-{i}"] = r.json()
            assert r.json()["offers"]["cashback"]["excluded_by"]["kind"] == "eligibility"
        got = client.get("/v1/decisions/audit-3")
        assert got.status_code == 200, got.text
        answers["http"] = got.json()
        missing = client.get("/v1/decisions/no-such-decision")
        assert missing.status_code == 404
        assert missing.json()["error"]["field"] == "request_id"
        assert client.get("/v1/decisions/caf%C3%A9").status_code == 422
    return art, log, answers


def test_the_service_returns_a_logged_decision_and_explains_it(audited) -> None:
    _, _, answers = audited
    body, decided = answers["http"], answers["audit-3"]
    assert body["decision"]["request_id"] == "audit-3"
    assert body["decision"]["offer"] == decided["offer"]
    assert body["decision"]["offers"] == decided["offers"]
    assert body["decision"]["model_version"] == decided["model"]["version"]
    removed = [ln for ln in body["explained"] if ln.startswith("cashback")]
    reason = decided["offers"]["cashback"]["excluded_by"]
    assert removed and f"{reason['kind']}: {reason['name']}" in removed[0]
    # every rule that ran, in order, passed or with the offers it removed
    rules = body["decision"]["rules"]
    first = [(r["kind"], r["name"]) for r in rules][:2]
    assert first == [("guardrail", "dnc"), ("contact_cap", "account_openings_30d")]
    active = next(r for r in rules if r["name"] == "active")
    assert active == {"kind": "eligibility", "name": "active", "removed": ["cashback"]}
    assert "  eligibility: active — removed cashback" in body["explained"]
    assert any(line.endswith("— passed") for line in body["explained"])


def test_why_finds_a_decision_in_the_log_and_in_the_lake_once(audited, tmp_path: Path) -> None:
    _, log, answers = audited
    lake = tmp_path / "lake"
    compact(log, str(lake))
    for source in (["--log", str(log)], ["--lake", str(lake)], ["--log", str(log), "--lake",
                                                                   str(lake)]):  # fmt: skip
        done = CliRunner().invoke(cli, ["why", "--request", "audit-5", *source, "--json"])
        assert done.exit_code == 0, done.output
        (record,) = json.loads(done.output)["decisions"]
        assert record["offers"] == answers["audit-5"]["offers"]
    text = CliRunner().invoke(cli, ["why", "--request", "audit-5", "--lake", str(lake)]).output
    assert "decision audit-5" in text and "eligibility: active" in text
    assert "eligibility: active — removed cashback" in text  # the rules survive compaction
    customer = str(answers["audit-5"]["customer_id"])
    mine = CliRunner().invoke(cli, ["why", "--customer", customer, "--log", str(log), "--json"])
    ids = [d["request_id"] for d in json.loads(mine.output)["decisions"]]
    assert len(ids) == 2 and ids[-1] == "audit-5"  # decided twice, oldest first
    early = CliRunner().invoke(
        cli, ["why", "--customer", customer, "--at", "2000-01-01T00:00:00Z", "--log", str(log)]
    )
    assert early.exit_code == 2 and "no decision of customer" in early.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--request", "a b", "--log", "."], "request must be 1 to 128 letters"),
        (["--customer", "1", "--at", "yesterday", "--log", "."], "--at must be an ISO time"),
        (["--customer", "1", "--at", "2026-12-01T09:00:00", "--log", "."], "needs a time zone"),
        (["--request", "x"], "give a decision log folder or a lake"),
        (["--log", "."], "give a request id or a customer id"),
    ],
)
def test_bad_questions_are_refused_naming_the_option(args: list[str], message: str) -> None:
    done = CliRunner().invoke(cli, ["why", *args])
    assert done.exit_code == 2 and message in done.output, done.output


def test_a_retention_prunes_whole_days_of_the_lakes_log(audited, tmp_path: Path) -> None:
    from uplift_engine.serve.compact import prune, read_decisions

    _, log, _ = audited
    lake = tmp_path / "lake"
    compact(log, str(lake))
    days = sorted(p.name for p in (lake / "decisions").glob("day=*"))
    assert len(days) == 1
    day = days[0][4:]
    assert prune(str(lake), 30, today=day) == []  # within the retention: kept
    kept = read_decisions(str(lake)).num_rows
    assert kept > 0
    bad = CliRunner().invoke(cli, ["decisions", "prune", "--lake", str(lake), "--keep", "a year"])
    assert bad.exit_code == 2 and "--keep must be a number of days" in bad.output
    from datetime import date, timedelta

    later = (date.fromisoformat(day) + timedelta(days=31)).isoformat()
    assert prune(str(lake), 30, today=later) == [day]
    assert read_decisions(str(lake)).num_rows == 0
