"""Tiered prices from CPQ consumption schedules (spec §1.5, F19).

A usage or volume product is priced by a consumption schedule instead of one unit price: CPQ copies the product's
schedule (`ProductConsumptionSchedule` -> `ConsumptionSchedule` -> `ConsumptionRate`) onto each order line as
`SBQQ__OrderItemConsumptionSchedule__c` with its `SBQQ__OrderItemConsumptionRate__c`, where a rep may negotiate it.
The line's schedule wins over the product's; a line without one uses the product's. Exactly one schedule applies:
two active schedules on a product (or two on a line) is an error, not a guess.

A schedule becomes Stripe's `billing_scheme=tiered`: Range -> `tiers_mode=volume` (every unit at the rate of the
range the total falls in), Slab -> `graduated` (each slab at its own rate). Each rate is one tier: its upper bound
is `up_to` (a whole number; blank is `inf`), PerUnit prices the tier's units (`unit_amount_decimal`) and FlatFee
prices the tier once (`flat_amount_decimal`), in exact minor units. Tiers are sorted by bound with the unbounded
one last; Stripe needs exactly one unbounded tier. The schedule's processing order, billing term and term unit are
ignored: the line's billing frequency and term apply. Tiered prices are never prorated (F32).

Every problem is named and addressed to the record to fix (the rate, the schedule, or the line or product that
has two schedules), so a bad tier never reaches Stripe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sf_stripe_pipeline.core.money import format_decimal, minor_units, to_decimal, whole_number
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.violations import Violation

TIERS_MODES = {"Range": "volume", "Slab": "graduated"}
"""CPQ's consumption schedule Type -> Stripe's tiers_mode."""
TIER_AMOUNTS = {"PerUnit": "unit_amount_decimal", "FlatFee": "flat_amount_decimal"}
"""CPQ's rate PricingMethod -> the Stripe tier amount it sets."""
RATING_METHOD = "Tier"
UNBOUNDED = "inf"


@dataclass(frozen=True)
class ScheduleFields:
    """Where a consumption schedule and its rates live: the product's standard objects or the order line's CPQ
    copies name the same things differently."""

    schedule: str
    rate: str
    rate_parent: str
    type: str
    rating_method: str
    upper_bound: str
    pricing_method: str
    price: str


PRODUCT_SCHEDULE = ScheduleFields(
    "ConsumptionSchedule", "ConsumptionRate", "ConsumptionScheduleId",
    "Type", "RatingMethod", "UpperBound", "PricingMethod", "Price",
)  # fmt: skip
LINE_SCHEDULE = ScheduleFields(
    "SBQQ__OrderItemConsumptionSchedule__c", "SBQQ__OrderItemConsumptionRate__c",
    "SBQQ__OrderItemConsumptionSchedule__c", "SBQQ__Type__c", "SBQQ__RatingMethod__c", "SBQQ__UpperBound__c",
    "SBQQ__PricingMethod__c", "SBQQ__Price__c",
)  # fmt: skip
PRODUCT_LINK = "ProductConsumptionSchedule"


@dataclass(frozen=True)
class Tiers:
    """A schedule's tiered price params (`billing_scheme`, `tiers_mode`, `tiers`), or the problems that stop it."""

    params: dict = field(default_factory=dict)
    problems: tuple[Violation, ...] = ()
    source: tuple[str, str] | None = None
    """(sobject, Id) of the schedule the tiers come from."""

    @property
    def key(self) -> tuple:
        """What F17 compares: the mode and every tier's bound and amounts."""
        tiers = self.params.get("tiers", [])
        return (
            self.params.get("tiers_mode"),
            tuple(
                (tier["up_to"], tier.get("unit_amount_decimal"), tier.get("flat_amount_decimal")) for tier in tiers
            ),
        )


def _live(records: list[dict]) -> list[dict]:
    return [record for record in records if not record.get("IsDeleted")]


def line_schedules(org: OrgSnapshot, line: Mapping[str, Any]) -> list[dict]:
    """The order line's own consumption schedules (CPQ's copies, possibly negotiated)."""
    return _live(org.children(LINE_SCHEDULE.schedule, "SBQQ__OrderItem__c", line["Id"]))


def product_schedules(org: OrgSnapshot, product: Mapping[str, Any]) -> list[dict]:
    """The product's active consumption schedules (inactive or deleted ones do not price anything)."""
    schedules = []
    for link in _live(org.children(PRODUCT_LINK, "ProductId", product["Id"])):
        schedule = org.get(PRODUCT_SCHEDULE.schedule, link.get("ConsumptionScheduleId"))
        if schedule is not None and schedule.get("IsActive") and not schedule.get("IsDeleted"):
            schedules.append(schedule)
    return schedules


