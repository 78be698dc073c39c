"""The AWS Lambda handlers, invoked directly with API Gateway and Kinesis events.

The bank's local call on a model trained on data/sample_data.csv; payloads 2.0 and 1.0; a
release mirrored from a real S3 endpoint (moto's server on 127.0.0.1), reloaded when its pointer
moves and refused when tampered; Kinesis batches with dead letters and with the store down.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import boto3
import pytest

from uplift_engine.config.settings import Settings
from uplift_engine.features.contacts import CONTACTS_FIELD, decode_contacts
from uplift_engine.features.streaming.schema import iso_utc, now_us
from uplift_engine.lake import read_table
from uplift_engine.learn import load_bundle
from uplift_engine.pipeline.train import TrainOptions, train_bundle
from uplift_engine.serve import aws_lambda, write_release
from uplift_engine.serve.decision_log import read_lines

ROOT = Path(__file__).resolve().parent.parent
BANK_CALL = {"body": '{"customerId":1,"age":30,"income":40000,"number_of_transactions":5}'}


def _train(out: Path, seed: int) -> Path:
    table = read_table(str(ROOT / "data" / "sample_data.csv"))
    options = TrainOptions(
        treatment="arm", control="control", outcome="converted", learner="t_learner", seed=seed
    )
    train_bundle(table, options, out, Settings())
    return out


@pytest.fixture(scope="module")
def sample_models(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sample-models")
    return _train(root / "a", 1), _train(root / "b", 2)


@pytest.fixture
def cold(monkeypatch, tmp_path):
    """A fresh container: the handler module forgets its runtime; a store and log of its own."""
    for name in ("MODEL_S3_BUCKET", "MODEL_S3_KEY", "UPLIFT_RELEASE_ROOT", "UPLIFT_MODEL_DIR",
                 "UPLIFT_PLAN", "UPLIFT_API_KEYS", "UPLIFT_DECISION_STREAM",
                 "UPLIFT_DECISION_FIREHOSE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPLIFT_ONLINE_STORE__TYPE", "sqlite")
    monkeypatch.setenv("UPLIFT_ONLINE_STORE__PATH", str(tmp_path / "online.sqlite"))
    monkeypatch.setenv("UPLIFT_DECISION_LOG", str(tmp_path / "decisions"))
    monkeypatch.setenv("UPLIFT_RELEASE_CACHE", str(tmp_path / "cache"))
    aws_lambda.reset()
    yield monkeypatch
    aws_lambda.reset()


def _logged(tmp_path: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((tmp_path / "decisions").glob("decisions-*.jsonl"))
        for line in read_lines(path)
    ]


def test_the_banks_local_call_answers_with_the_models_effects(
    cold, sample_models, tmp_path
) -> None:
    cold.setenv("UPLIFT_MODEL_DIR", str(sample_models[0]))
    answer = aws_lambda.lambda_handler(BANK_CALL, None)
    assert answer["statusCode"] == 200, answer["body"]
    body = json.loads(answer["body"])
    bundle = load_bundle(sample_models[0])
    row = {"age": [30], "income": [40000], "number_of_transactions": [5],
           "tenure_months": [None], "products_held": [None]}  # fmt: skip
    levels = bundle.predict_levels({n: row[n] for n in bundle.encoder.names})[0]
    for k, offer in enumerate(bundle.offers, start=1):
        assert body["offers"][offer]["uplift"] == pytest.approx(levels[k] - levels[0], abs=1e-12)
        assert body["offers"][offer]["net_value"] is None  # no plan, no economics
    assert body["offer"] is None and body["plan"]["pricing"] == "none"
    assert body["features_from"]["age"] == "request"
    assert body["features_from"]["tenure_months"] == "default"
    assert body["customer_id"] == 1 and body["model"]["version"] == bundle.version
    assert [r["request_id"] for r in _logged(tmp_path)] == [body["request_id"]]


def test_http_api_and_rest_api_payloads(cold, sample_models, tmp_path) -> None:
    cold.setenv("UPLIFT_MODEL_DIR", str(sample_models[0]))
    decide = json.dumps({"customer_id": "c-9", "age": 41, "income": 12000})
    v2 = {
        "version": "2.0", "rawPath": "/v1/decide", "body": decide, "isBase64Encoded": False,
        "requestContext": {"http": {"method": "POST"}, "requestId": "req-v2-1"},
        "headers": {"content-type": "application/json"},
    }  # fmt: skip
    v1 = {"httpMethod": "POST", "path": "/v1/decide", "requestContext": {"requestId": "req-v1"},
          "body": base64.b64encode(decide.encode()).decode(), "isBase64Encoded": True}  # fmt: skip
    a, b = aws_lambda.lambda_handler(v2), aws_lambda.lambda_handler(v1)
    assert a["statusCode"] == b["statusCode"] == 200, (a, b)
    first, second = json.loads(a["body"]), json.loads(b["body"])
    assert first["request_id"] == "req-v2-1" and second["request_id"] == "req-v1"
    assert first["offers"] == second["offers"]
    cases = [
        (v2 | {"body": "{"}, 400, None),
        (v2 | {"body": '{"customer_id": 1, "colour": "red"}'}, 422, "colour"),
        (v2 | {"body": '{"customer_id": 1, "age": "old"}'}, 422, "age"),
        (v2 | {"body": "x" * 70_000}, 413, None),
        (v1 | {"body": "%%%"}, 422, "body"),
        (v2 | {"rawPath": "/v2/nothing"}, 404, None),
        ({"httpMethod": "GET", "path": "/v1/decide"}, 404, None),
    ]
    for event, status, field in cases:
        answer = aws_lambda.lambda_handler(event)
        assert answer["statusCode"] == status, (event, answer)
        assert json.loads(answer["body"])["error"]["field"] == field
    batch = v2 | {"rawPath": "/v1/decide/batch",
                  "body": json.dumps({"requests": [{"customer_id": i} for i in range(3)]})}
    answer = aws_lambda.lambda_handler(batch)
    assert [d["request_id"] for d in json.loads(answer["body"])["decisions"]] == [
        "req-v2-1-0", "req-v2-1-1", "req-v2-1-2"
    ]  # fmt: skip
    model = aws_lambda.lambda_handler(v2 | {"rawPath": "/v1/model",
                                            "requestContext": {"http": {"method": "GET"}}})
    assert json.loads(model["body"])["features"] == load_bundle(sample_models[0]).encoder.names
    assert len(_logged(tmp_path)) == 2 + 3


def test_api_keys_are_checked_when_set(cold, sample_models) -> None:
    cold.setenv("UPLIFT_MODEL_DIR", str(sample_models[0]))
    cold.setenv("UPLIFT_API_KEYS", "alpha,beta")
    assert aws_lambda.lambda_handler(BANK_CALL)["statusCode"] == 401
    keyed = BANK_CALL | {"headers": {"X-API-Key": "beta"}}
    assert aws_lambda.lambda_handler(keyed)["statusCode"] == 200


def _upload(client, root: Path, prefix: str, *, pointer: bool = True) -> None:
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    for path in files:
        if path.name == "current.json":
            continue
        client.upload_file(str(path), "bank-lake", f"{prefix}/{path.relative_to(root)}")
    if pointer:
        client.upload_file(str(root / "current.json"), "bank-lake", f"{prefix}/current.json")


@pytest.mark.integration
def test_a_release_on_s3_is_mirrored_reloaded_and_verified(
    cold, sample_models, s3_server, tmp_path
) -> None:
    client = boto3.client("s3", endpoint_url=s3_server, region_name="ap-southeast-1")
    local = tmp_path / "publish"
    write_release(local, sample_models[0], None)
    _upload(client, local, "models/uplift")
    cold.setenv("MODEL_S3_BUCKET", "bank-lake")
    cold.setenv("MODEL_S3_KEY", "models/uplift/current.json")
    cold.setenv("UPLIFT_RELOAD_SECONDS", "0")
    started = time.perf_counter()
    first = aws_lambda.lambda_handler(BANK_CALL)
    cold_seconds = time.perf_counter() - started
    assert first["statusCode"] == 200, first["body"]
    version_a = load_bundle(sample_models[0]).version
    assert json.loads(first["body"])["model"]["version"] == version_a
    assert cold_seconds < 30
    # a new release: served at the next invocation, without a new container
    write_release(local, sample_models[1], None)
    _upload(client, local, "models/uplift")
    second = json.loads(aws_lambda.lambda_handler(BANK_CALL)["body"])
    assert second["model"]["version"] == load_bundle(sample_models[1]).version != version_a
    # a tampered release is refused; the one being served stays
    bad = write_release(local, sample_models[0], None)
    model_file = next((local / "releases" / bad / "bundle" / "models").glob("*.txt"))
    model_file.write_text(model_file.read_text() + "\n")
    _upload(client, local, "models/uplift")
    third = aws_lambda.lambda_handler(BANK_CALL)
    assert third["statusCode"] == 200
    assert json.loads(third["body"])["model"]["version"] == second["model"]["version"]
    ready = aws_lambda.lambda_handler({"httpMethod": "GET", "path": "/ready"})
    assert "checksum" in json.loads(ready["body"])["problem"]
    # a cold start on the tampered release: not ready, 503, never a wrong model
    aws_lambda.reset()
    cold.setenv("UPLIFT_RELEASE_CACHE", str(tmp_path / "cache-2"))
    refused = aws_lambda.lambda_handler(BANK_CALL)
    assert refused["statusCode"] == 503
    assert json.loads(refused["body"])["error"]["code"] == "storage_unavailable"


def _kinesis(events: list[bytes | str]) -> dict:
    records = []
    for i, data in enumerate(events):
        encoded = data if isinstance(data, str) else base64.b64encode(data).decode()
        records.append({"kinesis": {"data": encoded, "sequenceNumber": f"4959{i:04d}"},
                        "eventSource": "aws:kinesis"})  # fmt: skip
    return {"Records": records}


def test_kinesis_events_feed_the_windows_and_dead_letters_are_not_retried(cold) -> None:
    now = now_us()
    good = [
        {"event_id": 1, "customer_id": 5, "type": "card_txn", "ts": iso_utc(now - 60_000_000),
         "amount": 12.5},
        {"event_id": 2, "customer_id": 5, "type": "card_txn", "ts": iso_utc(now - 30_000_000),
         "amount": 20.0},
    ]  # fmt: skip
    event = _kinesis([json.dumps(e).encode() for e in good] + [b'{"event_id": 3}', "%%%"])
    assert aws_lambda.kinesis_handler(event) == {"batchItemFailures": []}
    reader = aws_lambda.runtime().reader
    stream = [s.name for s in reader.registry.stream]
    before = {n: reader.read(5, at_us=now)[n] for n in stream}
    assert before["card_txn_5m"] == 2 and before["card_amount_5m"] == 32.5, before
    again = aws_lambda.kinesis_handler(event)  # redelivered: duplicates, windows unchanged
    assert again == {"batchItemFailures": []}
    assert {n: reader.read(5, at_us=now)[n] for n in stream} == before
    # contact events on the same stream go to the customer's contact history, by their type
    contacts = [
        {"event_id": "s1", "customer_id": 5, "type": "offer_sent", "ts": iso_utc(now - 90_000_000),
         "offer": "cashback", "channel": "sms"},
        {"event_id": "s2", "customer_id": 5, "type": "offer_response", "ts": iso_utc(now),
         "offer": "cashback"},  # no response: a dead letter
    ]  # fmt: skip
    mixed = _kinesis([json.dumps(e).encode() for e in contacts] + [json.dumps(good[0]).encode()])
    assert aws_lambda.kinesis_handler(mixed) == {"batchItemFailures": []}
    history = decode_contacts(reader.store.get("5")[CONTACTS_FIELD])
    assert [(c.id, c.type, c.channel) for c in history] == [("s1", "offer_sent", "sms")]
    assert {n: reader.read(5, at_us=now)[n] for n in stream} == before


def test_kinesis_reports_every_record_for_retry_when_the_store_is_down(cold) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cold.setenv("UPLIFT_ONLINE_STORE__TYPE", "redis")
    cold.setenv("UPLIFT_ONLINE_STORE__URL", f"redis://127.0.0.1:{port}/0")
    cold.delenv("UPLIFT_ONLINE_STORE__PATH")
    event = {"event_id": 1, "customer_id": 5, "type": "card_txn", "ts": iso_utc(now_us()),
             "amount": 1.0}  # fmt: skip
    answer = aws_lambda.kinesis_handler(_kinesis([json.dumps(event).encode()] * 2))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "49590000"},
                                            {"itemIdentifier": "49590001"}]}  # fmt: skip


def test_a_release_killed_while_published_leaves_the_pointer_on_a_whole_release(
    sample_models, tmp_path
) -> None:
    import random
    import signal
    import subprocess
    import sys

    from uplift_engine.serve import load_release, read_pointer

    uplift = str(Path(sys.executable).parent / "uplift")
    root = tmp_path / "releases"
    write_release(root, sample_models[0], None)
    versions = {load_bundle(m).version for m in sample_models}
    rng = random.Random(7)
    for _ in range(6):
        proc = subprocess.Popen(
            [uplift, "release", "publish", "--model", str(sample_models[1]), "--root", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(rng.uniform(0.05, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
        served = load_release(root, read_pointer(root), threads=1)  # whole, checksums verified
        assert served.model_version in versions
    write_release(root, sample_models[1], None)  # the next writer sweeps what the kills left
    assert not list((root / "releases").glob(".*")) and not list(root.glob(".*"))


def test_a_challenger_on_a_release_root_decides_its_share(cold, sample_models, tmp_path) -> None:
    from uplift_engine.pipeline.registry import promote, register
    from uplift_engine.serve.challenger import Traffic, write_traffic

    root = tmp_path / "releases"
    a, b = register(root, sample_models[0], None), register(root, sample_models[1], None)
    promote(root, a, "current")
    promote(root, b, "challenger")
    write_traffic(root, Traffic("split", 0.5))
    cold.setenv("UPLIFT_RELEASE_ROOT", str(root))
    versions = set()
    for _ in range(40):
        answer = aws_lambda.lambda_handler(BANK_CALL)
        assert answer["statusCode"] == 200, answer["body"]
        versions.add(json.loads(answer["body"])["model"]["version"])
    assert versions == {load_bundle(m).version for m in sample_models}
    logged = _logged(tmp_path)
    assert {line["assignment"] for line in logged} == {"champion", "challenger"}
    assert all(("shadow" in line) == (line["assignment"] == "champion") for line in logged)
