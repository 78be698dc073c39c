"""The HTTP decision service: Starlette and orjson over the one decision core.

    POST /v1/decide          one customer → DESIGN.md's Decision
    POST /v1/decide/batch    {"requests": [...]} (up to ``max_batch``) → {"decisions": [...]}
    POST /v1/events          stream events → the online store's windows
    GET  /v1/model           version, arms, features, metrics, plan
    GET  /health  /ready     alive; model, plan and store loaded
    GET  /metrics            Prometheus
    GET  /openapi.json       the API, documented

Invariants: every decision is on the decision log's disk before its answer leaves (keyed by
the client's ``X-Request-Id`` when it sends one, so that a retried request is one decision in
the compacted log); every error
is DESIGN.md's ``{"error": {"code", "message", "field"}}`` with a 4xx status (503 when not
ready or a dependency fails), never a traceback; API keys, when set, are compared in constant
time; a body larger than ``max_body_bytes`` is refused with 413 before it is parsed. Starlette is
used directly (no FastAPI) and JSON goes through orjson: the framework's overhead is part of the
latency budget (docs/serving.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from uplift_engine.errors import StorageError, UpliftError, UserInputError
from uplift_engine.serve.challenger import decide_routed
from uplift_engine.serve.corridor import Ask
from uplift_engine.serve.decision_log import MAX_REQUEST_ID, DecisionLog
from uplift_engine.serve.openapi import openapi_document
from uplift_engine.serve.service import ServiceState

log = logging.getLogger("uplift_engine.serve")
JSON = "application/json"
GATHER_SECONDS = 0.001
"""Under load, how long a flush waits for more requests (benchmarks/serving.py)."""
BUSY_SECONDS = 0.002
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class HttpSettings:
    """The service's limits and keys."""

    api_keys: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024
    max_batch: int = 100
    reload_seconds: float = 2.0


class Metrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "uplift_http_requests", "HTTP requests by route and status", ["route", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "uplift_http_latency_seconds", "Time to answer, by route", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.decisions = Counter(
            "uplift_decisions", "Decisions by offer ('none' for no offer)", ["offer"], registry=r
        )
        self.exclusions = Counter(
            "uplift_exclusions", "Offers ruled out, by guardrail", ["reason"], registry=r
        )
        self.degraded = Counter(
            "uplift_degraded_decisions", "Decisions taken without the online store", registry=r
        )
        self.store_errors = Counter(
            "uplift_store_errors", "Online store reads that failed", registry=r
        )
        self.ready = Gauge("uplift_ready", "1 when a model is loaded", registry=r)
        self.reloads = Counter("uplift_reloads", "Releases loaded after the first", registry=r)
        self._children: dict[tuple[object, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept: the lookup costs more than the count."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    """DESIGN.md's error object."""
    body = {"error": {"code": code, "message": message, "field": field}}
    return Response(orjson.dumps(body), status, media_type=JSON)


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type=JSON)


def create_app(
    state: ServiceState, decision_log: DecisionLog, settings: HttpSettings | None = None
) -> ASGIApp:
    """The ASGI app of a service (``state`` is started by the app's lifespan).

    Starlette routes every endpoint; the hot one, ``POST /v1/decide``, is dispatched to its
    endpoint before Starlette's router and middleware (the same endpoint, errors and metrics:
    only the framework's layers are skipped, ~20% of a request's time under load).
    """
    settings = settings or HttpSettings()
    metrics = Metrics()
    keys = tuple(k.encode() for k in settings.api_keys)
    state.on_store_error = lambda exc: metrics.store_errors.inc()

    def authorised(request: Request) -> bool:
        if not keys:
            return True
        given = request.headers.get("x-api-key", "").encode()
        ok = False
        for key in keys:  # every key compared, in constant time each
            ok |= hmac.compare_digest(given, key)
        return ok

    async def body_json(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_body_bytes:
            raise _TooLarge()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_body_bytes:
                raise _TooLarge()
            chunks.append(chunk)
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as exc:
            raise _Malformed(str(exc)) from None

    def guarded(
        route: str, handler: Callable[[Request], Awaitable[Response]], *, auth: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                if auth and not authorised(request):
                    response = error_response(
                        401, "unauthorised", "a valid X-API-Key header is required", "X-API-Key"
                    )
                else:
                    response = await handler(request)
            except _TooLarge:
                response = error_response(
                    413, "too_large", f"the body exceeds {settings.max_body_bytes} bytes"
                )
            except _Malformed as exc:
                response = error_response(400, "malformed_json", f"the body is not JSON: {exc}")
            except UserInputError as exc:
                response = error_response(exc.http_status, exc.code, exc.message, exc.field)
            except UpliftError as exc:
                response = error_response(exc.http_status, exc.code, exc.message, exc.field)
            except Exception:  # never a traceback to the caller; one line in the log
                log.exception("unexpected error on %s", route)
                response = error_response(500, "internal", "the service failed; see its log")
            metrics.child(metrics.requests, route, str(response.status_code)).inc()
            metrics.child(metrics.latency, route).observe(time.perf_counter() - started)
            return response

        return endpoint

    def current() -> Any:
        loaded = state.loaded
        if loaded is None:
            raise StorageError(f"no model is loaded: {state.problem or 'starting'}")
        return loaded

    def count(decision: Any) -> None:
        metrics.child(metrics.decisions, decision.offer or "none").inc()
        if decision.degraded:
            metrics.degraded.inc()
        if decision.assessment is not None:
            for offer in decision.assessment.offers:
                if offer.excluded_by is not None:
                    metrics.child(metrics.exclusions, offer.excluded_by).inc()

    gather = _Gatherer(decision_log)

    async def decide(request: Request) -> Response:
        body = await body_json(request)
        loaded = current()
        parsed = loaded.schema.parse(body)
        ask = Ask(parsed.customer_id, parsed.fields, parsed.given, _request_id(request))
        decision = await gather.decide(loaded, ask)
        count(decision)
        return _json(decision.to_dict())

    async def decide_batch(request: Request) -> Response:
        body = await body_json(request)
        loaded = current()
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or set(body) != {"requests"}:
            raise UserInputError(
                'the body must be {"requests": [one request object per customer]}',
                field="requests",
            )
        if len(items) > settings.max_batch:
            return error_response(
                413, "too_large",
                f"a batch holds at most {settings.max_batch} requests, got {len(items)}",
                "requests",
            )  # fmt: skip
        parsed = [loaded.schema.parse(item, f"requests[{i}].") for i, item in enumerate(items)]
        asks = [Ask(p.customer_id, p.fields, p.given) for p in parsed]
        decisions = decide_routed(loaded.core, loaded.challenger, asks) if asks else []
        lines = b"".join(orjson.dumps(d.log_record()) + b"\n" for d in decisions)
        if lines:
            await decision_log.append_async(lines)
        for d in decisions:
            count(d)
        return _json({"decisions": [d.to_dict() for d in decisions]})

    async def events(request: Request) -> Response:
        from uplift_engine.features.contacts import KEEP_US
        from uplift_engine.serve.events import ingest_events

        body = await body_json(request)
        core = current().core
        policies = core.contact_policies
        horizon = KEEP_US if policies is None else max(KEEP_US, policies.horizon_us)
        result = await asyncio.to_thread(ingest_events, state.reader, body, horizon, core.pacer)
        return _json(result, 200 if not result["rejected"] else 207)

    async def decision(request: Request) -> Response:
        from uplift_engine.serve.audit import check_request_id, explain, find_decisions

        request_id = check_request_id(request.path_params["request_id"])
        found = await asyncio.to_thread(
            find_decisions, log=decision_log.folder, request_id=request_id
        )
        if not found:
            return error_response(
                404, "not_found",
                f"no decision {request_id!r} in this service's log (compacted decisions: "
                "uplift why --lake)", "request_id",
            )  # fmt: skip
        return _json({"decision": found[0], "explained": explain(found[0])})

    async def model(request: Request) -> Response:
        core = current().core
        manifest = core.bundle.manifest
        return _json(
            {
                "version": core.served.model_version,
                "release": state.release,
                "learner": manifest["learner"]["name"],
                "arms": core.bundle.arms,
                "control": core.bundle.control,
                "outcome_kind": core.bundle.outcome_kind,
                "features": list(core.features),
                "intervals": core.bundle.intervals,
                "metrics": manifest.get("metrics", {}),
                "created_at": manifest["created_at"],
                "plan": {"version": core.served.plan_version, "pricing": core.served.pricing},
                "request_fields": sorted(current().schema.request_fields),
            }
        )

    async def health(request: Request) -> Response:
        return _json({"status": "alive"})

    async def ready(request: Request) -> Response:
        ok = state.ready
        metrics.ready.set(1 if ok else 0)
        body = {"ready": ok, "release": state.release, "problem": state.problem}
        if ok:
            served = current().core.served
            body |= {"model": served.model_version, "plan": served.plan_version}
        return _json(body, 200 if ok else 503)

    async def prometheus(request: Request) -> Response:
        metrics.ready.set(1 if state.ready else 0)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(request: Request) -> Response:
        loaded = state.loaded
        return _json(openapi_document(None if loaded is None else loaded.schema, settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(state.start)
        settle_heap()
        watcher = None
        if state.release_root is not None:
            watcher = asyncio.create_task(_watch(state, metrics, settings.reload_seconds))
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            decision_log.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        code = "not_found" if status == 404 else "method_not_allowed"
        return error_response(status, code, f"{request.method} {request.url.path} is not allowed")

    routes = [
        Route("/v1/decide", guarded("decide", decide), methods=["POST"]),
        Route("/v1/decide/batch", guarded("decide_batch", decide_batch), methods=["POST"]),
        Route("/v1/events", guarded("events", events), methods=["POST"]),
        Route("/v1/decisions/{request_id}", guarded("decision", decision), methods=["GET"]),
        Route("/v1/model", guarded("model", model), methods=["GET"]),
        Route("/health", guarded("health", health, auth=False), methods=["GET"]),
        Route("/ready", guarded("ready", ready, auth=False), methods=["GET"]),
        Route("/metrics", guarded("metrics", prometheus), methods=["GET"]),
        Route("/openapi.json", guarded("openapi", openapi, auth=False), methods=["GET"]),
    ]
    starlette = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_found},
    )
    fast = routes[0].endpoint

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/decide`` straight to its endpoint; everything else through Starlette."""
        if scope["type"] == "http" and scope["path"] == "/v1/decide" and scope["method"] == "POST":
            response = await fast(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await starlette(scope, receive, send)

    return app


def _request_id(request: Request) -> str | None:
    """The client's ``X-Request-Id`` (a retry sends it again: the log keeps one decision)."""
    given = request.headers.get("x-request-id")
    if given is None:
        return None
    if not 0 < len(given) <= MAX_REQUEST_ID or not all(c.isalnum() or c in "-_.:" for c in given):
        raise UserInputError(
            f"X-Request-Id must be 1 to {MAX_REQUEST_ID} letters, digits or -_.:",
            field="X-Request-Id",
        )
    return given


class _Gatherer:
    """Decide the requests that arrive together in one call of the core, then log them at once.

    A request's decision is queued; the first one queued schedules a flush — at once after a
    pause, or :data:`GATHER_SECONDS` later when the last flush was under :data:`BUSY_SECONDS`
    ago (under load: batches about twice as large, measured) — and the flush decides every
    queued request with :meth:`DecisionCore.decide_many` (one store round trip, one model call
    per booster), submits their log lines as one write, and answers each once the log has
    synced. Alone, a request is decided at once.
    """

    def __init__(self, decision_log: DecisionLog) -> None:
        self.log = decision_log
        self.pending: list[tuple[Any, Ask, asyncio.Future[Any]]] = []
        self.scheduled = False
        self.last_flush = -1.0

    async def decide(self, loaded: Any, ask: Ask) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((loaded, ask, future))
        if not self.scheduled:
            self.scheduled = True
            if loop.time() - self.last_flush < BUSY_SECONDS:  # under load: gather a little
                loop.call_later(GATHER_SECONDS, self._flush, loop)
            else:  # after a pause: at once
                loop.call_soon(self._flush, loop)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self.scheduled = False
        self.last_flush = loop.time()
        batch, self.pending = self.pending, []
        groups: dict[int, list[tuple[Any, Ask, asyncio.Future[Any]]]] = {}
        for item in batch:  # a reload between two requests: each keeps the core it started on
            groups.setdefault(id(item[0]), []).append(item)
        for group in groups.values():
            try:
                loaded = group[0][0]
                decisions = decide_routed(loaded.core, loaded.challenger, [a for _, a, _ in group])
                items = group
            except Exception:  # one request at fault: decide each alone, so only it fails
                items, decisions = [], []
                for item in group:
                    try:
                        decisions += decide_routed(item[0].core, item[0].challenger, [item[1]])
                        items.append(item)
                    except Exception as exc:
                        item[2].set_exception(exc)
                if not items:
                    continue
            lines = b"".join(orjson.dumps(d.log_record()) + b"\n" for d in decisions)
            futures = [future for _, _, future in items]

            def done(error: BaseException | None, futures=futures, decisions=decisions) -> None:
                loop.call_soon_threadsafe(_answer, futures, decisions, error)

            try:
                self.log.submit(lines, done)
            except Exception as exc:
                _answer(futures, decisions, exc)


def _answer(futures: list[asyncio.Future[Any]], decisions: list[Any], error: BaseException | None
            ) -> None:  # fmt: skip
    for future, decision in zip(futures, decisions, strict=True):
        if future.done():
            continue
        if error is None:
            future.set_result(decision)
        else:
            future.set_exception(StorageError(f"the decision log failed: {error}"))


async def _watch(state: ServiceState, metrics: Metrics, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if await asyncio.to_thread(state.reload):
            metrics.reloads.inc()
            settle_heap()


def settle_heap() -> None:
    """Collect once, then freeze what is alive out of the collector's sight.

    The model, the plan and the modules stay alive while serving; frozen, the collector's full
    passes scan only the requests' objects (unfrozen, each pass was a 33 ms pause: the tail of
    the latency). A reload unfreezes first, so the release it replaced can be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class _TooLarge(Exception):
    pass


class _Malformed(Exception):
    pass
