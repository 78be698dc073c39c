"""Real-time pacing in the decision core: paced prices, then a hold on the shared ledger.

For each decision the core asks :meth:`Pacer.paced` for the prices (computed by the
:class:`~uplift_engine.decide.pacing.PacingController` from the ledger's counters, read at most
once per ``refresh`` of decision time — one round trip shared by many decisions), lets the
decider rank the offers with them, and :meth:`Pacer.hold` tries the ranked offers in turn until
the ledger accepts one: the hold is atomic in the store, so the hard caps hold however many
services and Lambdas decide at once. Holds expire as the decisions go (:meth:`Pacer.sweep`, at
most once per ``sweep`` of decision time), so no background task is needed on Lambda;
:meth:`Pacer.redeem` keeps the hold of an offer the customer accepted. A store that fails to
hold is a refused hold (no offer is made that the budget cannot be shown to cover), reported
through ``on_store_error``. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from uplift_engine.decide import Assessment, Decider, Decision
from uplift_engine.decide.pacing import (
    BUDGET,
    EXPECTED,
    MICROS,
    Ledger,
    Paced,
    PacingController,
    refused,
)
from uplift_engine.errors import ConfigError, StorageError

HOLD_TAG_SEPARATOR = "\x1f"


class Pacer:
    """Paces one campaign's decisions against its ledger (see the module docstring)."""

    def __init__(
        self,
        decider: Decider,
        ledger: Ledger,
        *,
        refresh_us: int = 500_000,
        sweep_us: int = 10_000_000,
        on_store_error: Callable[[Exception], None] | None = None,
    ) -> None:
        economics = decider.economics
        settings = economics.pacing
        if settings is None:
            raise ConfigError(
                "pacing needs the economics file's pacing section (campaign, start, end)",
                field="pacing",
            )
        self.settings = settings
        self.campaign = settings.campaign
        self.controller = PacingController.of(
            settings, economics, float(decider.budget or 0.0), decider.prices
        )
        self.decider = decider
        self.ledger = ledger
        self.refresh_us = refresh_us
        self.sweep_us = sweep_us
        self.on_store_error = on_store_error
        self._counters: dict[str, int] = {}
        self._read_at: int | None = None
        self._swept_at: int | None = None
        self.last: Paced | None = None

    def paced(self, at_us: int) -> Paced:
        """The prices for a decision at ``at_us`` (counters re-read when they are stale)."""
        if self._swept_at is None or at_us - self._swept_at >= self.sweep_us:
            self.sweep(at_us)
        if self._read_at is None or abs(at_us - self._read_at) >= self.refresh_us:
            try:
                self._counters = self.ledger.counters(self.campaign)
                self._read_at = at_us
            except (StorageError, OSError) as exc:
                self._report(exc)  # the last counters read, or none
        self.last = self.controller.pace(self._counters, at_us)
        return self.last

    def hold(self, assessment: Assessment, key: str, request_id: str, at_us: int) -> Assessment:
        """The assessment with its offer held on the ledger: the first ranked offer that fits.

        Offers refused by a cap record ``pacing:<cap>``; none fitting leaves no offer.
        """
        refusals: dict[str, str] = {}
        chosen = None
        for offer in assessment.ranking:
            figures = next(a for a in assessment.offers if a.offer == offer)
            terms = self.decider.economics.offers[offer]
            worst = terms.contact_cost + (terms.redemption_cost or 0.0)
            if self.decider.kind != "binary":
                worst = figures.cost  # no bound on revenue given back: its expectation
            hold = self.controller.hold(offer, terms.contact_cost, worst, figures.cost)
            try:
                failed = self.ledger.reserve(
                    self.campaign, request_id, f"{key}{HOLD_TAG_SEPARATOR}{offer}", hold.amounts,
                    hold.refundable, self.controller.caps, at_us + self.settings.expiry_us,
                )  # fmt: skip
            except (StorageError, OSError) as exc:
                self._report(exc)
                failed = "store"
            if failed is None:
                chosen = figures
                for counter, amount in hold.amounts.items():  # seen here before the next read
                    self._counters[counter] = self._counters.get(counter, 0) + amount
                break
            refusals[offer] = refused(failed)
        if not refusals and chosen is not None and chosen.offer == assessment.decision.offer:
            return assessment
        offers = tuple(
            replace(a, excluded_by=refusals[a.offer]) if a.offer in refusals else a
            for a in assessment.offers
        )
        if chosen is not None:
            decision = Decision(chosen.offer, chosen.net_value, chosen.cost, "")
        else:
            reasons = [a.excluded_by for a in offers]
            blocked = all(reasons)  # every offer removed: say why, as the guardrails do
            why = ";".join(dict.fromkeys(str(r) for r in reasons)) if blocked else ""
            decision = Decision("", 0.0, 0.0, why)
        refused_by: dict[str, list[str]] = {}
        for offer, reason in refusals.items():
            refused_by.setdefault(reason, []).append(offer)
        rules = assessment.rules + tuple((r, tuple(o)) for r, o in refused_by.items())
        return Assessment(decision, offers, assessment.ranking, rules)

    def state(self, at_us: int) -> dict[str, object]:
        """The pacing state behind a decision, for its log line and its audit."""
        factor = None if self.last is None else self.last.factor
        return {
            "campaign": self.campaign,
            "price_factor": factor,
            "expected_spend": self._counters.get(EXPECTED, 0) / MICROS,
            "committed": self._counters.get(BUDGET, 0) / MICROS,
            "budget": self.controller.budget,
            "target_share": self.settings.share(at_us),
        }

    def redeem(self, key: str, offer: str) -> bool:
        """Keep the hold of ``offer`` made to customer ``key`` (an accepted response)."""
        return self.ledger.settle(self.campaign, None, f"{key}{HOLD_TAG_SEPARATOR}{offer}", True)

    def sweep(self, now_us: int) -> int:
        """Give back the refundable part of every hold expired by ``now_us``."""
        self._swept_at = now_us
        done = 0
        try:
            while True:
                settled = self.ledger.expire(self.campaign, now_us, 1000)
                done += settled
                if settled < 1000:
                    return done
        except (StorageError, OSError) as exc:
            self._report(exc)
            return done

    def _report(self, exc: Exception) -> None:
        if self.on_store_error is not None:
            self.on_store_error(exc)
