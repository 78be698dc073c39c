"""A decision request's body: one flat JSON object, checked field by field.

The body holds ``customer_id`` (or ``customerId``), the request's own fields (what request-time
features and the rules read: ``channel``, ``ts``, ``segment`` …) and, optionally, feature values
by name. Names are accepted in snake_case or camelCase (``numberOfTransactions`` is
``number_of_transactions``, ``logins30d`` is ``logins_30d``: names are compared without case or
underscores). Invariant: a field the served model and its plan do not read is
refused, naming the field, and so is a value of the wrong type; nothing is guessed. Standard
library only (the Lambda shares it).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from uplift_engine.errors import UserInputError
from uplift_engine.features.online import customer_key

ID_FIELD = "customer_id"
MAX_TEXT = 256
FeatureValue = int | float | str | None


def folded(name: str) -> str:
    """A name without case or underscores: ``customerId``, ``customer_id`` → ``customerid``."""
    return name.replace("_", "").lower()


@dataclass(frozen=True)
class DecideRequest:
    """One customer to decide: the id, the request's fields and the features it gives."""

    customer_id: int | str
    fields: dict[str, object]
    given: dict[str, FeatureValue]


@dataclass(frozen=True)
class RequestSchema:
    """What a decision request may carry for the model being served."""

    request_fields: frozenset[str]
    """The request's own fields: the inputs of request-time features and the rules' columns."""
    features: frozenset[str]
    """Feature names a request may give values for (they replace the store's)."""
    categorical: frozenset[str] = frozenset()
    """The features whose values are categories' names (strings); the others are numbers."""
    names: dict[str, str] = field(default_factory=dict, compare=False)
    """Every accepted name, folded (:func:`folded`), to its snake_case form."""

    @classmethod
    def of(
        cls,
        features: Collection[str],
        request_fields: Collection[str],
        categorical: Collection[str] = (),
    ) -> RequestSchema:
        """The schema of a model reading ``features``, with these request fields."""
        fields = frozenset(request_fields) - {ID_FIELD}
        names = {folded(n): n for n in (ID_FIELD, *sorted(fields), *sorted(features))}
        return cls(fields, frozenset(features), frozenset(categorical), names)

    def parse(self, body: object, where: str = "") -> DecideRequest:
        """Check one request body; raises :class:`UserInputError` naming the field at fault."""
        if not isinstance(body, Mapping):
            raise UserInputError(
                f"{where}the request must be one JSON object, got {_kind(body)}",
                field=where.rstrip(".") or None,
            )
        names: dict[str, str] = {}
        for raw in body:
            if not isinstance(raw, str):
                raise UserInputError(
                    f"{where}field names must be strings", field=where.rstrip(".") or None
                )
            name = self.names.get(folded(raw), raw)
            if name in names:
                raise UserInputError(
                    f"{where}field {raw!r} repeats {names[name]!r}", field=where + raw
                )
            names[name] = raw
        if ID_FIELD not in names:
            raise UserInputError(
                f"{where}the request lacks customer_id (or customerId)", field=where + ID_FIELD
            )
        raw_id = body[names[ID_FIELD]]
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
            raise UserInputError(
                f"{where}customer_id must be an integer ≥ 0 or a string, got {_kind(raw_id)}",
                field=where + names[ID_FIELD],
            )
        try:
            customer_key(raw_id)
        except UserInputError as exc:
            raise UserInputError(f"{where}{exc.message}", field=where + names[ID_FIELD]) from None
        fields: dict[str, object] = {}
        given: dict[str, FeatureValue] = {}
        for name, raw in names.items():
            if name == ID_FIELD:
                continue
            value = body[raw]
            if name in self.features:
                given[name] = _feature_value(value, where + raw, name in self.categorical)
            elif name in self.request_fields:
                if isinstance(value, dict | list):
                    raise UserInputError(
                        f"{where}field {raw!r} must be a string, number, true/false or null, "
                        f"got {_kind(value)}",
                        field=where + raw,
                    )
                fields[name] = value
            else:
                raise UserInputError(
                    f"{where}unknown field {raw!r}: the model reads customer_id, "
                    f"{len(self.features)} features and the request fields "
                    f"{', '.join(sorted(self.request_fields)) or '(none)'}",
                    field=where + raw,
                )
        return DecideRequest(raw_id, fields, given)

    def to_json_schema(self) -> dict[str, Any]:
        """The request body as JSON Schema (for the OpenAPI document)."""
        properties: dict[str, Any] = {
            ID_FIELD: {
                "oneOf": [
                    {"type": "integer", "minimum": 0},
                    {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^_]"},
                ],
                "description": "the customer (customerId is accepted too)",
            }
        }
        for name in sorted(self.request_fields):
            properties[name] = {"type": ["string", "number", "boolean", "null"]}
        for name in sorted(self.features):
            if name in self.categorical:
                properties[name] = {"type": ["string", "null"], "maxLength": MAX_TEXT}
            else:
                properties[name] = {"type": ["number", "null"]}
        return {
            "type": "object",
            "properties": properties,
            "required": [ID_FIELD],
            "additionalProperties": False,
        }


def _feature_value(value: object, field: str, categorical: bool) -> FeatureValue:
    if value is None:
        return None
    if categorical:
        if isinstance(value, str) and len(value) <= MAX_TEXT:
            return value  # a category's name (one the model never saw reads as missing)
        raise UserInputError(
            f"feature {field!r} must be a category's name (a string of at most {MAX_TEXT} "
            f"characters) or null, got {_kind(value)}",
            field=field,
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserInputError(
            f"feature {field!r} must be a number or null, got {_kind(value)}", field=field
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise UserInputError(f"feature {field!r} must be a finite number", field=field)
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__
