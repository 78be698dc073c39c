"""The service's OpenAPI 3.1 document, with the request body of the model being served."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uplift_engine.serve.payload import RequestSchema

if TYPE_CHECKING:
    from uplift_engine.serve.http import HttpSettings

_NUMBER_OR_NULL = {"type": ["number", "null"]}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}
DECISION = {
    "type": "object",
    "required": [
        "request_id", "customer_id", "offer", "offers", "model", "plan", "features_from",
        "degraded",
    ],
    "properties": {
        "request_id": {"type": "string"},
        "customer_id": {"type": ["integer", "string"]},
        "offer": {"type": ["string", "null"], "description": "the offer to make; null for none"},
        "offers": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "uplift": _NUMBER_OR_NULL,
                    "lower": _NUMBER_OR_NULL,
                    "upper": _NUMBER_OR_NULL,
                    "net_value": _NUMBER_OR_NULL,
                    "excluded_by": {
                        "type": ["object", "null"],
                        "properties": {"kind": {"type": "string"}, "name": {"type": "string"}},
                    },
                },
            },
        },
        "model": {"type": "object", "properties": {"version": {"type": "string"}}},
        "plan": {
            "type": "object",
            "properties": {
                "version": {"type": ["string", "null"]},
                "pricing": {"enum": ["plan", "economics", "none"]},
            },
        },
        "features_from": {
            "type": "object",
            "additionalProperties": {"enum": ["store", "stream", "request", "default"]},
        },
        "degraded": {"type": "boolean"},
    },
}  # fmt: skip


def _errors(*statuses: int) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(s): {"description": "an error", "content": content} for s in statuses}


def openapi_document(schema: RequestSchema | None, settings: HttpSettings) -> dict[str, Any]:
    """The API; the request body lists the fields the loaded model accepts."""
    request = schema.to_json_schema() if schema is not None else {"type": "object"}
    json_body = lambda ref: {  # noqa: E731
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }
    ok = lambda ref: {  # noqa: E731
        "description": "OK",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }
    secured: list[dict[str, list[str]]] = [{"apiKey": []}] if settings.api_keys else []
    return {
        "openapi": "3.1.0",
        "info": {"title": "Uplift Engine decisions", "version": "1"},
        "paths": {
            "/v1/decide": {
                "post": {
                    "summary": "Decide one customer",
                    "parameters": [{
                        "name": "X-Request-Id", "in": "header", "required": False,
                        "description": "the decision's id (a retry sends it again)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128,
                                   "pattern": "^[A-Za-z0-9._:-]+$"},
                    }],
                    "requestBody": json_body("DecideRequest"),
                    "responses": {"200": ok("Decision"), **_errors(400, 401, 413, 422, 503)},
                    "security": secured,
                }
            },
            "/v1/decide/batch": {
                "post": {
                    "summary": f"Decide up to {settings.max_batch} customers",
                    "requestBody": json_body("DecideBatch"),
                    "responses": {"200": ok("Decisions"), **_errors(400, 401, 413, 422, 503)},
                    "security": secured,
                }
            },
            "/v1/events": {
                "post": {
                    "summary": "Stream events into the near-real-time windows",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"type": "object"}}}},
                    "responses": {"200": {"description": "counts"}, "207": {
                        "description": "counts, some events rejected"},
                        **_errors(400, 401, 413, 422, 503)},
                    "security": secured,
                }
            },
            "/v1/decisions/{request_id}": {"get": {
                "summary": "The audit of one decision of this service: which rule removed which "
                           "offer, with its scores",
                "parameters": [{"name": "request_id", "in": "path", "required": True,
                                "schema": {"type": "string", "minLength": 1, "maxLength": 128,
                                           "pattern": "^[A-Za-z0-9._:-]+$"}}],
                "responses": {"200": {"description": "the decision and its explanation"},
                              **_errors(401, 404, 422)},
                "security": secured}},
            "/v1/model": {"get": {"summary": "The model served", "responses": {
                "200": {"description": "OK"}, **_errors(401, 503)}, "security": secured}},
            "/health": {"get": {"summary": "Alive", "responses": {"200": {"description": "OK"}}}},
            "/ready": {"get": {"summary": "Model, plan and store loaded", "responses": {
                "200": {"description": "ready"}, "503": {"description": "not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "OK"}, **_errors(401)}, "security": secured}},
        },
        "components": {
            "schemas": {
                "DecideRequest": request,
                "DecideBatch": {
                    "type": "object",
                    "required": ["requests"],
                    "additionalProperties": False,
                    "properties": {"requests": {
                        "type": "array", "maxItems": settings.max_batch,
                        "items": {"$ref": "#/components/schemas/DecideRequest"}}},
                },
                "Decision": DECISION,
                "Decisions": {"type": "object", "properties": {"decisions": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Decision"}}}},
                "Error": ERROR,
            },
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }  # fmt: skip
