"""How feature values, keys and reserved fields are written as the online store's strings.

Invariant: a customer's key is its integer id in decimal (``"1042"``), or a string id itself
(:func:`customer_key`); reserved keys and fields start with ``_`` (feature names and ids
cannot): ``_meta`` holds the last materialisation, ``_as_of`` the time a customer's batch values
were computed for (epoch microseconds), ``_w:<source>`` the stream window of a source as a
store's ``get`` returns it (a backend may keep it in parts under other reserved fields: Redis
uses ``_e:<source>:<id>`` and ``_h:<source>``); ``a:<name>`` a customer attribute of the
lake's customers dataset (``a:segment``), as JSON text. A feature value is ``""`` for null,
``str(int)`` for a whole number and ``repr(float)`` otherwise, which reads back bit for bit. A
feature field that is absent (a customer never materialised) reads as the spec's empty value —
what the offline engine gives a customer without events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from uplift_engine.errors import UserInputError
from uplift_engine.features.definitions import FeatureSpec

META_KEY = "_meta"
AS_OF_FIELD = "_as_of"
WINDOW_PREFIX = "_w:"
ATTRIBUTE_PREFIX = "a:"
MAX_ID_LENGTH = 64

FeatureValue = int | float | str | None


def customer_key(customer_id: int | str) -> str:
    """The store key of a customer id (DESIGN.md's Id: an integer ≥ 0, or 1–64 characters).

    An integer, or a string of decimal digits, is keyed by its decimal text (``"0042"`` and
    ``42`` are one customer); any other string by itself. A string starting with ``_`` is
    refused: those keys are the store's own.
    """
    if isinstance(customer_id, int) and not isinstance(customer_id, bool):
        if customer_id < 0:
            raise UserInputError(
                f"customer_id must be an integer ≥ 0 or a string, got {customer_id}",
                field="customer_id",
            )
        return str(customer_id)
    if isinstance(customer_id, str):
        if customer_id.isascii() and customer_id.isdigit():
            return str(int(customer_id))
        if not 1 <= len(customer_id) <= MAX_ID_LENGTH:
            raise UserInputError(
                f"customer_id must have 1 to {MAX_ID_LENGTH} characters, got "
                f"{len(customer_id)}",
                field="customer_id",
            )
        if customer_id.startswith("_") or not customer_id.isprintable():
            raise UserInputError(
                f"customer_id {customer_id!r} may not start with '_' or hold control "
                "characters",
                field="customer_id",
            )
        return customer_id
    raise UserInputError(
        f"customer_id must be an integer ≥ 0 or a string, got {type(customer_id).__name__}",
        field="customer_id",
    )


def attribute_field(name: str) -> str:
    """The field holding a customer attribute (its value as JSON text)."""
    return ATTRIBUTE_PREFIX + name


_LITERALS: dict[str, object] = {"true": True, "false": False, "null": None}


def decode_attribute(text: str) -> object:
    """An attribute's value from its JSON text, as ``json.loads`` gives it, faster for scalars.

    Attributes are JSON scalars (``json.dumps`` of a number, string, boolean or null); a plain
    string or a number skips the JSON parser (a tenth of its time), anything else goes to it.
    """
    literal = _LITERALS.get(text, _LITERALS)
    if literal is not _LITERALS:
        return literal
    first = text[:1]
    if first == '"':
        if "\\" not in text and text.endswith('"') and len(text) > 1:
            return text[1:-1]
    elif first.isdigit() or first == "-":
        try:
            return int(text)
        except ValueError:
            if "n" not in text and "N" not in text:  # never float("nan"/"inf") for JSON
                try:
                    return float(text)
                except ValueError:
                    pass
    return json.loads(text)


def window_field(source_name: str) -> str:
    """The field holding the stream window state of source ``source_name``."""
    return WINDOW_PREFIX + source_name


def encode_value(value: int | float | None) -> str:
    """A feature value as text: ``""`` for null, exact decimal for numbers."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def decode_value(text: str | None, spec: FeatureSpec) -> int | float | None:
    """The value of ``spec`` from its field's text (None: the field is absent)."""
    if text is None:
        return spec.empty_value
    if text == "":
        return None
    return int(text) if spec.is_integer else float(text)


def encode_row(
    specs: Sequence[FeatureSpec], values: Sequence[int | float | None]
) -> dict[str, str]:
    """The fields of one customer's batch values, in the order of ``specs``."""
    return {s.name: encode_value(v) for s, v in zip(specs, values, strict=True)}


def decode_row(fields: Mapping[str, str], specs: Sequence[FeatureSpec]) -> dict[str, FeatureValue]:
    """The batch values of ``specs`` from one customer's fields."""
    return {s.name: decode_value(fields.get(s.name), s) for s in specs}
