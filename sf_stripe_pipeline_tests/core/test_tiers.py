"""F19: tiered prices from consumption schedules, the line's own schedule winning over its product's, and every
error the spec names (decimal bound, two unbounded tiers, several schedules, unsupported type or pricing method) as
a rule on the record to fix."""

from __future__ import annotations

from typing import Any

import pytest

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.plan import build_plan
from sf_stripe_pipeline.core.preflight import refusals
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config

Rate = tuple[Any, str, Any]
"""(UpperBound or None, PricingMethod, Price)."""


class _TieredOrg:
    """One new order of a metered API-call product (monthly, Arrears), optionally with consumption schedules."""

    def __init__(self, *, billing_type: str = "Arrears") -> None:
        self.builder = OrgBuilder()
        self.product = self.builder.product(Name="API Calls", SBQQ__BillingType__c=billing_type)
        self.entry = self.builder.entry(self.product, 0)
        order = self.builder.order(self.builder.account())
        self.line = self.builder.line(order, self.entry, quantity=1, unit_price=0)

    def product_schedule(self, schedule_type: str, rates: list[Rate], **fields: Any) -> dict:
        schedule = self.builder._add(
            "ConsumptionSchedule", "0sc", {"Type": schedule_type, "RatingMethod": "Tier", "IsActive": True, **fields}
        )
        self.builder._add(
            "ProductConsumptionSchedule", "0sp", {"ProductId": self.product["Id"], "ConsumptionScheduleId": schedule["Id"]}
        )
        for number, (bound, method, price) in enumerate(rates, start=1):
            self.builder._add(
                "ConsumptionRate",
                "0sr",
                {"ConsumptionScheduleId": schedule["Id"], "ProcessingOrder": number, "UpperBound": bound,
                 "PricingMethod": method, "Price": price},
            )  # fmt: skip
        return schedule

    def line_schedule(self, schedule_type: str, rates: list[Rate], **fields: Any) -> dict:
        schedule = self.builder._add(
            "SBQQ__OrderItemConsumptionSchedule__c",
            "a0w",
            {"SBQQ__OrderItem__c": self.line["Id"], "SBQQ__Type__c": schedule_type, "SBQQ__RatingMethod__c": "Tier",
             **fields},
        )  # fmt: skip
        for bound, method, price in rates:
            self.builder._add(
                "SBQQ__OrderItemConsumptionRate__c",
                "a0x",
                {"SBQQ__OrderItemConsumptionSchedule__c": schedule["Id"], "SBQQ__UpperBound__c": bound,
                 "SBQQ__PricingMethod__c": method, "SBQQ__Price__c": price},
            )  # fmt: skip
        return schedule

    def assess(self, **overrides: Any) -> ContractAssessment:
        org = self.builder.snapshot()
        (assessment,) = assess_contracts(
            build_contracts(org), org, config(**overrides), today=TODAY, instance_url=INSTANCE_URL
        ).values()
        return assessment


def _prices(assessment: ContractAssessment) -> dict[str, dict]:
    return {obj.key: obj.params for obj in assessment.objects if obj.stripe_object == "price"}


SPEC_EXAMPLE: list[Rate] = [(None, "FlatFee", 40), (10, "PerUnit", 5)]
"""F19's example, rates out of order: 0-10 at $5 a unit, then a flat $40 above 10."""


def test_the_spec_example_becomes_a_graduated_metered_price_on_the_price_book_entry() -> None:
    org = _TieredOrg()
    org.product_schedule("Slab", SPEC_EXAMPLE)
    org.line_schedule("Slab", SPEC_EXAMPLE)  # CPQ's copy on the line, unchanged: the price book's price is used
    assessment = org.assess()
    assert assessment.violations == []
    price = _prices(assessment)[org.entry["Id"]]
    assert price["billing_scheme"] == "tiered" and price["tiers_mode"] == "graduated"
    assert price["tiers"] == [{"up_to": 10, "unit_amount_decimal": "500"}, {"up_to": "inf", "flat_amount_decimal": "4000"}]
    assert price["recurring"]["usage_type"] == "metered" and "unit_amount_decimal" not in price
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    (item,) = schedule.params["phases"][0]["items"]
    assert item["price"] == {"$ref": f"price:{org.entry['Id']}"} and "quantity" not in item
    assert refusals("price", "create", price) == []


def test_a_range_schedule_is_volume_priced_and_a_product_without_a_line_copy_prices_the_line() -> None:
    org = _TieredOrg(billing_type="Advance")
    org.product_schedule("Range", [(100, "PerUnit", "1.25"), (None, "PerUnit", "0.995")])
    assessment = org.assess()
    assert assessment.violations == []
    price = _prices(assessment)[org.entry["Id"]]
    assert price["tiers_mode"] == "volume" and price["recurring"]["usage_type"] == "licensed"
    assert price["tiers"] == [{"up_to": 100, "unit_amount_decimal": "125"}, {"up_to": "inf", "unit_amount_decimal": "99.5"}]


