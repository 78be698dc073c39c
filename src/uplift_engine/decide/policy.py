"""The policy file: do-not-contact list, protected customers, engagement rules, contact caps.

Example (YAML or JSON)::

    dnc: lake/dnc.csv                     # ids never to contact (also --dnc)
    protected: 'segment == "priority" or is_vip'
    eligibility:                          # may the customer have the offer at all
      - name: adults_only
        when: "age >= 18"
        offers: [cashback]                # optional; every offer when left out
    applicability:                        # is it relevant now (not already owned …)
      - name: no_second_card
        when: "not has_credit_card"
        offers: [card_upgrade]
    suitability:                          # is it in the customer's interest
      - name: no_credit_in_arrears
        when: "days_in_arrears == 0"
        offers: [card_upgrade]
    contact_policies:                     # read the contact history: see .contact_policy
      - name: one_sms_a_week
        channel: sms
        max: 1
        window: 7d
      - name: pause_after_two_ignores
        suppress: {response: ignored, count: 2, within: 30d, pause: 60d}
    contact_caps:
      - column: contacts_30d              # contacts in the customer's recent window
        max: 3                            # customers already at 3 or more get nothing
    universal_holdout:                    # no campaign's offer: see .universal_holdout
      share: 0.05
      salt: programme-2026

The three rule kinds are those of the banks' decisioning hubs (Pega's engagement policy): the
same ``{name, when, offers}`` rules, told apart because conduct and compliance review them
apart — suitability decisions above all. Invariant: every rule is compiled when the policy is
loaded, so a syntax error surfaces before any data is read, and each rule carries a name,
unique across the kinds and the contact policies, that the errors and the plan's
``excluded_by`` use with its kind (``eligibility:<name>``, ``applicability:<name>``,
``suitability:<name>``, ``contact:<name>``). The policy is a
record (:mod:`uplift_engine.config.records`): declared once here, validated from a file by
:func:`uplift_engine.decide.planning.load_policy`, rebuilt from a plan's metadata on the
request corridor (standard library).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from annotated_types import Ge, MinLen

from uplift_engine.config.records import STRICT
from uplift_engine.decide.contact_policy import ContactPolicies, ContactPolicy
from uplift_engine.decide.rules import Rule, compile_rule
from uplift_engine.decide.universal_holdout import UniversalHoldout
from uplift_engine.errors import ConfigError
from uplift_engine.learn.scores import arm_name

RULE_KINDS = ("eligibility", "applicability", "suitability")
"""The engagement rules' kinds, in the order they are applied (after the do-no-harm guardrails)."""


def _names(offers: list[str] | None) -> list[str] | None:
    return None if offers is None else [arm_name(v) for v in offers]


@dataclass(frozen=True)
class EligibilityRule:
    """Customers may get ``offers`` (all when None) only where ``when`` holds."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    name: Annotated[str, MinLen(1)]
    when: str
    offers: list[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "offers", _names(self.offers))


@dataclass(frozen=True)
class ContactCap:
    """Customers whose ``column`` (recent contacts) is already ≥ ``max`` get no offer."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    column: str
    max: Annotated[float, Ge(0)]
    offers: list[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "offers", _names(self.offers))


@dataclass(frozen=True)
class Policy:
    """A policy file, validated."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    dnc: str | None = None
    protected: str | None = None
    eligibility: list[EligibilityRule] = field(default_factory=list)
    contact_caps: list[ContactCap] = field(default_factory=list)
    applicability: list[EligibilityRule] = field(default_factory=list)
    suitability: list[EligibilityRule] = field(default_factory=list)
    universal_holdout: UniversalHoldout | None = None
    contact_policies: list[ContactPolicy] = field(default_factory=list)

    def compiled(self) -> CompiledPolicy:
        """The policy with its rules parsed."""
        seen: dict[str, str] = {}
        for kind in RULE_KINDS:
            for i, r in enumerate(getattr(self, kind)):
                if r.name in seen:
                    raise ConfigError(
                        f"policy: rule name {r.name!r} is used twice ({seen[r.name]} and "
                        f"{kind}[{i}]); a name says which rule removed an offer",
                        field=f"{kind}[{i}].name",
                    )
                seen[r.name] = f"{kind}[{i}]"
        for i, c in enumerate(self.contact_policies):
            if c.name in seen:
                raise ConfigError(
                    f"policy: rule name {c.name!r} is used twice ({seen[c.name]} and "
                    f"contact_policies[{i}]); a name says which rule removed an offer",
                    field=f"contact_policies[{i}].name",
                )
            seen[c.name] = f"contact_policies[{i}]"
        contacts = ContactPolicies(self.contact_policies)
        protected = (
            compile_rule(self.protected, "policy rule 'protected'") if self.protected else None
        )
        rules = tuple(
            (kind, r, compile_rule(r.when, f"policy rule {r.name!r} ({kind}[{i}])"))
            for kind in RULE_KINDS
            for i, r in enumerate(getattr(self, kind))
        )
        return CompiledPolicy(self, protected, rules, contacts)


class CompiledPolicy:
    """A policy whose rules are parsed and ready to evaluate."""

    def __init__(
        self,
        policy: Policy,
        protected: Rule | None,
        rules: tuple[tuple[str, EligibilityRule, Rule], ...],
        contacts: ContactPolicies | None = None,
    ) -> None:
        self.policy = policy
        self.protected = protected
        self.rules = rules
        """(kind, rule as declared, compiled rule), kinds in :data:`RULE_KINDS` order."""
        self.contacts = contacts or ContactPolicies(())
        """The contact policies, read from the customer's contact history."""

    @property
    def universal(self) -> UniversalHoldout | None:
        """The universal holdout, while it runs (None before the policy has one or after)."""
        held = self.policy.universal_holdout
        return held if held is not None and held.active() else None

    @property
    def contact_caps(self) -> list[ContactCap]:
        """The contact-frequency caps."""
        return self.policy.contact_caps

    def columns(self) -> dict[str, str]:
        """Every column the policy reads, with what reads it (for missing-column errors)."""
        needed: dict[str, str] = {}
        if self.protected:
            for c in self.protected.columns:
                needed.setdefault(c, self.protected.name)
        for _, _, rule in self.rules:
            for c in rule.columns:
                needed.setdefault(c, rule.name)
        for i, cap in enumerate(self.contact_caps):
            needed.setdefault(cap.column, f"policy contact_caps[{i}]")
        return needed

    def check_offers(self, offers: list[str]) -> None:
        """Fail when a rule or cap names an offer that the economics do not have."""
        named = [(r.name, r.offers) for _, r, _ in self.rules]
        named += [(f"contact_caps[{i}]", c.offers) for i, c in enumerate(self.contact_caps)]
        named += [(c.name, c.offers) for c in self.contacts.policies]
        for where, listed in named:
            unknown = [o for o in listed or [] if o not in offers]
            if unknown:
                raise ConfigError(
                    f"policy {where}: offer {unknown[0]!r} is not in the economics; offers are "
                    f"{', '.join(map(repr, offers))}",
                    field="policy",
                )


def rule_entries(value: Any) -> Any:
    """``{name: "rule"}`` or ``{name: {when, offers}}`` as the list of entries it stands for."""
    if isinstance(value, dict):
        return [
            {"name": str(k), "when": v} if isinstance(v, str) else {"name": str(k), **v}
            for k, v in value.items()
        ]
    return value
