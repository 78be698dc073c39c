"""Deciding one customer: the request corridor, from the online store to the offer.

    online store (one round trip) → request-time features → bundle (every arm's expected
    outcome, each offer's effect and its interval) → guardrails, economics, the plan's prices
    (:class:`~uplift_engine.decide.Decider`) → DESIGN.md's Decision

Invariant: this module and everything it imports run in the decision-only environment
(docs/architecture.md): the standard library, NumPy and LightGBM (SciPy beneath it), the online
store's client, boto3 for an S3 bundle — never pandas, PyArrow, pydantic, DuckDB, HiGHS, numba,
scikit-learn or the simulator, none of which that environment installs. A test builds the
environment and decides customers in it; the HTTP app, the Lambda handlers and batch decisions
are thin adapters over :class:`DecisionCore`, so all of them give one answer.

A feature the model reads that is not among the online features (a model trained on a table of
customer attributes, like the bank's sample) is taken from the request by name, else from the
customer's attributes in the store (``segment``, ``age`` …, materialised beside the features),
else missing. The rules read the attributes too, so a rule sees the values batch planning saw.

Contact policies read the customer's contact history from the same round trip (field
``_w:contacts``), as of the decision's moment. A core that records contacts (the service's and
the Lambda's; not batch decisions) adds each offer it makes to the history as an
``offer_sent`` whose id is the request id, in the request's channel, before the answer leaves —
and a customer asked about twice in one gathered batch sees the first offer in the second
decision. A store that fails to record is reported (``on_store_error``), not fatal: the
decision log keeps the offer. Such a live core also paces when the economics say so
(:mod:`.pacing`): the offers are ranked at the paced prices and the first that the campaign's
ledger can hold is made, so no hard cap is passed however many cores decide at once.

A store that fails (down, timed out) does not fail the decision: the customer is decided from
the request alone (its fields and any feature values it gives, the rest at their defaults) and
the decision says ``degraded``; so does a store that answers after the time budget
(``budget_ms``), as a bank's decisioning hub falls back when its time budget is breached.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from uplift_engine.decide import Assessment
from uplift_engine.decide.guardrails import reason_parts
from uplift_engine.errors import StorageError
from uplift_engine.features import FeatureReader
from uplift_engine.features.contacts import (
    CONTACTS_FIELD,
    SENT,
    Contact,
    ContactRecorder,
    decode_contacts,
)
from uplift_engine.features.online import customer_key
from uplift_engine.features.online.reader import DEFAULT, STORE
from uplift_engine.features.streaming.schema import now_us
from uplift_engine.learn import pred_column, uplift_column
from uplift_engine.serve.pacing import Pacer
from uplift_engine.serve.release import Served
from uplift_engine.vocabulary import CONTACT_CHANNELS

DECISION_SCHEMA_VERSION = "uplift.decision/1"
FeatureValue = int | float | str | None


@dataclass(frozen=True)
class CustomerDecision:
    """One customer's decision, the scores behind it and where its features came from."""

    request_id: str
    customer_id: int | str
    at_us: int
    offer: str | None
    scores: dict[str, float]
    """``pred_<arm>``, ``uplift_<offer>`` and, when the model bounds its effects,
    ``uplift_<offer>_lower`` / ``_upper`` — the scores contract's columns for this customer."""
    assessment: Assessment | None
    """Every offer's net value and exclusion; None when no economics decide the offers."""
    features: dict[str, FeatureValue]
    features_sha256: str
    """SHA-256 (16 hex) of the model's input row: the encoded features, as float64 bytes."""
    features_from: dict[str, str]
    degraded: bool
    model_version: str
    plan_version: str | None
    pricing: str
    offers: tuple[str, ...] = field(default=())
    pacing: dict[str, Any] | None = None
    """Real-time pacing's state when it priced this decision: the campaign, the budget
    price's factor over the plan's, the expected spend so far and the target curve's share."""
    assignment: str | None = None
    """Who decided, when a challenger is in play: ``champion`` or ``challenger``."""
    shadow: dict[str, Any] | None = None
    """The challenger's decision for the same request, not acted on (shadow mode)."""

    def to_dict(self) -> dict[str, Any]:
        """DESIGN.md's Decision: what the HTTP service, the Lambda and batch decisions return."""
        return self._body

    @cached_property
    def _body(self) -> dict[str, Any]:
        per_offer: dict[str, dict[str, Any]] = {}
        assessed = {} if self.assessment is None else {a.offer: a for a in self.assessment.offers}
        for offer in self.offers:
            a = assessed.get(offer)
            per_offer[offer] = {
                "uplift": _json_number(self.scores[uplift_column(offer)]),
                "lower": _json_number(self.scores.get(uplift_column(offer, "lower"))),
                "upper": _json_number(self.scores.get(uplift_column(offer, "upper"))),
                "net_value": None if a is None else _json_number(a.net_value),
                "excluded_by": None if a is None else exclusion(a.excluded_by),
            }
        return {
            "request_id": self.request_id,
            "customer_id": self.customer_id,
            "offer": self.offer,
            "offers": per_offer,
            "model": {"version": self.model_version},
            "plan": {"version": self.plan_version, "pricing": self.pricing},
            "features_from": self.features_from,
            "degraded": self.degraded,
        }

    def log_record(self) -> dict[str, Any]:
        """The decision log's line (DESIGN.md's Decision log) for this decision."""
        body = self.to_dict()
        return {
            "schema_version": DECISION_SCHEMA_VERSION,
            "request_id": self.request_id,
            "at_us": self.at_us,
            "customer_id": self.customer_id,
            "model_version": self.model_version,
            "plan_version": self.plan_version,
            "features_sha256": self.features_sha256,
            "offer": self.offer,
            "offers": body["offers"],
            "degraded": self.degraded,
            "rules": None if self.assessment is None else [
                {"kind": kind, "name": name, "removed": list(removed)}
                for kind, name, removed in (
                    (*reason_parts(reason), removed) for reason, removed in self.assessment.rules
                )
            ],
            "pacing": self.pacing,
            **({} if self.assignment is None else {"assignment": self.assignment}),
            **({} if self.shadow is None else {"shadow": self.shadow}),
        }