def test_a_negotiated_line_schedule_wins_and_gets_its_own_price() -> None:
    org = _TieredOrg()
    org.product_schedule("Slab", SPEC_EXAMPLE)
    org.line_schedule("Slab", [(10, "PerUnit", "4.5"), (None, "FlatFee", 40)])
    assessment = org.assess()
    assert assessment.violations == []
    prices = _prices(assessment)
    assert org.entry["Id"] not in prices
    own = prices[org.line["Id"]]
    assert own["tiers"][0] == {"up_to": 10, "unit_amount_decimal": "450"}
    assert own["metadata"]["salesforce_auto_archive"] == "true"


def test_inactive_and_deleted_product_schedules_are_ignored() -> None:
    org = _TieredOrg()
    org.product_schedule("Slab", [(None, "PerUnit", 9)], IsActive=False)
    org.product_schedule("Slab", SPEC_EXAMPLE)
    assert org.assess().violations == []


@pytest.mark.parametrize(
    ("schedule", "rule", "on"),
    [
        (("line", "Slab", [(10.5, "PerUnit", 5), (None, "FlatFee", 40)]), "consumption_tier_bound", "rate"),
        (("line", "Slab", [(10, "PerUnit", 5), (None, "FlatFee", 40), (None, "PerUnit", 1)]),
         "consumption_unbounded_tier", "schedule"),
        (("line", "Slab", [(10, "PerUnit", 5), (20, "FlatFee", 40)]), "consumption_unbounded_tier", "schedule"),
        (("line", "Slab", [(10, "Percent", 5), (None, "FlatFee", 40)]), "consumption_pricing_method", "rate"),
        (("line", "Block", [(None, "PerUnit", 5)]), "consumption_schedule_type", "schedule"),
        (("line", "Slab", [(10, "PerUnit", 5), (10, "PerUnit", 4), (None, "PerUnit", 3)]),
         "consumption_tier_bound", "schedule"),
        (("line", "Slab", []), "consumption_rates", "schedule"),
    ],
)  # fmt: skip
def test_schedule_errors_are_named_on_the_record_to_fix(schedule: tuple, rule: str, on: str) -> None:
    org = _TieredOrg()
    _, schedule_type, rates = schedule
    created = org.line_schedule(schedule_type, rates)
    assessment = org.assess()
    found = [v for v in assessment.violations if v.rule == rule]
    assert found, assessment.violations
    assert assessment.objects == []  # nothing of the contract reaches Stripe
    if on == "schedule":
        assert found[0].sf_id == created["Id"]
    else:
        rate_ids = {r["Id"] for r in org.builder.org["SBQQ__OrderItemConsumptionRate__c"]}
        assert found[0].sf_id in rate_ids


def test_a_rating_method_other_than_tier_is_refused() -> None:
    org = _TieredOrg()
    created = org.line_schedule("Slab", SPEC_EXAMPLE, SBQQ__RatingMethod__c="Attribute")
    (violation,) = org.assess().violations
    assert (violation.rule, violation.sf_id) == ("consumption_rating_method", created["Id"])


def test_two_active_schedules_on_the_product_or_the_line_are_an_error_on_it() -> None:
    org = _TieredOrg()
    org.product_schedule("Slab", SPEC_EXAMPLE)
    org.product_schedule("Range", SPEC_EXAMPLE)
    (violation,) = org.assess().violations
    assert (violation.rule, violation.sf_id) == ("consumption_schedule_count", org.product["Id"])

    org = _TieredOrg()
    org.line_schedule("Slab", SPEC_EXAMPLE)
    org.line_schedule("Slab", SPEC_EXAMPLE)
    (violation,) = org.assess().violations
    assert (violation.rule, violation.sf_id) == ("consumption_schedule_count", org.line["Id"])


def test_a_one_time_product_cannot_be_tiered() -> None:
    org = _TieredOrg()
    org.builder.org["OrderItem"][0]["SBQQ__SubscriptionPricing__c"] = None
    org.builder.org["OrderItem"][0]["SBQQ__BillingType__c"] = None
    org.line_schedule("Slab", SPEC_EXAMPLE)
    assert "tiered_price_recurring" in {v.rule for v in org.assess().violations}


