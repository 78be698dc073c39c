"""Contact policies: how often a customer may be contacted, read from their contact history.

Declared in the policy file (:mod:`uplift_engine.decide.policy`)::

    contact_policies:
      - name: one_sms_a_week          # at most 1 offer sent by SMS in any 7 days
        channel: sms
        max: 1
        window: 7d
      - name: cashback_twice_a_month  # a per-offer frequency cap
        offers: [cashback]
        max: 2
        window: 30d
      - name: pause_after_two_ignores # 2 ignored in 30 days → that offer not again for 60 days
        suppress: {response: ignored, count: 2, within: 30d, pause: 60d}

Semantics, at the decision's moment ``t`` over the customer's history
(:mod:`uplift_engine.features.contacts`), counting only contacts before ``t``:

* a **cap** (``max`` in ``window``) counts the ``offer_sent`` contacts with
  ``t − window ≤ ts < t`` — on its ``channel`` when it names one, of its ``offers`` when it lists
  them (across them; each apart with ``per_offer: true``) — and removes its offers (every offer
  when none are listed) once the count has reached ``max``;
* a **suppression** finds ``count`` responses of kind ``response`` (of the same offer unless
  ``per_offer: false``; on its channel, of its offers, when given) within less than ``within``
  of each other; from the last of them, those offers are not made for ``pause``.

A policy that names a channel applies to decisions made in that channel, and to decisions
whose channel is unknown (the row's ``channel``: the request's field in real time, a column of
the table in batch) — a compliance rule errs on the side of not contacting. The exclusion is
recorded as ``contact:<name>``. Invariant: one evaluation, :meth:`ContactPolicies.blocks`, for
one customer, used by the batch plan and the service alike; standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from annotated_types import Ge, MinLen

from uplift_engine.config.records import STRICT
from uplift_engine.errors import ConfigError
from uplift_engine.features.contacts import RESPONSE, SENT, Contact
from uplift_engine.features.definitions import parse_window
from uplift_engine.learn.scores import arm_name
from uplift_engine.vocabulary import CONTACT_CHANNELS, RESPONSES

REASON_KIND = "contact"


def _window(text: str, where: str) -> int:
    try:
        return parse_window(text)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", field=where) from None


@dataclass(frozen=True)
class Suppression:
    """After ``count`` responses of kind ``response`` within ``within``: nothing for ``pause``."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    response: str
    count: Annotated[int, Ge(1)]
    within: str
    pause: str


