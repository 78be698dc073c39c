"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis): never a 5xx.

A real ``uplift serve`` on 127.0.0.1 serves a bundle and its plan; schemathesis generates
requests for every operation of ``/openapi.json`` (valid bodies, and invalid ones — its
positive and negative modes — 40 of each an operation)
and every answer must be below 500 and, for an error, DESIGN.md's error object.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from serving import Artefacts, build
from test_serve_http import _start

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(lake: Path, campaign_table: Path, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    art: Artefacts = build(lake, campaign_table, root)
    (root / "plan.json").write_bytes(art.plan_meta)
    proc, url = _start(art, ["--model", str(art.model), "--plan", str(root / "plan.json")],
                       root / "log")  # fmt: skip
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_no_answer_is_a_server_error(service) -> None:
    schema = schemathesis.openapi.from_url(f"{service}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    calls = []

    for operation, mode in itertools.product(operations, list(GenerationMode)):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=40, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case) -> None:
            response = case.call(timeout=10)
            calls.append(response.status_code)
            assert response.status_code < 500, (case.path, case.body, response.text)
            if response.status_code >= 400:
                error = response.json()["error"]
                assert set(error) == {"code", "message", "field"} and error["message"]

        try:
            check()
        except Unsatisfiable:  # no invalid request exists for a GET without parameters
            assert mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET"
    assert len(calls) >= 200
    assert any(s == 200 for s in calls) and any(400 <= s < 500 for s in calls)