def exclusion(reason: str | None) -> dict[str, str] | None:
    """A guardrail's reason as the Decision's ``{kind, name}``.

    ``eligibility:active`` → eligibility, active; ``harm`` → guardrail, harm.
    """
    if reason is None:
        return None
    kind, name = reason_parts(reason)
    return {"kind": kind, "name": name}


class Ask(NamedTuple):
    """One customer to decide: the id, the request's own fields, the feature values it gives."""

    customer_id: int | str
    request: Mapping[str, object]
    given: Mapping[str, FeatureValue] | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Batch:
    """Customers read and encoded, waiting for the model (:meth:`DecisionCore.prepare`)."""

    asks: list[Ask]
    at_us: int
    degraded: bool
    values: list[tuple[dict[str, FeatureValue], dict[str, str], dict[str, object], str | None]]
    """Per customer: the features, where each came from, the attributes the store keeps and
    the contact history's text."""
    matrix: np.ndarray


class DecisionCore:
    """A served model, the online features and its decider: one customer at a time."""

    def __init__(
        self,
        served: Served,
        reader: FeatureReader,
        *,
        clock: Callable[[], int] = now_us,
        on_store_error: Callable[[Exception], None] | None = None,
        budget_ms: float | None = None,
        record_contacts: bool = False,
    ) -> None:
        bundle = served.bundle
        self.budget_s = None if budget_ms is None else budget_ms / 1000
        self.served = served
        self.bundle = bundle
        self.reader = reader
        self.decider = served.decider
        self.clock = clock
        self.on_store_error = on_store_error
        self.features = tuple(bundle.encoder.names)
        self.request_only = tuple(n for n in self.features if n not in reader.names)
        """Features the online store does not keep (a model trained on a table of customer
        attributes): taken from the request by name, missing when it does not give them."""
        self._arms = bundle.arms
        self._offers = tuple(bundle.offers)
        self._intervals = bundle.intervals is not None
        policy = None if self.decider is None else self.decider.policy
        self.contact_policies = None if policy is None or not policy.contacts else policy.contacts
        self.recorder = (
            ContactRecorder(reader.store, self.contact_policies.horizon_us)
            if record_contacts and self.contact_policies is not None
            else None
        )
        """Records the offers made as contacts (None: this core does not, or nothing reads them)."""
        economics = None if self.decider is None else self.decider.economics
        self.pacer = (
            Pacer(self.decider, reader.store, on_store_error=on_store_error)  # type: ignore[arg-type]
            if record_contacts and economics is not None and economics.pacing is not None
            else None
        )
        """Paces the offers against the campaign's ledger (a live core whose economics pace)."""

    def decide(
        self,
        customer_id: int | str,
        request: Mapping[str, object] | None = None,
        *,
        given: Mapping[str, FeatureValue] | None = None,
        at_us: int | None = None,
        request_id: str | None = None,
    ) -> CustomerDecision:
        """Read, score and decide one customer.

        ``request``: the request's own fields (what request-time features and rules read);
        ``given``: feature values sent by name, which replace the store's.
        """
        return self.decide_many([Ask(customer_id, request or {}, given, request_id)], at_us)[0]

    def decide_many(self, asks: Sequence[Ask], at_us: int | None = None) -> list[CustomerDecision]:
        """Decide several customers at once: one store round trip, one model call per booster.

        Each customer's decision is the one :meth:`decide` gives alone (a row's prediction
        does not depend on the rows beside it); the HTTP service gathers concurrent requests
        into one call, so that the model's fixed cost per call is shared. The three steps —
        :meth:`prepare` (store, features), :meth:`predict` (the model, which releases the GIL)
        and :meth:`finish` (guardrails, prices, the decisions) — may be run apart, the model's
        on another thread.
        """
        batch = self.prepare(asks, at_us)
        return self.finish(batch, self.predict(batch))

    def prepare(self, asks: Sequence[Ask], at_us: int | None = None) -> Batch:
        """Read the customers' features (one store round trip) and encode the model's rows."""
        keys = [customer_key(a.customer_id) for a in asks]
        at = self.clock() if at_us is None else at_us
        degraded = False
        started = time.perf_counter()
        try:
            rows = (
                self.reader.store.get_many(keys)
                if len(keys) > 1
                else [self.reader.store.get(keys[0])]
            )
            late = self.budget_s is not None and time.perf_counter() - started > self.budget_s
            if late:
                raise TimeoutError(f"the store answered after the {self.budget_s}s time budget")
        except (StorageError, OSError, TimeoutError) as exc:  # decide without the store
            rows, degraded = [{} for _ in keys], True
            if self.on_store_error is not None:
                self.on_store_error(exc)
        values = []
        for ask, fields in zip(asks, rows, strict=True):
            features, sources = self.reader.values(fields, at, ask.request, ask.given)
            attributes = self.reader.attributes(fields)
            for name in self.request_only:
                if name in features:  # given by the request
                    continue
                if name in attributes:
                    features[name], sources[name] = attributes[name], STORE  # type: ignore[assignment]
                else:
                    features[name], sources[name] = None, DEFAULT
            values.append((features, sources, attributes, fields.get(CONTACTS_FIELD)))
        matrix = self.bundle.encoder.transform_rows([v[0] for v in values])
        return Batch(list(asks), at, degraded, values, matrix)

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Every arm's level for each row, and each offer's bounds when the model has them."""
        graph = self.bundle.graph
        if self._intervals:
            return graph.predict_levels_and_interval(batch.matrix)
        return graph.predict_levels(batch.matrix), None, None

    def finish(
        self,
        batch: Batch,
        predicted: tuple[np.ndarray, np.ndarray | None, np.ndarray | None],
    ) -> list[CustomerDecision]:
        """Guardrails, economics and prices on the model's figures: the decisions."""
        levels, lower, upper = predicted
        out = []
        made: dict[str, list[Contact]] = {}  # offers made in this batch, by customer key
        for i, (ask, (features, sources, attributes, history)) in enumerate(
            zip(batch.asks, batch.values, strict=True)
        ):
            scores = self._scores(
                levels[i],
                None if lower is None else lower[i : i + 1],
                None if upper is None else upper[i : i + 1],
            )
            assessment = None
            offer = None
            if self.decider is not None:
                row: dict[str, Any] = {**attributes, **features, **ask.request, **scores}
                row[self.decider.id_column] = ask.customer_id
                contacts: tuple[Contact, ...] | list[Contact] = ()
                if self.contact_policies is not None:
                    contacts = decode_contacts(history)
                    earlier = made.get(customer_key(ask.customer_id))
                    if earlier:
                        contacts = [*contacts, *earlier]
                paced = None if self.pacer is None else self.pacer.paced(batch.at_us)
                assessment = self.decider.assess(row, contacts, batch.at_us, paced)
            request_id = ask.request_id or os.urandom(16).hex()  # 128 random bits, as uuid4
            pacing = None
            if self.pacer is not None and assessment is not None:
                if assessment.ranking:
                    key = customer_key(ask.customer_id)
                    assessment = self.pacer.hold(assessment, key, request_id, batch.at_us)
                pacing = self.pacer.state(batch.at_us)
            if assessment is not None:
                offer = assessment.decision.offer or None
            if offer is not None and self.recorder is not None:
                channel = ask.request.get("channel")
                sent = Contact(batch.at_us, SENT, request_id, offer,
                               channel if channel in CONTACT_CHANNELS else None, None)  # fmt: skip
                made.setdefault(customer_key(ask.customer_id), []).append(sent)
            out.append(
                CustomerDecision(
                    request_id=request_id,
                    customer_id=ask.customer_id,
                    at_us=batch.at_us,
                    offer=offer,
                    scores=scores,
                    assessment=assessment,
                    features={n: features[n] for n in self.features},
                    features_sha256=hashlib.sha256(batch.matrix[i].tobytes()).hexdigest()[:16],
                    features_from={n: sources[n] for n in self.features},
                    degraded=batch.degraded,
                    model_version=self.served.model_version,
                    plan_version=self.served.plan_version,
                    pricing=self.served.pricing,
                    offers=self._offers,
                    pacing=pacing,
                )
            )
        if made and self.recorder is not None:
            self._record(self.recorder, made)
        return out

    def _record(self, recorder: ContactRecorder, made: dict[str, list[Contact]]) -> None:
        """Add the offers made to the contact histories (a failing store is reported)."""
        try:
            recorder.record([(key, c) for key, cs in made.items() for c in cs])
        except (StorageError, OSError) as exc:
            if self.on_store_error is not None:
                self.on_store_error(exc)

    def _scores(
        self, levels: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None
    ) -> dict[str, float]:
        out = {pred_column(arm): float(levels[a]) for a, arm in enumerate(self._arms)}
        for k, offer in enumerate(self._offers):
            out[uplift_column(offer)] = float(levels[k + 1] - levels[0])
            if lower is not None and upper is not None:
                out[uplift_column(offer, "lower")] = _finite(lower[0, k])
                out[uplift_column(offer, "upper")] = _finite(upper[0, k])
        return out


def _finite(value: float) -> float:
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value