@dataclass(frozen=True)
class ContactPolicy:
    """One contact policy: a cap (``max`` in ``window``) or a ``suppress`` rule."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    name: Annotated[str, MinLen(1)]
    max: int | None = None
    window: str | None = None
    channel: str | None = None
    offers: list[str] | None = None
    per_offer: bool | None = None
    suppress: Suppression | None = None

    def __post_init__(self) -> None:
        if self.offers is not None:
            object.__setattr__(self, "offers", [arm_name(v) for v in self.offers])

    def check(self, where: str) -> None:
        """Refuse contradictory or impossible settings, naming the field."""
        cap = self.max is not None or self.window is not None
        if cap == (self.suppress is not None):
            raise ConfigError(
                f"{where} ({self.name!r}) needs either max and window (a cap) or suppress, "
                "not both and not neither",
                field=where,
            )
        if cap:
            if self.max is None or self.window is None:
                missing = "max" if self.max is None else "window"
                raise ConfigError(
                    f"{where}.{missing} is missing: a cap is at most max offers in a window",
                    field=f"{where}.{missing}",
                )
            if isinstance(self.max, bool) or self.max < 1:
                raise ConfigError(
                    f"{where}.max must be a whole number ≥ 1, got {self.max!r} (to never "
                    "make an offer, use an eligibility rule)",
                    field=f"{where}.max",
                )
            _window(self.window, f"{where}.window")
        if self.suppress is not None:
            s = self.suppress
            if s.response not in RESPONSES:
                raise ConfigError(
                    f"{where}.suppress.response must be one of {', '.join(RESPONSES)}, got "
                    f"{s.response!r}",
                    field=f"{where}.suppress.response",
                )
            if isinstance(s.count, bool) or s.count < 1:
                raise ConfigError(
                    f"{where}.suppress.count must be a whole number ≥ 1, got {s.count!r}",
                    field=f"{where}.suppress.count",
                )
            _window(s.within, f"{where}.suppress.within")
            _window(s.pause, f"{where}.suppress.pause")
        if self.channel is not None and self.channel not in CONTACT_CHANNELS:
            raise ConfigError(
                f"{where}.channel must be one of {', '.join(CONTACT_CHANNELS)}, got "
                f"{self.channel!r}",
                field=f"{where}.channel",
            )
        if self.offers is not None and not self.offers:
            raise ConfigError(
                f"{where}.offers is empty: leave it out to cover every offer",
                field=f"{where}.offers",
            )

    @property
    def look_back_us(self) -> int:
        """How far back in the history the policy reads."""
        if self.suppress is not None:
            s = self.suppress
            return parse_window(s.within) + parse_window(s.pause)
        return parse_window(str(self.window))


class ContactPolicies:
    """The policy file's contact policies, checked and ready to evaluate."""

    def __init__(self, policies: Sequence[ContactPolicy]) -> None:
        for i, p in enumerate(policies):
            p.check(f"contact_policies[{i}]")
        self.policies = tuple(policies)
        self.reasons = tuple(f"{REASON_KIND}:{p.name}" for p in policies)
        self._compiled = [_compile(p) for p in policies]

    def __bool__(self) -> bool:
        return bool(self.policies)

    @property
    def horizon_us(self) -> int:
        """The longest look back of any policy: how long a contact must be kept."""
        return max((p.look_back_us for p in self.policies), default=0)

    def blocks(
        self,
        offers: Sequence[str],
        history: Sequence[Contact],
        channel: object,
        at_us: int,
    ) -> list[list[bool]]:
        """Per policy, per offer: whether the policy removes the offer for this customer now.

        ``history`` is the customer's contacts (any order; those at or after ``at_us`` are not
        read), ``channel`` the decision's channel (None: unknown).
        """
        past = [c for c in history if c.ts < at_us]
        out = []
        for compiled in self._compiled:
            out.append(compiled.blocks(offers, past, channel, at_us))
        return out


@dataclass(frozen=True)
class _Compiled:
    policy: ContactPolicy
    window_us: int
    within_us: int
    pause_us: int

    def blocks(
        self, offers: Sequence[str], past: list[Contact], channel: object, at_us: int
    ) -> list[bool]:
        p = self.policy
        if p.channel is not None and channel is not None and channel != p.channel:
            return [False] * len(offers)
        listed = p.offers
        covered = [listed is None or o in listed for o in offers]
        if p.suppress is None:
            start = at_us - self.window_us
            sent = [
                c.offer
                for c in past
                if c.type == SENT
                and c.ts >= start
                and (p.channel is None or c.channel == p.channel)
                and (listed is None or c.offer in listed)
            ]
            if p.per_offer:
                cap = int(p.max or 0)
                return [
                    cov and sent.count(o) >= cap for o, cov in zip(offers, covered, strict=True)
                ]
            full = len(sent) >= int(p.max or 0)
            return [cov and full for cov in covered]
        s = p.suppress
        times: dict[str | None, list[int]] = {}
        per_offer = p.per_offer is not False
        for c in past:  # history is in time order
            if (
                c.type == RESPONSE
                and c.response == s.response
                and (p.channel is None or c.channel == p.channel)
                and (listed is None or c.offer in listed)
            ):
                times.setdefault(c.offer if per_offer else None, []).append(c.ts)
        paused = {key for key, ts in times.items() if self._paused(sorted(ts), s.count, at_us)}
        if per_offer:
            return [cov and o in paused for o, cov in zip(offers, covered, strict=True)]
        return [cov and None in paused for cov in covered]

    def _paused(self, times: list[int], count: int, at_us: int) -> bool:
        for i in range(count - 1, len(times)):
            close = times[i] - times[i - count + 1] < self.within_us
            if close and at_us < times[i] + self.pause_us:
                return True
        return False


def _compile(p: ContactPolicy) -> _Compiled:
    if p.suppress is None:
        return _Compiled(p, parse_window(str(p.window)), 0, 0)
    return _Compiled(p, 0, parse_window(p.suppress.within), parse_window(p.suppress.pause))
