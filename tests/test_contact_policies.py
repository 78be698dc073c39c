"""Contact policies over the contact history: exact windows, one evaluation in batch and live."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from uplift_engine.decide import Decider
from uplift_engine.decide.guardrails import row_blocks
from uplift_engine.decide.planning import load_economics, load_policy, plan_campaign
from uplift_engine.decide.planning.synthetic import synthetic_campaign
from uplift_engine.errors import ConfigError
from uplift_engine.features.contacts import Contact, decode_contacts, parse_contact
from uplift_engine.features.streaming import EventError

DAY = 86_400_000_000
T = 1_790_000_000_000_000  # the decisions' moment
OFFERS = ["cashback", "fee_waiver"]
ECONOMICS = {
    "control": "none",
    "offers": {
        "cashback": {"contact_cost": 1.0, "redemption_cost": 20.0},
        "fee_waiver": {"contact_cost": 0.5, "redemption_cost": 5.0},
    },
}
POLICIES = [
    {"name": "one_sms_a_week", "channel": "sms", "max": 1, "window": "7d"},
    {"name": "cashback_twice_a_month", "offers": ["cashback"], "max": 2, "window": "30d"},
    {"name": "pause_after_two_ignores",
     "suppress": {"response": "ignored", "count": 2, "within": "30d", "pause": "60d"}},
]  # fmt: skip


def sent(ts: int, offer: str = "cashback", channel: str | None = "sms", i: int = 0) -> Contact:
    return Contact(ts, "offer_sent", f"s{ts}-{i}", offer, channel, None)


def answered(ts: int, offer: str = "cashback", response: str = "ignored") -> Contact:
    return Contact(ts, "offer_response", f"r{ts}", offer, None, response)


def blocks(history, channel=None, at=T, policies=POLICIES):
    policy = load_policy({"contact_policies": policies})
    found = row_blocks(OFFERS, {"customer_id": 1, "channel": channel}, policy,
                       contacts=history, at_us=at)  # fmt: skip
    return found


def test_a_cap_counts_the_half_open_window_and_its_channel() -> None:
    cap = POLICIES[:1]
    # a sending exactly 7 days back is in [t − 7d, t); one a microsecond older is not
    assert blocks([sent(T - 7 * DAY)], policies=cap) == ["contact:one_sms_a_week"] * 2
    assert blocks([sent(T - 7 * DAY - 1)], policies=cap) == [None, None]
    # a sending at the decision's moment or later is not history yet
    assert blocks([sent(T), sent(T + DAY)], policies=cap) == [None, None]
    # an e-mail does not count against the SMS cap ...
    assert blocks([sent(T - DAY, channel="email")], policies=cap) == [None, None]
    # ... and the SMS cap does not hold an app decision back, but does an unknown channel's
    assert blocks([sent(T - DAY)], channel="app", policies=cap) == [None, None]
    assert blocks([sent(T - DAY)], channel="sms", policies=cap) == ["contact:one_sms_a_week"] * 2
    assert blocks([sent(T - DAY)], channel=None, policies=cap) == ["contact:one_sms_a_week"] * 2


def test_an_offer_cap_holds_back_only_its_offer_and_per_offer_counts_apart() -> None:
    cap = POLICIES[1:2]
    two = [sent(T - 20 * DAY), sent(T - DAY, "cashback", "app")]
    assert blocks(two, policies=cap) == ["contact:cashback_twice_a_month", None]
    assert blocks(two[:1], policies=cap) == [None, None]
    each = [{"name": "once_each", "max": 1, "window": "30d", "per_offer": True}]
    assert blocks([sent(T - DAY, "fee_waiver")], policies=each) == [None, "contact:once_each"]
    across = [{"name": "once_in_all", "max": 1, "window": "30d"}]
    assert blocks([sent(T - DAY, "fee_waiver")], policies=across) == ["contact:once_in_all"] * 2


def test_two_ignores_within_30_days_pause_that_offer_for_60() -> None:
    pause = POLICIES[2:]
    first, second = T - 50 * DAY, T - 30 * DAY  # 20 days apart: the pause runs from `second`
    assert blocks([answered(first), answered(second)], policies=pause) == [
        "contact:pause_after_two_ignores", None
    ]  # the other offer goes on (suppression is per offer unless per_offer: false)
    # the pause ends 60 days after the second ignore
    assert blocks([answered(first), answered(second)], at=second + 60 * DAY, policies=pause) == [
        None, None
    ]  # fmt: skip
    assert blocks([answered(first), answered(second)], at=second + 60 * DAY - 1,
                  policies=pause)[0] == "contact:pause_after_two_ignores"  # fmt: skip
    # 30 days apart is not "within 30 days"; declined is not ignored; one ignore is not two
    assert blocks([answered(T - 40 * DAY), answered(T - 10 * DAY)], policies=pause) == [None] * 2
    assert blocks([answered(first), answered(second, response="declined")],
                  policies=pause) == [None] * 2  # fmt: skip
    assert blocks([answered(second)], policies=pause) == [None] * 2
    # ignores of two offers do not add up per offer, but do across offers
    mixed = [answered(first), answered(second, "fee_waiver")]
    assert blocks(mixed, policies=pause) == [None, None]
    across = [{**pause[0], "per_offer": False}]
    assert blocks(mixed, policies=across) == ["contact:pause_after_two_ignores"] * 2


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"name": "x", "max": 1, "window": "0d"}, "contact_policies[0].window"),
        ({"name": "x", "max": 0, "window": "7d"}, "contact_policies[0].max"),
        ({"name": "x", "window": "7d"}, "contact_policies[0].max"),
        ({"name": "x", "max": 1}, "contact_policies[0].window"),
        ({"name": "x"}, "contact_policies[0]"),
        ({"name": "x", "max": 1, "window": "7d", "suppress": {
            "response": "ignored", "count": 2, "within": "30d", "pause": "60d"}},
         "contact_policies[0]"),
        ({"name": "x", "suppress": {"response": "ignored", "count": 0, "within": "30d",
                                    "pause": "60d"}}, "count"),
        ({"name": "x", "suppress": {"response": "maybe", "count": 2, "within": "30d",
                                    "pause": "60d"}}, "contact_policies[0].suppress.response"),
        ({"name": "x", "suppress": {"response": "ignored", "count": 2, "within": "30d",
                                    "pause": "0s"}}, "contact_policies[0].suppress.pause"),
        ({"name": "x", "channel": "fax", "max": 1, "window": "7d"}, "contact_policies[0].channel"),
        ({"name": "x", "offers": [], "max": 1, "window": "7d"}, "contact_policies[0].offers"),
    ],
)  # fmt: skip
def test_contradictory_settings_are_refused_naming_the_field(entry: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_policy({"contact_policies": [entry]})
    assert field in (info.value.field or "") + info.value.message


def test_a_name_is_one_rule_and_an_unknown_offer_is_refused() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        load_policy({"eligibility": [{"name": "x", "when": "age > 1"}],
                     "contact_policies": [{"name": "x", "max": 1, "window": "7d"}]})  # fmt: skip
    camp = synthetic_campaign(200, seed=1)
    bad = load_policy({"contact_policies": [{"name": "y", "offers": ["loan"], "max": 1,
                                             "window": "7d"}]})  # fmt: skip
    with pytest.raises(ConfigError, match="loan"):
        plan_campaign(camp.scores, camp.meta, load_economics(ECONOMICS), budget=100.0,
                      value_col="clv", customers=camp.customers, policy=bad, contacts={},
                      at_us=T)  # fmt: skip
    good = load_policy({"contact_policies": POLICIES})
    with pytest.raises(ConfigError, match="contact history"):  # no history given at all
        plan_campaign(camp.scores, camp.meta, load_economics(ECONOMICS), budget=100.0,
                      value_col="clv", customers=camp.customers, policy=good)  # fmt: skip


def _histories(ids: list[int], seed: int) -> dict[str, list[Contact]]:
    """Random histories for two thirds of the customers: sendings and responses, 90 days."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[Contact]] = {}
    for customer in ids:
        if rng.random() < 1 / 3:
            continue
        history = []
        for j in range(int(rng.integers(1, 6))):
            ts = T - int(rng.integers(0, 90 * DAY))
            offer = str(rng.choice(OFFERS))
            if rng.random() < 0.5:
                channel = str(rng.choice(["sms", "email", "app"]))
                history.append(Contact(ts, "offer_sent", f"{customer}-{j}", offer, channel, None))
            else:
                response = str(rng.choice(["ignored", "ignored", "declined", "accepted"]))
                history.append(Contact(ts, "offer_response", f"{customer}-{j}", offer, None,
                                       response))  # fmt: skip
        out[str(customer)] = sorted(history)
    return out


