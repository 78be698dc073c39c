"""AWS Lambda handlers over the one decision core: API Gateway decisions and Kinesis events.

    from uplift_engine.serve.aws_lambda import lambda_handler     # API Gateway (HTTP or REST API)
    from uplift_engine.serve.aws_lambda import kinesis_handler    # a Kinesis event source

What is served comes from the environment, read once at the first invocation (the cold start):

- ``MODEL_S3_BUCKET`` and ``MODEL_S3_KEY`` — the key of a release pointer (``…/current.json``):
  the release is mirrored to ``/tmp`` (every checksum verified on load), and the pointer is read
  again every ``UPLIFT_RELOAD_SECONDS`` (30) so that a new release is served without a restart;
- or ``UPLIFT_RELEASE_ROOT`` — a local release root; or ``UPLIFT_MODEL_DIR`` (a bundle) with
  ``UPLIFT_PLAN`` (the plan's metadata, ``.json``; optional) — for a local call.

The online store is the one of the ``UPLIFT_ONLINE_STORE__*`` settings; a read that takes
longer than ``UPLIFT_TIME_BUDGET_MS`` (100) is given up and the customer decided from the
request (``degraded``). Every decision is
logged before it is answered: to the Kinesis stream ``UPLIFT_DECISION_STREAM``, the Firehose
delivery stream ``UPLIFT_DECISION_FIREHOSE``, or else the folder ``UPLIFT_DECISION_LOG``
(default ``/tmp/uplift-decisions``); a decision that cannot be logged is answered 503, never
acknowledged. ``UPLIFT_API_KEYS`` (comma-separated), when set, is checked against the
``X-API-Key`` header in constant time, behind API Gateway's own authoriser.

The API handler takes the HTTP API's payload 2.0, the REST API's 1.0, and a bare
``{"body": "..."}`` (the bank's local test call), which is a ``POST /v1/decide``. Routes and
answers are the HTTP service's (docs/serving.md). No framework and nothing heavy is imported:
the standard library, the decision core, boto3 only for S3 and the log streams.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from uplift_engine.config.environment import ServingSettings, serving_settings
from uplift_engine.errors import ConfigError, StorageError, UpliftError, UserInputError
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.features.contacts import KEEP_US, ContactRecorder, is_contact
from uplift_engine.features.streaming import IngestSummary, RawEvent, StreamIngestor
from uplift_engine.learn import load_bundle
from uplift_engine.serve.challenger import decide_routed
from uplift_engine.serve.corridor import Ask, CustomerDecision
from uplift_engine.serve.decision_log import DecisionLog
from uplift_engine.serve.events import redeem_accepted
from uplift_engine.serve.release import EFFECTS_ONLY, Served, served_with_plan
from uplift_engine.serve.service import ServiceState

log = logging.getLogger("uplift_engine.serve")
JSON_HEADERS = {"content-type": "application/json"}
MAX_BODY_BYTES = 64 * 1024
MAX_BATCH = 100


def _dumps(data: Any) -> str:
    return orjson.dumps(data).decode()


class DecisionSink:
    """Where a Lambda's decisions go before they are answered."""

    def __init__(self, env: Mapping[str, str], settings: ServingSettings) -> None:
        self.stream = env.get("UPLIFT_DECISION_STREAM") or None
        self.firehose = env.get("UPLIFT_DECISION_FIREHOSE") or None
        self.file: DecisionLog | None = None
        self.client: Any = None
        if self.stream or self.firehose:
            import boto3

            kind = "kinesis" if self.stream else "firehose"
            self.client = boto3.client(
                kind, endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region
            )
        else:
            self.file = DecisionLog(env.get("UPLIFT_DECISION_LOG", "/tmp/uplift-decisions"))

    def write(self, decisions: list[CustomerDecision]) -> None:
        """Every decision's log line, durably, or :class:`StorageError`."""
        lines = [(_dumps(d.log_record()) + "\n").encode() for d in decisions]
        try:
            if self.file is not None:
                self.file.append(b"".join(lines))
            elif self.stream:
                entries = [
                    {"Data": line, "PartitionKey": d.request_id}
                    for line, d in zip(lines, decisions, strict=True)
                ]
                failed = self.client.put_records(StreamName=self.stream, Records=entries)
                if failed.get("FailedRecordCount"):
                    raise StorageError(f"{failed['FailedRecordCount']} decision(s) not logged")
            else:
                failed = self.client.put_record_batch(
                    DeliveryStreamName=self.firehose, Records=[{"Data": line} for line in lines]
                )
                if failed.get("FailedPutCount"):
                    raise StorageError(f"{failed['FailedPutCount']} decision(s) not logged")
        except StorageError:
            raise
        except Exception as exc:  # botocore's errors
            raise StorageError(f"the decision log failed: {exc}") from exc


