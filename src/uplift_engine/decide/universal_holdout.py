"""The universal holdout: a lasting group of customers kept from every campaign's offers.

Each campaign's own holdout (drawn per plan, see :mod:`uplift_engine.decide.planning.holdout`)
measures that campaign; the whole programme's effect needs customers who got *no* offer of any
campaign for a period. Membership is decided by the customer id alone, so it is the same in
every plan, in real time and in batch, on any machine, without a list to keep::

    member ⇔ BLAKE2b-64(salt ␟ id text) / 2⁶⁴ < share

where the id text is the online store's key of the id (``42``, ``"0042"`` and ``"42"`` are one
customer). A new ``salt`` draws a new group; ``until`` (a date, UTC, inclusive) ends it. The
policy file declares it::

    universal_holdout:
      share: 0.05            # (0, 0.5]
      salt: programme-2026
      until: 2027-06-30      # optional

Invariant: standard library only (it runs on the request corridor); a member gets no offer, the
exclusion recorded as ``holdout:universal``, first of all the guardrails.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar

from annotated_types import Gt, Le, MinLen

from uplift_engine.config.records import STRICT
from uplift_engine.errors import ConfigError, UserInputError
from uplift_engine.features.online.codec import customer_key

REASON = "holdout:universal"
_SCALE = float(2**64)


@dataclass(frozen=True)
class UniversalHoldout:
    """``share`` of all customers, chosen by their id and ``salt``, held out until ``until``."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    share: Annotated[float, Gt(0), Le(0.5)]
    salt: Annotated[str, MinLen(1)]
    until: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.share <= 0.5:
            raise ConfigError(
                f"universal_holdout.share must be in (0, 0.5], got {self.share}",
                field="universal_holdout.share",
            )
        if not self.salt:
            raise ConfigError(
                "universal_holdout.salt must not be empty: it names the group",
                field="universal_holdout.salt",
            )
        if self.until is not None:
            self.last_day  # noqa: B018 - parsed now, so a bad date fails when the policy loads

    @property
    def last_day(self) -> date | None:
        """The last day (UTC) of the holdout, or None for no end."""
        if self.until is None:
            return None
        try:
            return date.fromisoformat(str(self.until))
        except ValueError:
            raise ConfigError(
                f"universal_holdout.until must be a date like 2027-06-30, got {self.until!r}",
                field="universal_holdout.until",
            ) from None

    def active(self, now: datetime | None = None) -> bool:
        """Whether the holdout still runs at ``now`` (default: the clock)."""
        last = self.last_day
        return last is None or (now or datetime.now(UTC)).astimezone(UTC).date() <= last

    def holds(self, customer_id: object) -> bool:
        """Whether the customer is in the group (regardless of ``until``)."""
        key = f"{self.salt}\x1f{id_text(customer_id)}".encode()
        value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
        return value / _SCALE < self.share


def id_text(value: object) -> str:
    """An id as the online store keys it (:func:`~uplift_engine.features.online.customer_key`).

    Integers and digit strings by their decimal text; a float of a whole number as that integer,
    and an id the store refuses as its text, so that any id of a plan has one.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        return customer_key(value)  # type: ignore[arg-type]
    except UserInputError:
        return str(value)
