"""The baselines of the HTTP benchmark: endpoints that parse the body and answer, nothing else.

``fastapi_app``: the trivial FastAPI ``async def`` endpoint the Serving issue measured;
``starlette_app``: bare Starlette with orjson. Both take ``POST /v1/decide`` with a JSON body,
so that they do the framework's part of a decision and none of ours. FastAPI is a benchmark
dependency only (``pip install fastapi``).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def _starlette_decide(request: Request) -> Response:
    body = orjson.loads(await request.body())
    return Response(orjson.dumps({"customer_id": body.get("customer_id"), "offer": None}),
                    media_type="application/json")  # fmt: skip


starlette_app = Starlette(routes=[Route("/v1/decide", _starlette_decide, methods=["POST"])])


def _fastapi() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/decide")
    async def decide(body: dict[str, Any]) -> dict[str, Any]:
        return {"customer_id": body.get("customer_id"), "offer": None}

    return app


def __getattr__(name: str) -> Any:
    if name == "fastapi_app":
        return _fastapi()
    raise AttributeError(name)