def test_tiered_lines_get_no_proration_on_an_off_cycle_amendment() -> None:
    """F32: only licensed, non-tiered lines are prorated; a tiered line added mid-quarter bills by its tiers."""
    builder = OrgBuilder()
    seat = builder.entry(builder.product(SBQQ__BillingFrequency__c="Quarterly"), 300)
    usage_product = builder.product(Name="Usage", SBQQ__BillingFrequency__c="Quarterly", SBQQ__BillingType__c="Advance")
    usage = builder.entry(usage_product, 0)
    initial = builder.order(builder.account(), quote={"SBQQ__StartDate__c": "2025-01-01"})
    builder.line(initial, seat, quantity=2, unit_price=1200)
    amendment = builder.order(
        builder.account(), amends=initial, quote={"SBQQ__StartDate__c": "2025-02-01", "SBQQ__SubscriptionTerm__c": 11}
    )
    amendment["AccountId"] = initial["AccountId"]
    line = builder.line(amendment, usage, quantity=5, unit_price=0, SBQQ__BillingFrequency__c="Quarterly")
    schedule = builder._add("ConsumptionSchedule", "0sc", {"Type": "Range", "RatingMethod": "Tier", "IsActive": True})
    builder._add("ProductConsumptionSchedule", "0sp", {"ProductId": usage_product["Id"], "ConsumptionScheduleId": schedule["Id"]})
    builder._add("ConsumptionRate", "0sr", {"ConsumptionScheduleId": schedule["Id"], "PricingMethod": "PerUnit", "Price": 7})
    org = builder.snapshot()
    (assessment,) = assess_contracts(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL).values()
    assert assessment.violations == []
    schedule_params = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule").params
    assert "add_invoice_items" not in schedule_params["phases"][1]
    assert {item["price"]["$ref"] for item in schedule_params["phases"][1]["items"]} >= {f"price:{usage['Id']}"}
    assert line["Id"]


def test_a_linked_tiered_price_is_reused_while_its_tiers_match_and_replaced_when_they_change() -> None:
    org = _TieredOrg()
    org.product_schedule("Slab", SPEC_EXAMPLE)
    (price,) = [o for o in org.assess().objects if o.stripe_object == "price"]
    stripe_price = {
        "id": "price_1", "object": "price", "active": True, "product": "prod_1", "currency": "usd",
        "billing_scheme": "tiered", "tiers_mode": "graduated", "unit_amount_decimal": None, "tax_behavior": None,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered"},
        "metadata": price.params["metadata"],
        "tiers": [
            {"up_to": 10, "unit_amount": 500, "unit_amount_decimal": "500.000000000000", "flat_amount": None,
             "flat_amount_decimal": None},
            {"up_to": None, "unit_amount": None, "unit_amount_decimal": None, "flat_amount": 4000,
             "flat_amount_decimal": "4000"},
        ],
    }  # fmt: skip
    actual = {price.address: stripe_price, "product:" + org.product["Id"]: {"id": "prod_1", "object": "product"}}
    product = next(o for o in org.assess().objects if o.stripe_object == "product")
    desired = [product, price]
    operations = build_plan(desired, actual).operations
    assert [op.operation for op in operations if op.stripe_object == "price"] == []

    changed = dict(stripe_price, tiers=[dict(stripe_price["tiers"][0], unit_amount_decimal="450"), stripe_price["tiers"][1]])
    operations = build_plan(desired, {**actual, price.address: changed}).operations
    assert [op.operation for op in operations if op.stripe_object == "price"] == ["create", "archive"]

    unexpanded = {key: value for key, value in stripe_price.items() if key != "tiers"}  # read without expand[]=tiers
    operations = build_plan(desired, {**actual, price.address: unexpanded}).operations
    assert [op.operation for op in operations if op.stripe_object == "price"] == []


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({"tiers_mode": "volume", "tiers": [{"up_to": "inf", "unit_amount_decimal": "1"}]}, None),
        ({"tiers_mode": "stepped", "tiers": [{"up_to": "inf", "unit_amount_decimal": "1"}]}, "price_tiers"),
        ({"tiers_mode": "volume", "tiers": [{"up_to": 5, "unit_amount_decimal": "1"}]}, "price_tiers"),
        ({"tiers_mode": "volume", "tiers": [{"up_to": "inf", "unit_amount_decimal": "1"},
                                            {"up_to": "inf", "flat_amount_decimal": "1"}]}, "price_tiers"),
        ({"tiers_mode": "volume", "tiers": [{"up_to": 5, "unit_amount_decimal": "1"},
                                            {"up_to": 5, "unit_amount_decimal": "1"},
                                            {"up_to": "inf", "unit_amount_decimal": "1"}]}, "price_tiers"),
        ({"tiers_mode": "volume", "tiers": [{"up_to": "inf"}]}, "price_tiers"),
        ({"tiers_mode": "volume", "tiers": [{"up_to": "inf", "flat_amount_decimal": "0.0000000000001"}]},
         "decimal_amount"),
        ({"tiers_mode": "volume", "tiers": []}, "price_tiers"),
    ],
)  # fmt: skip
def test_preflight_holds_stripes_tier_rules(params: dict, rule: str | None) -> None:
    base = {"product": "prod_1", "currency": "usd", "billing_scheme": "tiered", "recurring": {"interval": "month"}}
    found = refusals("price", "create", {**base, **params})
    assert [refusal.rule for refusal in found][:1] == ([rule] if rule else [])
    assert refusals("price", "create", {**base, **params, "recurring": None})[0].rule == "price_tiers"