def test_batch_and_real_time_give_the_same_exclusions_and_offers() -> None:
    camp = synthetic_campaign(4_000, seed=5)
    ids = camp.scores.column("customer_id").to_pylist()
    rng = np.random.default_rng(2)
    channel = pa.array(rng.choice(["sms", "email", "app", None], size=len(ids)).tolist())
    customers = camp.customers.append_column("channel", channel)
    history = _histories(ids, seed=3)
    policy = load_policy({"contact_policies": POLICIES})
    plan = plan_campaign(camp.scores, camp.meta, load_economics(ECONOMICS), budget=3_000.0,
                         value_col="clv", customers=customers, policy=policy, contacts=history,
                         at_us=T, seed=1)  # fmt: skip
    excluded = plan.meta["guardrails"]["options_blocked"]
    for reason in ("contact:one_sms_a_week", "contact:cashback_twice_a_month",
                   "contact:pause_after_two_ignores"):  # fmt: skip
        assert excluded[reason] > 20, excluded  # each policy removes options
    decider = Decider.from_plan_meta(plan.meta)
    rows = camp.scores.join(customers, "customer_id").sort_by("customer_id").to_pylist()
    by_id = {r["customer_id"]: r for r in rows}
    t = plan.table
    agree = 0
    first = plan.prepared.guarded.first
    reasons = plan.prepared.guarded.reasons
    for i, (customer, offer, why, held) in enumerate(zip(
        t.column("customer_id").to_pylist(), t.column("offer").to_pylist(),
        t.column("excluded_by").to_pylist(), t.column("holdout").to_pylist(), strict=True,
    )):  # fmt: skip
        contacts = history.get(str(customer), [])
        d = decider.assess(by_id[customer], contacts, T)
        assert d.decision.excluded_by == why, customer
        assert [a.excluded_by for a in d.offers] == [
            None if f < 0 else reasons[f] for f in first[:, i]
        ], customer
        if not held:
            agree += d.decision.offer == offer
    assert agree / sum(not h for h in t.column("holdout").to_pylist()) > 0.995
    assert plan.meta["contacts_as_of"].startswith("2026-09-21")