class Runtime:
    """What one Lambda container keeps between invocations."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self.settings = serving_settings(env)
        self.keys = tuple(
            k.strip().encode() for k in env.get("UPLIFT_API_KEYS", "").split(",") if k.strip()
        )
        budget = _budget_ms(env.get("UPLIFT_TIME_BUDGET_MS", "100"))
        self.reader = FeatureReader(
            open_store(self.settings, timeout_ms=budget), default_registry()
        )
        self.reload_seconds = float(env.get("UPLIFT_RELOAD_SECONDS", "30"))
        self.source: Any = None
        bucket, key = env.get("MODEL_S3_BUCKET"), env.get("MODEL_S3_KEY")
        if bucket or key:
            from uplift_engine.serve.s3_release import S3ReleaseSource

            root = Path(env.get("UPLIFT_RELEASE_CACHE", "/tmp/uplift-release"))
            self.source = S3ReleaseSource(
                bucket or "", key or "", root,
                endpoint_url=self.settings.s3_endpoint_url, region=self.settings.s3_region,
            )  # fmt: skip
            self.state = ServiceState(
                self.reader, release_root=root, alias=self.source.alias, threads=1,
                budget_ms=budget,
            )  # fmt: skip
        elif env.get("UPLIFT_RELEASE_ROOT"):
            self.state = ServiceState(
                self.reader, release_root=Path(env["UPLIFT_RELEASE_ROOT"]), threads=1,
                budget_ms=budget,
            )  # fmt: skip
        elif env.get("UPLIFT_MODEL_DIR"):
            model, plan = env["UPLIFT_MODEL_DIR"], env.get("UPLIFT_PLAN")

            def fixed() -> Served:
                bundle = load_bundle(model, threads=self.settings.threads)
                if plan:
                    return served_with_plan(bundle, Path(plan).read_bytes(), f"plan {plan!r}")
                return Served(bundle, None, None, EFFECTS_ONLY)

            self.state = ServiceState(self.reader, fixed=fixed, threads=1, budget_ms=budget)
        else:
            self.state = ServiceState(self.reader, fixed=_nothing, threads=1)
        self.sink: DecisionSink | None = None
        self.env = env
        self._checked = 0.0
        self._sync()
        self.state.start()
        self._checked = time.monotonic()

    def _sync(self) -> None:
        if self.source is None:
            return
        try:
            self.source.sync()
        except UpliftError as exc:
            self.state.problem = str(exc).splitlines()[0]
            log.error("release not mirrored: %s", self.state.problem)

    def refresh(self) -> None:
        """Read the pointer again when it is due; load a new release."""
        if self.state.release_root is None:
            return
        now = time.monotonic()
        if now - self._checked < self.reload_seconds:
            return
        self._checked = now
        self._sync()
        self.state.reload()

    def decision_sink(self) -> DecisionSink:
        """The log of decisions, opened at the first decision."""
        if self.sink is None:
            self.sink = DecisionSink(self.env, self.settings)
        return self.sink


def _budget_ms(text: str) -> float:
    try:
        budget = float(text)
    except ValueError:
        budget = -1.0
    if not 1 <= budget <= 60_000:
        raise ConfigError(
            f"UPLIFT_TIME_BUDGET_MS must be 1 to 60000 milliseconds, got {text!r}",
            field="UPLIFT_TIME_BUDGET_MS",
        )
    return budget


def _nothing() -> Served:
    raise StorageError(
        "nothing to serve: set MODEL_S3_BUCKET and MODEL_S3_KEY, UPLIFT_RELEASE_ROOT or "
        "UPLIFT_MODEL_DIR",
        field="MODEL_S3_KEY",
    )


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The container's runtime, made at the first invocation."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


def reset() -> None:
    """Forget the runtime: the next invocation starts cold (a new container, in tests)."""
    global _runtime
    _runtime = None


def _response(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": _dumps(body)}


def _error(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return _response(status, {"error": {"code": code, "message": message, "field": field}})


def _route(event: Mapping[str, Any]) -> tuple[str, str]:
    http = (event.get("requestContext") or {}).get("http")
    if isinstance(http, Mapping):  # payload 2.0
        return str(http.get("method", "POST")).upper(), str(event.get("rawPath") or "/v1/decide")
    if "httpMethod" in event:  # payload 1.0
        return str(event["httpMethod"]).upper(), str(event.get("path") or "/v1/decide")
    return "POST", "/v1/decide"  # a bare {"body": ...}: the bank's local call


def _body(event: Mapping[str, Any]) -> Any:
    raw = event.get("body")
    if raw is None:
        raise UserInputError("the request has no body", field="body")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise UserInputError("the body is not valid base64", field="body") from None
    data = raw if isinstance(raw, bytes) else str(raw).encode()
    if len(data) > MAX_BODY_BYTES:
        raise _TooLarge()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _Malformed(str(exc)) from None


def lambda_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """An API Gateway request (HTTP API 2.0, REST API 1.0, or a bare body) → its answer."""
    try:
        return _handle(event)
    except _TooLarge:
        return _error(413, "too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    except _Malformed as exc:
        return _error(400, "malformed_json", f"the body is not JSON: {exc}")
    except UpliftError as exc:
        return _error(exc.http_status, exc.code, exc.message, exc.field)
    except Exception:  # never a traceback to the caller
        log.exception("unexpected error")
        return _error(500, "internal", "the decision failed; see the function's log")


def _handle(event: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise UserInputError("the event must be an API Gateway event object", field="event")
    rt = runtime()
    method, path = _route(event)
    if path == "/health" and method == "GET":
        return _response(200, {"status": "alive"})
    if rt.keys:
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        given = str(headers.get("x-api-key", "")).encode()
        ok = False
        for key in rt.keys:
            ok |= hmac.compare_digest(given, key)
        if not ok:
            return _error(401, "unauthorised", "a valid X-API-Key header is required", "X-API-Key")
    rt.refresh()
    state = rt.state
    if path == "/ready" and method == "GET":
        body = {"ready": state.ready, "release": state.release, "problem": state.problem}
        return _response(200 if state.ready else 503, body)
    routes = {("POST", "/v1/decide"), ("POST", "/v1/decide/batch"), ("GET", "/v1/model")}
    if (method, path) not in routes:
        return _error(404, "not_found", f"{method} {path} is not an endpoint")
    loaded = state.loaded
    if loaded is None:
        raise StorageError(f"no model is loaded: {state.problem or 'starting'}")
    if path == "/v1/model":
        served = loaded.core.served
        return _response(200, {
            "version": served.model_version, "release": state.release,
            "arms": loaded.core.bundle.arms, "features": list(loaded.core.features),
            "plan": {"version": served.plan_version, "pricing": served.pricing},
        })  # fmt: skip
    body = _body(event)
    if path == "/v1/decide":
        parsed = [loaded.schema.parse(body)]
    else:
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or set(body) != {"requests"}:
            raise UserInputError(
                'the body must be {"requests": [one request object per customer]}',
                field="requests",
            )
        if len(items) > MAX_BATCH:
            return _error(413, "too_large", f"a batch holds at most {MAX_BATCH} requests",
                          "requests")  # fmt: skip
        parsed = [loaded.schema.parse(item, f"requests[{i}].") for i, item in enumerate(items)]
    request_id = _request_id(event)
    ids = (
        [request_id]
        if len(parsed) == 1
        else [None if request_id is None else f"{request_id}-{i}" for i in range(len(parsed))]
    )
    asks = [Ask(p.customer_id, p.fields, p.given, ids[i]) for i, p in enumerate(parsed)]
    decisions = decide_routed(loaded.core, loaded.challenger, asks)
    if decisions:
        rt.decision_sink().write(decisions)
    if path == "/v1/decide":
        return _response(200, decisions[0].to_dict())
    return _response(200, {"decisions": [d.to_dict() for d in decisions]})


def _request_id(event: Mapping[str, Any]) -> str | None:
    """API Gateway's request id, so that a retried invocation logs the same decision once."""
    context = event.get("requestContext") or {}
    value = context.get("requestId") if isinstance(context, Mapping) else None
    return str(value) if isinstance(value, str) and 0 < len(value) <= 128 else None


