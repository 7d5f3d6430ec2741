"""F32 with CPQ's "Monthly + Daily" prorate precision (`prorate_precision: month_and_day`): a mid-month amendment's
price and its proration count the partial month day by day (12/365 of a month a day), exactly, where Month
precision counts it as a whole month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sf_stripe_pipeline.core.amendments import next_billing_date, span_months
from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.money import format_decimal, midnight_timestamp
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config

MONTH_AND_DAY = {"prorate_precision": "month_and_day", "non_anniversary_amendments": True}


def _amended(start: str, *, unit_price: float, multiplier: float, term: int = 10, **overrides: Any) -> tuple[
    ContractAssessment, dict
]:
    """A 12-month quarterly contract from 2025-01-01 (2 seats at 150 a quarter); an amendment from `start` to the
    end adds 4 analytics seats (300 a quarter) at CPQ's `unit_price` for the rest of the term."""
    builder = OrgBuilder()
    seat = builder.entry(builder.product(SBQQ__BillingFrequency__c="Quarterly"), 150)
    analytics = builder.entry(builder.product(Name="Analytics", SBQQ__BillingFrequency__c="Quarterly"), 300)
    account = builder.account()
    initial = builder.order(account, quote={"SBQQ__StartDate__c": "2025-01-01"})
    builder.line(initial, seat, quantity=2, unit_price=600, SBQQ__ProrateMultiplier__c=4)
    quote = {"SBQQ__StartDate__c": start, "SBQQ__SubscriptionTerm__c": term, "SBQQ__EndDate__c": "2025-12-31"}
    amendment = builder.order(account, amends=initial, quote=quote)
    line = builder.line(
        amendment, analytics, quantity=4, unit_price=unit_price, SBQQ__SubscriptionTerm__c=term,
        SBQQ__ProrateMultiplier__c=multiplier,
    )  # fmt: skip
    org = builder.snapshot()
    (assessment,) = assess_contracts(
        build_contracts(org), org, config(**overrides), today=TODAY, instance_url=INSTANCE_URL
    ).values()
    return assessment, line


def _prices(assessment: ContractAssessment) -> dict[str, dict]:
    return {o.key: o.params for o in assessment.objects if o.stripe_object == "price"}


def _amendment_phase(assessment: ContractAssessment) -> dict:
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    return schedule.params["phases"][1]


def test_spans_count_whole_months_then_days_at_twelve_365ths_of_a_month() -> None:
    assert span_months(date(2025, 2, 15), date(2026, 1, 1), "month_and_day") == 10 + Fraction(17 * 12, 365)
    assert span_months(date(2025, 2, 15), date(2026, 1, 1), "month") == 11
    assert span_months(date(2025, 3, 1), date(2025, 6, 1), "month_and_day") == 3
    assert next_billing_date(date(2025, 1, 31), 3, date(2025, 2, 15)) == date(2025, 4, 30)
    assert next_billing_date(date(2025, 1, 1), 3, date(2025, 4, 1)) == date(2025, 4, 1)


def test_a_mid_month_amendment_is_priced_and_prorated_day_by_day() -> None:
    """Feb 15 to Jan 1 is 10 months and 17 days (E = 3854/365 months), so CPQ's 4-seat line costs
    300 x E / 3 = 1,055.89 (rounded to the cent) and its ProrateMultiplier is E / 3. A quarter is then
    105,589 x 3 / E cents, and Feb 15 to Apr 1 (1 month, 17 days = 569/365 months) is billed once at
    105,589 x 569 / 3854 cents a seat."""
    months = Fraction(3854, 365)
    assessment, line = _amended("2025-02-15", unit_price=1055.89, multiplier=float(months / 3), **MONTH_AND_DAY)
    assert assessment.violations == []
    prices = _prices(assessment)
    per_quarter = Decimal(105589) * 3 * 365 / 3854
    assert prices[line["Id"]]["unit_amount_decimal"] == format_decimal(per_quarter) == "29999.988323819408"
    proration = prices[f"{line['Id']}-proration"]
    assert proration["unit_amount_decimal"] == format_decimal(Decimal(105589) * 569 / 3854) == "15589.035028541775"
    assert "recurring" not in proration and proration["metadata"]["salesforce_proration"] == "true"
    (invoice_item,) = _amendment_phase(assessment)["add_invoice_items"]
    assert invoice_item["quantity"] == 4
    assert invoice_item["period"]["end"] == {"type": "timestamp", "timestamp": midnight_timestamp(date(2025, 4, 1))}


def test_month_precision_counts_the_partial_month_whole() -> None:
    """The same amendment with Month precision, CPQ's price taken over the quote's 10-month term (1,100.00 is
    330.00 a quarter): Feb 15 to Apr 1 counts as 2 whole months."""
    assessment, line = _amended(
        "2025-02-15", unit_price=1100, multiplier=10 / 3, non_anniversary_amendments=True
    )
    assert assessment.violations == []
    prices = _prices(assessment)
    assert prices[line["Id"]]["unit_amount_decimal"] == "33000"
    assert prices[f"{line['Id']}-proration"]["unit_amount_decimal"] == "22000"  # 330 x 2/3
    (invoice_item,) = _amendment_phase(assessment)["add_invoice_items"]
    assert invoice_item["period"]["end"]["timestamp"] == midnight_timestamp(date(2025, 4, 1))


def test_an_anniversary_amendment_prorates_the_same_with_either_precision() -> None:
    for overrides in ({}, MONTH_AND_DAY):
        assessment, line = _amended("2025-02-01", unit_price=1100, multiplier=11 / 3, term=11, **overrides)
        assert assessment.violations == []
        prices = _prices(assessment)
        assert line["Id"] not in prices  # 1,100 over 11 months is the price book's 300 a quarter
        assert prices[f"{line['Id']}-proration"]["unit_amount_decimal"] == "20000"


def test_a_whole_month_multiplier_is_a_mismatch_with_month_and_day() -> None:
    """CPQ set to Month precision while the sync says Month+Day: its multiplier (10/3) is not E/3, a named error."""
    assessment, line = _amended("2025-02-15", unit_price=1000, multiplier=10 / 3, **MONTH_AND_DAY)
    assert [(v.rule, v.sf_id) for v in assessment.violations] == [("prorate_multiplier", line["Id"])]
