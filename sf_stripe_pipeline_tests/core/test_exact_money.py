"""Exact money (issue 7 item 3): Salesforce amounts stay Decimal to the Stripe parameter, per-period amounts and
prorations are exact (F18, F28, F32), equal amounts reuse the price book's price (F17), coupons are whole minor
units or a named problem (F44), and currencies follow Stripe's minor units (F20)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.desired import DesiredObject
from sf_stripe_pipeline.core.money import (
    format_decimal,
    fraction_of,
    minor_unit_factor,
    minor_units,
    plain_decimal,
    to_decimal,
    whole_minor_units,
)
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, assess_one, config


def _prices(assessment: ContractAssessment) -> dict[str, DesiredObject]:
    return {o.key: o for o in assessment.objects if o.stripe_object == "price"}


def _schedule(assessment: ContractAssessment) -> DesiredObject:
    return next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")


# -- money.py ---------------------------------------------------------------------------------------------------


def test_the_issue_examples_are_exact() -> None:
    """A 20-month term billed every 6 months at 600.00 a period: the float code gave 59999.999999999997 and a
    proration of 19999.999999999999."""
    per_period = fraction_of(minor_units(Decimal("2000"), "usd"), 6, 20)
    assert format_decimal(per_period) == "60000"
    assert format_decimal(fraction_of(per_period, 2, 6)) == "20000"
    assert format_decimal(fraction_of(minor_units(Decimal("1000"), "usd"), 3, 10)) == "30000"  # was 29999.999999999999
    assert format_decimal(fraction_of(minor_units(Decimal("1100"), "usd"), 3, 11)) == "30000"  # was 30000.000000000001


def test_a_quotient_that_does_not_terminate_is_rounded_once_half_up_at_twelve_places() -> None:
    assert format_decimal(fraction_of(Decimal(10000), 1, 7)) == "1428.571428571429"
    assert format_decimal(fraction_of(Decimal(20000), 1, 3)) == "6666.666666666667"
    assert format_decimal(Decimal("0.0000000000005")) == "0.000000000001"  # half-up, not half-even
    assert format_decimal(Decimal("-0.0000000000001")) == "0"
    assert format_decimal(Decimal("800.000")) == "800"
    # 18-digit Salesforce amounts in a three-decimal currency keep every digit
    assert format_decimal(minor_units(Decimal("999999999999999.999"), "kwd")) == "999999999999999999"


def test_minor_units_follow_stripe_currencies() -> None:
    factors = [minor_unit_factor(code) for code in ("usd", "JPY", "ugx", "kwd", "BHD", "eur")]
    assert factors == [100, 1, 1, 1000, 1000, 100]
    assert whole_minor_units(Decimal("10.005"), "usd") is None  # never truncated to 1000
    assert whole_minor_units(Decimal("0.009"), "usd") is None  # never amount_off=0
    assert whole_minor_units(Decimal("10.005"), "kwd") == 10005
    assert whole_minor_units(Decimal("1500"), "ugx") == 1500


def test_numbers_become_plain_decimals() -> None:
    assert str(plain_decimal(Decimal("1000.000000000000000000"))) == "1000"  # DuckDB DECIMAL(38,18) -> 1000
    assert str(plain_decimal(Decimal("2.50"))) == "2.5"
    assert to_decimal(12.5) == Decimal("12.5")  # a YAML field default: its text, not its binary value
    with pytest.raises(TypeError):
        to_decimal(True)


def test_the_snapshot_types_numbers_by_the_catalogue() -> None:
    org = OrgSnapshot.from_rest(
        {
            "OrderItem": [{"Id": "802A", "Quantity": 3.0, "UnitPrice": 0.1, "SBQQ__SegmentIndex__c": 2}],
            "ConsumptionRate": [{"Id": "x", "LowerBound": 10.0, "Price": "4.99"}],
        }
    )
    line = org.get("OrderItem", "802A")
    assert line["Quantity"] == Decimal(3) and isinstance(line["Quantity"], Decimal)
    assert line["UnitPrice"] == Decimal("0.1")  # the JSON text, not 0.1000000000000000055511151231257827
    rate = org.get("ConsumptionRate", "x")
    assert rate["LowerBound"] == 10 and isinstance(rate["LowerBound"], int)  # an int field stays an int
    assert rate["Price"] == Decimal("4.99")


# -- prices (F17, F18, F28, F32) --------------------------------------------------------------------------------


def _term_order(term: int, frequency: str, entry_price: str, unit_price: str, quantity: int = 2) -> OrgBuilder:
    builder = OrgBuilder()
    entry = builder.entry(builder.product(SBQQ__BillingFrequency__c=frequency), Decimal(entry_price))
    quote = {"SBQQ__StartDate__c": "2025-04-01", "SBQQ__SubscriptionTerm__c": term}
    order = builder.order(builder.account(), quote=quote)
    builder.line(order, entry, quantity=quantity, unit_price=Decimal(unit_price), SBQQ__SubscriptionTerm__c=term)
    return builder


@pytest.mark.parametrize(
    ("term", "frequency", "entry_price", "unit_price", "leftover_amount"),
    [
        (20, "Semiannual", "600", "2000", "20000"),  # issue 7's example
        (10, "Quarterly", "300", "1000", "10000"),  # the 10-month quarterly term
        (26, "Annual", "1234.56", "2674.88", "20576"),  # 2 years and 2 months at 1,234.56 a year
    ],
)
def test_a_whole_term_price_equal_to_the_price_book_per_period_reuses_its_price(
    term: int, frequency: str, entry_price: str, unit_price: str, leftover_amount: str
) -> None:
    """F17/F18: UnitPrice / (term / frequency) equals the PBE, so the PBE's price is reused, never a per-line copy;
    the months past the last whole period are billed once at the exact fraction (F28)."""
    builder = _term_order(term, frequency, entry_price, unit_price)
    assessment = assess_one(builder)
    assert assessment.violations == []
    prices = _prices(assessment)
    entry_id = builder.org["PricebookEntry"][0]["Id"]
    line_id = builder.org["OrderItem"][0]["Id"]
    assert set(prices) == {entry_id, f"{line_id}-backend-proration"}
    assert prices[entry_id].params["unit_amount_decimal"] == format_decimal(minor_units(Decimal(entry_price), "usd"))
    assert prices[f"{line_id}-backend-proration"].params["unit_amount_decimal"] == leftover_amount


def test_an_amendment_line_over_eleven_months_bills_its_proration_exactly() -> None:
    """An 11-month quarterly amendment line of 1,100: 30000 a quarter (not 30000.000000000001) and an F32
    proration of 2 months = 20000 (not 20000.000000000001)."""
    builder = OrgBuilder()
    entry = builder.entry(builder.product(SBQQ__BillingFrequency__c="Quarterly"), 300)
    account = builder.account()
    initial = builder.order(account, quote={"SBQQ__StartDate__c": "2025-04-01", "SBQQ__SubscriptionTerm__c": 12})
    builder.line(initial, entry, quantity=1, unit_price=1200)
    builder.contract_of(initial)
    amendment = builder.order(account, amends=initial,
                              quote={"SBQQ__StartDate__c": "2025-05-01", "SBQQ__SubscriptionTerm__c": 11})  # fmt: skip
    line = builder.line(amendment, entry, quantity=3, unit_price=1100, SBQQ__SubscriptionTerm__c=11)
    assessment = assess_one(builder)
    assert assessment.violations == []
    prices = _prices(assessment)
    assert prices[line["Id"]].params["unit_amount_decimal"] == "30000"  # a copy of the PBE's price (F21)
    assert prices[line["Id"]].params["metadata"]["salesforce_duplicate"] == "true"
    assert prices[f"{line['Id']}-proration"].params["unit_amount_decimal"] == "20000"
    (_, phase) = _schedule(assessment).params["phases"]
    (proration,) = phase["add_invoice_items"]
    assert proration["quantity"] == 3


def test_a_non_terminating_per_period_amount_has_twelve_places_and_its_own_price() -> None:
    builder = _term_order(7, "Monthly", "14.29", "100", quantity=1)
    assessment = assess_one(builder)
    line_id = builder.org["OrderItem"][0]["Id"]
    assert _prices(assessment)[line_id].params["unit_amount_decimal"] == "1428.571428571429"


def test_zero_decimal_and_three_decimal_currencies() -> None:
    builder = OrgBuilder()
    for currency, price in (("UGX", "45000"), ("KWD", "12.345"), ("JPY", "1000")):
        entry = builder.entry(builder.product(Name=currency), Decimal(price), CurrencyIsoCode=currency)
        # One account per currency: a Stripe customer bills in one currency at a time (spec 1.5).
        order = builder.order(builder.account(Name=f"{currency} Corp"), CurrencyIsoCode=currency)
        builder.line(order, entry, unit_price=Decimal(price) * 12, CurrencyIsoCode=currency)
    org = builder.snapshot()
    assessments = assess_contracts(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL)
    amounts = {
        o.params["currency"]: o.params["unit_amount_decimal"]
        for a in assessments.values()
        for o in a.objects
        if o.stripe_object == "price"
    }
    assert amounts == {"ugx": "45000", "jpy": "1000"}
    # The emulated (US) Stripe account does not present in KWD: a named rule, not a price in the wrong unit.
    rules = {(v.rule, v.sf_object) for a in assessments.values() for v in a.violations}
    assert ("currency_supported", "PricebookEntry") in rules


# -- coupons (F44) ---------------------------------------------------------------------------------------------


def _coupon_order(**coupon: Any) -> tuple[OrgBuilder, dict]:
    builder = OrgBuilder()
    entry = builder.entry(builder.product(), 10)
    order = builder.order(builder.account())
    builder.line(order, entry)
    quote_coupon = builder._add("Quote_Stripe_Coupon__c", "a1c", {"Name__c": "Deal", "Duration__c": "once", **coupon})
    builder._add("Quote_Stripe_Coupon_Association__c", "a1d",
                 {"Quote__c": order["SBQQ__Quote__c"], "Quote_Stripe_Coupon__c": quote_coupon["Id"]})  # fmt: skip
    return builder, quote_coupon


@pytest.mark.parametrize("amount", ["10.005", "0.009"])
def test_a_coupon_amount_with_a_fraction_of_a_cent_is_a_named_problem_never_truncated(amount: str) -> None:
    builder, quote_coupon = _coupon_order(Amount_Off__c=Decimal(amount))
    assessment = assess_one(builder)
    (violation,) = assessment.violations
    assert violation.rule == "coupon_amount_precision" and violation.sf_id == quote_coupon["Id"]
    assert amount in violation.message and "whole minor units" in violation.message


def test_coupon_amounts_and_percentages_are_exact() -> None:
    builder, _ = _coupon_order(Amount_Off__c=Decimal("50.01"), Duration__c="repeating", Duration_In_Months__c=3)
    (coupon,) = [o for o in assess_one(builder).objects if o.stripe_object == "coupon"]
    assert coupon.params["amount_off"] == 5001 and coupon.params["currency"] == "usd"
    assert coupon.params["duration_in_months"] == 3
    builder, _ = _coupon_order(Percent_Off__c=Decimal("12.50"))
    (coupon,) = [o for o in assess_one(builder).objects if o.stripe_object == "coupon"]
    assert coupon.params["percent_off"] == "12.5" and "currency" not in coupon.params
    builder, _ = _coupon_order(Amount_Off__c=Decimal(0))
    assert [v.rule for v in assess_one(builder).violations] == ["coupon_terms"]


def test_a_coupon_in_a_zero_decimal_currency() -> None:
    builder, _ = _coupon_order(Amount_Off__c=Decimal(500), CurrencyIsoCode="JPY")
    (coupon,) = [o for o in assess_one(builder).objects if o.stripe_object == "coupon"]
    assert (coupon.params["amount_off"], coupon.params["currency"]) == (500, "jpy")


def test_the_schemas_check_decimal_columns_as_numbers() -> None:
    from sf_stripe_pipeline.core.schemas import records_frame, schema_failures

    base = {"OrderId": "801A", "Product2Id": "01tA", "PricebookEntryId": "01uA"}
    lines = [
        {"Id": "802A", **base, "Quantity": Decimal("2"), "UnitPrice": Decimal("1234567890.123456789")},
        {"Id": "802B", **base, "Quantity": Decimal("1"), "UnitPrice": Decimal("10"),
         "SBQQ__ProrateMultiplier__c": Decimal("-1")},  # fmt: skip
        {"Id": "802C", **base, "Quantity": Decimal("1"), "UnitPrice": "ten"},
    ]
    failures = schema_failures("OrderItem", records_frame("OrderItem", lines))
    assert sorted(zip(failures["Id"], failures["column"], failures["check"], strict=True)) == [
        ("802B", "SBQQ__ProrateMultiplier__c", "greater_than_or_equal_to(0)"),
        ("802C", "UnitPrice", "coerce_dtype('float64')"),
    ]