def kinesis_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """A Kinesis batch of stream events → the windows; the records to retry, if any.

    Events the schema rejects (malformed, late, from the future) are dead letters, logged one
    line each and not retried (a retry cannot mend them); when the store fails, every record
    of the batch is reported for a retry (``batchItemFailures``), which the store's
    duplicate detection makes safe.
    """
    records = list(event.get("Records") or [])
    rt = runtime()
    messages = []
    for record in records:
        kinesis = record.get("kinesis") or {}
        sequence = str(kinesis.get("sequenceNumber", ""))
        try:
            data = base64.b64decode(kinesis.get("data", ""), validate=True)
            messages.append(RawEvent(data, f"kinesis:{sequence}"))
        except (binascii.Error, ValueError, TypeError):
            messages.append(RawEvent(b"", f"kinesis:{sequence}", "data is not valid base64"))
    contacts = [m for m in messages if m.error is None and is_contact(m.payload)]
    others = [m for m in messages if m.error is not None or not is_contact(m.payload)]
    loaded = rt.state.loaded
    policies = None if loaded is None else loaded.core.contact_policies
    keep = KEEP_US if policies is None else policies.horizon_us
    recorder = ContactRecorder(rt.reader.store, keep)
    summary = IngestSummary()
    letters = []
    try:
        if contacts:  # contact events: the customers' contact histories
            summary.add(recorder.ingest_batch(contacts))
            letters += recorder.take_dead_letters()
            redeem_accepted(None if loaded is None else loaded.core.pacer, recorder.accepted)
        if others:
            ingestor = StreamIngestor(rt.reader.store, rt.reader.registry.stream)
            summary.add(ingestor.ingest_batch(others))
            letters += ingestor.take_dead_letters()
    except StorageError as exc:
        log.error("store failed; %d records to retry: %s", len(records), exc)
        return {
            "batchItemFailures": [
                {"itemIdentifier": str((r.get("kinesis") or {}).get("sequenceNumber", ""))}
                for r in records
            ]
        }
    for letter in letters:
        log.warning("dead letter %s: %s", letter.origin, letter.reason)
    log.info("events: %s", json.dumps(summary.to_dict(), default=str))
    return {"batchItemFailures": []}


class _TooLarge(Exception):
    pass


class _Malformed(Exception):
    pass
