"""The policy file: do-not-contact list, protected customers, eligibility rules, contact caps.

Example (YAML or JSON)::

    dnc: lake/dnc.csv                     # ids never to contact (also --dnc)
    protected: 'segment == "priority" or is_vip'
    eligibility:
      - name: adults_only
        when: "age >= 18"
        offers: [cashback]                # optional; every offer when left out
    contact_caps:
      - column: contacts_30d              # contacts in the customer's recent window
        max: 3                            # customers already at 3 or more get nothing

Invariant: every rule is compiled when the policy is loaded, so a syntax error surfaces before
any data is read, and each rule carries a name that the errors and the plan's ``excluded_by``
use (``rule:<name>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from uplift_engine.config import Settings
from uplift_engine.decide.expressions import Rule, compile_rule
from uplift_engine.decide.files import load_mapping, validation_message
from uplift_engine.errors import ConfigError
from uplift_engine.learn.scores import arm_name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _names(value: Any) -> Any:
    return [arm_name(v) for v in value] if isinstance(value, list) else value


class EligibilityRule(_Strict):
    """Customers may get ``offers`` (all when None) only where ``when`` holds."""

    name: str = Field(min_length=1)
    when: str
    offers: list[str] | None = None

    _offer_names = field_validator("offers", mode="before")(_names)


class ContactCap(_Strict):
    """Customers whose ``column`` (recent contacts) is already ≥ ``max`` get no offer."""

    column: str
    max: float = Field(ge=0)
    offers: list[str] | None = None

    _offer_names = field_validator("offers", mode="before")(_names)


class Policy(_Strict):
    """A policy file, validated."""

    dnc: str | None = None
    protected: str | None = None
    eligibility: list[EligibilityRule] = Field(default_factory=list)
    contact_caps: list[ContactCap] = Field(default_factory=list)

    @field_validator("eligibility", mode="before")
    @classmethod
    def _mapping_form(cls, value: Any) -> Any:
        """Accept ``{name: "rule"}`` or ``{name: {when, offers}}`` as well as a list."""
        if isinstance(value, dict):
            return [
                {"name": str(k), "when": v} if isinstance(v, str) else {"name": str(k), **v}
                for k, v in value.items()
            ]
        return value

    def compiled(self) -> CompiledPolicy:
        """The policy with its rules parsed."""
        names = [r.name for r in self.eligibility]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"policy: eligibility rule name {dupes[0]!r} is used twice")
        protected = (
            compile_rule(self.protected, "policy rule 'protected'") if self.protected else None
        )
        rules = tuple(
            (r, compile_rule(r.when, f"policy rule {r.name!r} (eligibility[{i}])"))
            for i, r in enumerate(self.eligibility)
        )
        return CompiledPolicy(self, protected, rules)


class CompiledPolicy:
    """A policy whose rules are parsed and ready to evaluate."""

    def __init__(
        self,
        policy: Policy,
        protected: Rule | None,
        eligibility: tuple[tuple[EligibilityRule, Rule], ...],
    ) -> None:
        self.policy = policy
        self.protected = protected
        self.eligibility = eligibility

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
        for _, rule in self.eligibility:
            for c in rule.columns:
                needed.setdefault(c, rule.name)
        for i, cap in enumerate(self.contact_caps):
            needed.setdefault(cap.column, f"policy contact_caps[{i}]")
        return needed

    def check_offers(self, offers: list[str]) -> None:
        """Fail when a rule or cap names an offer that the economics do not have."""
        named = [(r.name, r.offers) for r, _ in self.eligibility]
        named += [(f"contact_caps[{i}]", c.offers) for i, c in enumerate(self.contact_caps)]
        for where, listed in named:
            unknown = [o for o in listed or [] if o not in offers]
            if unknown:
                raise ConfigError(
                    f"policy {where}: offer {unknown[0]!r} is not in the economics; offers are "
                    f"{', '.join(map(repr, offers))}",
                    field="policy",
                )


def load_policy(
    source: str | Path | dict[str, Any], settings: Settings | None = None
) -> CompiledPolicy:
    """Read and compile a policy file (YAML or JSON, local or s3://) or a mapping."""
    where = "policy" if isinstance(source, dict) else f"policy file {str(source)!r}"
    data = source if isinstance(source, dict) else load_mapping(source, settings, where)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(where, exc), field="policy") from exc
    return policy.compiled()