def tiers_for(
    org: OrgSnapshot,
    owner: tuple[str, str],
    schedules: list[dict],
    fields: ScheduleFields,
    currency: str,
) -> Tiers | None:
    """The tiers of the one schedule in `schedules` (None when there is none); `owner` (sobject, Id) is the line or
    product they belong to, which a second schedule is reported on."""
    if not schedules:
        return None
    if len(schedules) > 1:
        ids = ", ".join(schedule["Id"] for schedule in schedules)
        return Tiers(
            problems=(
                Violation.on(
                    "consumption_schedule_count",
                    *owner,
                    f"has more than one consumption schedule ({ids}); exactly one may price it. Remove or "
                    "deactivate the others.",
                ),
            )
        )
    return _schedule_tiers(org, schedules[0], fields, currency)


def _schedule_tiers(org: OrgSnapshot, schedule: Mapping[str, Any], fields: ScheduleFields, currency: str) -> Tiers:
    problems: list[Violation] = []
    source = (fields.schedule, schedule["Id"])

    def problem(rule: str, sobject: str, sf_id: str, detail: str) -> None:
        problems.append(Violation.on(rule, sobject, sf_id, detail))

    schedule_type = schedule.get(fields.type)
    if schedule_type not in TIERS_MODES:
        problem(
            "consumption_schedule_type",
            *source,
            f"{fields.type} {schedule_type!r} isn't supported: use Range (volume tiers) or Slab (graduated tiers)",
        )
    if schedule.get(fields.rating_method) != RATING_METHOD:
        problem(
            "consumption_rating_method",
            *source,
            f"{fields.rating_method} {schedule.get(fields.rating_method)!r} isn't supported: only Tier schedules "
            "become tiered prices",
        )
    rates = _live(org.children(fields.rate, fields.rate_parent, schedule["Id"]))
    if not rates:
        problem("consumption_rates", *source, "has no consumption rates: a tiered price needs at least one tier")
    bounded: list[tuple[int, dict]] = []
    unbounded: list[dict] = []
    for rate in sorted(rates, key=lambda rate: rate["Id"]):
        tier = _tier(rate, fields, currency, problem)
        if tier is None:
            continue
        if tier["up_to"] == UNBOUNDED:
            unbounded.append(tier)
        else:
            bounded.append((tier["up_to"], tier))
    bounds = [bound for bound, _ in bounded]
    repeated = sorted({bound for bound in bounds if bounds.count(bound) > 1})
    if repeated:
        problem(
            "consumption_tier_bound",
            *source,
            f"several rates end at the same upper bound ({', '.join(map(str, repeated))}); each tier needs its own",
        )
    if len(unbounded) != 1 and rates:
        found = "two or more rates have" if unbounded else "no rate has"
        problem(
            "consumption_unbounded_tier",
            *source,
            f"{found} a blank upper bound: exactly one rate must be unbounded (the last tier, up to infinity)",
        )
    if problems:
        return Tiers(problems=tuple(problems), source=source)
    tiers = [tier for _, tier in sorted(bounded, key=lambda pair: pair[0])] + unbounded
    params = {"billing_scheme": "tiered", "tiers_mode": TIERS_MODES[schedule_type], "tiers": tiers}
    return Tiers(params=params, source=source)


def _tier(rate: Mapping[str, Any], fields: ScheduleFields, currency: str, problem: Any) -> dict | None:
    """One rate as a Stripe tier, or None after reporting what is wrong with it."""
    where = (fields.rate, rate["Id"])
    ok = True
    bound = rate.get(fields.upper_bound)
    up_to: int | str = UNBOUNDED
    if bound is not None:
        whole = whole_number(bound)
        if whole is None or whole <= 0:
            shown = format(bound, "f") if isinstance(bound, Decimal) else repr(bound)
            problem(
                "consumption_tier_bound",
                *where,
                f"{fields.upper_bound} {shown} must be a whole number above 0 (Stripe tiers end at a whole "
                "quantity); use an integer, or leave it blank for the last tier",
            )
            ok = False
        else:
            up_to = whole
    method = rate.get(fields.pricing_method)
    amount_param = TIER_AMOUNTS.get(method)
    if amount_param is None:
        problem(
            "consumption_pricing_method",
            *where,
            f"{fields.pricing_method} {method!r} isn't supported: use PerUnit or FlatFee",
        )
        ok = False
    price = rate.get(fields.price)
    try:
        amount = None if price is None else to_decimal(price)
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        problem("consumption_rate_price", *where, f"{fields.price} {price!r} must be a number")
        return None
    if amount < 0:
        problem("negative_amount", *where, f"negative {fields.price} {amount:f}; Stripe tiers cannot be negative")
        return None
    if not ok or amount_param is None:
        return None
    return {"up_to": up_to, amount_param: format_decimal(minor_units(amount, currency))}
