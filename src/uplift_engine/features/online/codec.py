"""How feature values, keys and reserved fields are written as the online store's strings.

Invariant: a customer's key is its integer id in decimal (``"1042"``); reserved keys and fields
start with ``_`` (feature names cannot): ``_meta`` holds the last materialisation, ``_as_of``
the time a customer's batch values were computed for (epoch microseconds), ``_w:<source>`` the
stream window of a source as a store's ``get`` returns it (a backend may keep it in parts
under other reserved fields: Redis uses ``_e:<source>:<id>`` and ``_h:<source>``). A feature
value is ``""`` for null, ``str(int)`` for a whole
number and ``repr(float)`` otherwise, which reads back bit for bit. A feature field that is
absent (a customer never materialised) reads as the spec's empty value — what the offline
engine gives a customer without events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from uplift_engine.errors import UserInputError
from uplift_engine.features.definitions import FeatureSpec

META_KEY = "_meta"
AS_OF_FIELD = "_as_of"
WINDOW_PREFIX = "_w:"

FeatureValue = int | float | str | None


def customer_key(customer_id: int | str) -> str:
    """The store key of a customer id (an integer, or its decimal text)."""
    if isinstance(customer_id, int) and not isinstance(customer_id, bool):
        return str(customer_id)
    if isinstance(customer_id, str) and customer_id.lstrip("-").isdigit():
        return str(int(customer_id))
    raise UserInputError(
        f"customer_id must be an integer, got {customer_id!r}", field="customer_id"
    )


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