def test_contact_events_are_validated_naming_the_field() -> None:
    key, contact = parse_contact(
        {"event_id": "e1", "customer_id": "0042", "type": "offer_response",
         "ts": "2026-12-01T09:00:00+07:00", "offer": "cashback", "response": "ignored"}
    )  # fmt: skip
    assert key == "42" and contact.response == "ignored" and contact.channel is None
    assert contact.ts == 1_796_090_400_000_000  # 2026-12-01T02:00:00Z
    base = {"event_id": "e1", "customer_id": 7, "type": "offer_sent",
            "ts": "2026-12-01T09:00:00Z", "offer": "cashback"}  # fmt: skip
    for change, field in [
        ({"type": "offer_seen"}, "type"),
        ({"offer": None}, "offer"),
        ({"channel": "fax"}, "channel"),
        ({"response": "ignored"}, "response"),
        ({"type": "offer_response"}, "response"),
        ({"ts": "2026-12-01T09:00:00"}, "ts"),
        ({"customer_id": -3}, "customer_id"),
        ({"customer_id": "_reserved"}, "customer_id"),
    ]:
        with pytest.raises(EventError) as info:
            parse_contact({**base, **change})
        assert info.value.field == field, change
    # a store's window text reads back in time order
    text = f"[{T},[{sent(T).row()},{sent(T - DAY).row()}]]"
    assert [c.ts for c in decode_contacts(text)] == [T - DAY, T]
